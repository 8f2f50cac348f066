@fac
Feature: Feature access codes - dialling a code changes the feature and the handset is told
  A user who dials a feature access code from the handset (default table *78/*79 DND on/off, *72/*73 CFA,
  *90/*91 CFB, *92/*93 CFNA) changes the feature on the AS; a NOTIFY with the new state follows.

  Background:
    Given handset 1001 with feature key synchronization
    And the AS challenges with digest MD5
    And handset 1001 subscribed

  @FKS-AS-2
  Scenario Outline: Dialling <code> switches <feature> <state>
    When handset 1001 dials <code>
    Then FKS-AS-2 is pass
    And handset 1001 shows:
      | feature   | state   | target   |
      | <feature> | <state> | <target> |

    Examples:
      | code     | feature | state | target |
      | *78      | DND     | on    |        |
      | *721009  | CFA     | on    | 1009   |
      | *901003  | CFB     | on    | 1003   |
      | *921002  | CFNA    | on    | 1002   |

  @FKS-AS-2
  Scenario: A code that turns a feature off
    Given user 1001 has this feature state:
      | feature | state | target |
      | DND     | on    |        |
    When handset 1001 dials *79
    Then FKS-AS-2 is pass
    And handset 1001 shows:
      | feature | state |
      | DND     | off   |

  @FKS-AS-2
  Scenario: No feature access code dialled, nothing to judge
    Then FKS-AS-2 is not_applicable
