@portal
Feature: Portal change - a change made on the web portal reaches the handset
  A change made in the BroadWorks web portal (or through Xsi-Actions) arrives at the handset as an
  unsolicited NOTIFY in its active subscription, carrying the changed feature's document.

  Background:
    Given handset 1001 with feature key synchronization
    And handset 1001 subscribed

  @FKS-AS-1
  Scenario Outline: The portal switches <feature> <state> and the handset follows
    When the portal switches <feature> <state> for user 1001 to "<target>" after "<rings>" rings
    Then FKS-AS-1 is pass
    And FKS-NTF-6 is pass
    And handset 1001 shows:
      | feature   | state   | target   | rings   |
      | <feature> | <state> | <target> | <rings> |

    Examples:
      | feature | state | target | rings |
      | DND     | on    |        |       |
      | CFA     | on    | 1009   |       |
      | CFB     | on    | 1003   |       |
      | CFNA    | on    | 1002   | 3     |
      | CFNA    | off   |        |       |

  @FKS-AS-1
  Scenario: Every subscription of the user learns of the portal change
    Given handset 1001b is a second handset of user 1001
    And handset 1001b subscribed
    When the portal switches DND on for user 1001 to "" after "" rings
    Then FKS-AS-1 is pass
    And handset 1001 shows:
      | feature | state |
      | DND     | on    |
    And handset 1001b shows:
      | feature | state |
      | DND     | on    |
