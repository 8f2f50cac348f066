@termination
Feature: Refresh and termination - the state is sent again on refresh, and a subscription ends cleanly
  A body-less SUBSCRIBE before expiry refreshes the subscription and brings the full state again. Expires: 0
  ends it: the AS grants and sends a final NOTIFY with Subscription-State terminated, after which no active
  NOTIFY follows. An AS also ends a subscription that expired unrefreshed.

  Background:
    Given handset 1001 with feature key synchronization
    And handset 1001 subscribed

  @FKS-NTF-1 @FKS-NTF-2 @FKS-SUB-5
  Scenario: A refresh brings the full state again
    Given user 1001 has this feature state:
      | feature | state | target | rings |
      | CFNA    | on    | 1002   | 4     |
    When handset 1001 refreshes its subscription
    Then FKS-NTF-1 is pass
    And FKS-NTF-2 is pass
    # catalogue 1.1: "a subscription still active at the end of the capture is inconclusive, whatever earlier
    # refreshes passed"
    And FKS-SUB-5 is inconclusive
    And the NOTIFY answering handset 1001's last SUBSCRIBE reports:
      | feature | state | target | rings |
      | DND     | off   |        |       |
      | CFA     | off   |        |       |
      | CFB     | off   |        |       |
      | CFNA    | on    | 1002   | 4     |

  @FKS-TRM-1 @FKS-TRM-2
  Scenario: Unsubscribing ends the subscription with a terminated NOTIFY
    When handset 1001 unsubscribes
    Then FKS-TRM-1 is pass
    And FKS-TRM-2 is pass
    And handset 1001 is told the subscription is terminated

  @FKS-TRM-1
  Scenario: A one-off fetch (Expires 0 outside a dialog) gets the state and a terminated NOTIFY
    Given handset 1002 with feature key synchronization
    And user 1002 has this feature state:
      | feature | state | target |
      | CFA     | on    | 1009   |
    When handset 1002 fetches the state once
    Then FKS-TRM-1 is pass
    And the NOTIFY answering handset 1002's last SUBSCRIBE reports:
      | feature | state | target |
      | DND     | off   |        |
      | CFA     | on    | 1009   |

  @FKS-TRM-2
  Scenario: The AS ends a subscription that expired unrefreshed
    When the subscription of handset 1001 expires
    Then FKS-TRM-2 is pass
    And handset 1001 is told the subscription is terminated
