@audit
Feature: Offline audit - a recorded capture is judged against every rule
  fks audit reads a capture taken at a site (or recorded by the kit), rebuilds the subscription dialogs and
  judges them. Every reference capture of captures/ carries the verdicts the catalogue expects of it.

  Scenario Outline: The reference capture <capture> gets its expected verdicts
    Given the reference capture "<capture>"
    When it is audited
    Then every rule gets the verdict its expected.json names
    And every fail and warn names its frames

    Examples: crafted
      | capture                          |
      | bad_event_489                    |
      | capture_ends_early               |
      | challenge_abandoned              |
      | conforming_broadworks            |
      | conforming_tcp                   |
      | fac_without_notify               |
      | freeswitch_like                  |
      | grant_deviations                 |
      | handset_change_202               |
      | handset_change_capture_ends      |
      | handset_change_faults            |
      | handset_change_out_of_dialog     |
      | handset_change_refused_notified  |
      | handset_change_unconfirmed       |
      | hygiene_faults                   |
      | hyphenless_namespace             |
      | joined_mid_dialog                |
      | kamailio_like_empty_notify       |
      | lapsed_subscription              |
      | malformed_bodies                 |
      | n670_internal_telephony_silent   |
      | n670_internal_telephony_unused   |
      | n670_subscribes_anyway           |
      | no_final_response                |
      | no_initial_notify                |
      | noise_only                       |
      | notify_after_termination         |
      | notify_capture_ends              |
      | notify_dialog_faults             |
      | notify_unanswered                |
      | notify_without_expires           |
      | provisioning_faults              |
      | refresh_then_lapse               |
      | subscribe_window_open            |
      | timers_from_first_copy           |
      | two_handsets_both_notified       |
      | two_handsets_one_notified        |
      | unsubscribe_capture_ends         |
      | unsubscribe_without_final_notify |

    Examples: recorded live
      | capture                      |
      | recorded_bad-event           |
      | recorded_broadworks          |
      | recorded_concatenated        |
      | recorded_freeswitch          |
      | recorded_hyphenless          |
      | recorded_kamailio            |
      | recorded_no-initial-notify   |
      | recorded_no-namespace        |
      | recorded_opensips            |
      | recorded_per-feature         |

  @FKS-NTF-2
  Scenario: Kamailio's initial NOTIFY without a body is caught at its frame
    Given the shared capture "kamailio-6.0.7_presence_dfks_loopback_children1.pcapng"
    And SIP is decoded on "udp.port==5072,sip"
    When it is audited
    Then FKS-NTF-2 is fail at frame 3

  @FKS-NTF-2
  Scenario: SIP on a port tshark gives to another protocol is found without decode-as
    Given the shared capture "kamailio-6.0.7_presence_dfks_loopback_children1.pcapng"
    When it is audited
    Then FKS-NTF-2 is fail at frame 3

  @FKS-RSP-1 @FKS-NTF-2
  Scenario: OpenSIPS conforms
    Given the shared capture "opensips-3.6.8_presence_dfks_loopback.pcapng"
    When it is audited
    Then the audit finds 1 subscription
    And no rule fails in the audit
    And the audit gives FKS-RSP-1 pass
    And the audit gives FKS-NTF-2 pass
