@robustness
Feature: Robustness - hostile input, damaged captures, lossy networks and floods get a clear answer
  The analyzer reads captures from the field and the peers face real devices and networks. Hostile XML gets
  a fail verdict in bounded time and memory without anything being expanded or fetched; a damaged capture
  gets verdicts for what is readable and its damage listed; flows survive loss by retransmission without a
  false fail; the AS emulator keeps serving through garbage and floods, with bounded state.

  @FKS-NTF-5
  Scenario Outline: A NOTIFY carrying <kind> fails FKS-NTF-5, nothing expanded or fetched
    Given a capture whose initial NOTIFY carries "<kind>"
    When fks audit reads it within bounded memory
    Then the audit exits with status 1
    And the audit gives FKS-NTF-5 fail
    And nothing was read from disk or network

    Examples:
      | kind                 |
      | billion laughs       |
      | external file entity |
      | external http entity |
      | a DTD                |
      | 10000-deep nesting   |
      | invalid UTF-8        |
      | UTF-7                |

  @FKS-SIP-1
  Scenario: A 10 MB NOTIFY is refused as a SIP message, in bounded memory
    Given a capture whose initial NOTIFY carries "a 10 MB body"
    When fks audit reads it within bounded memory
    Then the audit exits with status 1
    And the audit gives FKS-SIP-1 fail

  Scenario Outline: A capture with <kind> still gets verdicts for what is readable
    Given a damaged capture: "<kind>"
    When fks audit reads it within bounded memory
    Then the audit exits with status <status>
    And the audit finds 1 subscription in <packets> packets

    Examples:
      | kind                                          | status | packets |
      | a truncated file                              | 0      | 5       |
      | random bytes on port 5060                     | 0      | 56      |
      | garbage between the messages of a TCP stream  | 1      | 9       |

  Scenario: A truncated capture lists its damage
    Given a damaged capture: "a truncated file"
    When fks audit reads it within bounded memory
    Then the damage is listed: "cut short"
    And no rule fails in the readable part

  Scenario Outline: <kind> is refused in one line with exit status 2
    Given a damaged capture: "<kind>"
    When fks audit reads it
    Then it exits with status 2 and one line on stderr

    Examples:
      | kind          |
      | zero bytes    |
      | not a capture |

  Scenario: Three feature-sync messages among a million packets
    Given a capture of 1000000 packets of which 3 are feature sync
    When fks audit reads it within bounded memory
    Then the audit exits with status 0
    And the audit finds 1 subscription in 1000000 packets

  @FKS-RSP-1 @FKS-NTF-1 @FKS-HS-3 @FKS-TRM-1
  Scenario Outline: Every flow completes through <loss>% loss, duplicates, reordering and <jitter> ms jitter
    Given handset 1001 with feature key synchronization
    And the network loses <loss>% of the datagrams, duplicates and reorders, with <jitter> ms jitter
    When handset 1001 subscribes
    And handset 1001 switches DND on
    And handset 1001 switches CFNA on to 1002 after 4 rings
    And handset 1001 unsubscribes
    Then no rule fails
    And FKS-RSP-1 is pass
    And FKS-NTF-1 is pass
    And FKS-HS-3 is pass
    And FKS-TRM-1 is pass

    Examples:
      | loss | jitter |
      | 20   | 20     |
      | 40   | 20     |
      | 20   | 200    |

  @FKS-RSP-1
  Scenario: A flood of SUBSCRIBEs from unknown users leaves no state, and the AS keeps serving
    Given handset 1001 with feature key synchronization
    And the AS challenges with digest MD5
    When 5000 unknown users flood the AS with SUBSCRIBEs
    And handset 1001 subscribes
    Then the AS keeps no state for them
    And FKS-RSP-1 is pass
    And FKS-NTF-2 is pass
