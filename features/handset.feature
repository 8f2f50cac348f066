@handset
Feature: Handset change - a change made in the handset menu reaches the AS and is confirmed
  The base sends a change made in the handset menu as a SUBSCRIBE in the existing dialog carrying a
  SetDoNotDisturb or SetForwarding document. The AS answers 2xx and confirms with a NOTIFY reporting what it
  actually applied, to every subscription of that user. The AS has the last word: it may refuse or alter.

  Background:
    Given handset 1001 with feature key synchronization
    And handset 1001 subscribed

  @FKS-HS-1 @FKS-HS-2 @FKS-HS-3
  Scenario Outline: The handset switches DND <state>
    When handset 1001 switches DND <state>
    Then FKS-HS-1 is pass
    And FKS-HS-2 is pass
    And FKS-HS-3 is pass
    And handset 1001 shows:
      | feature | state   |
      | DND     | <state> |

    Examples:
      | state |
      | on    |
      | off   |

  @FKS-HS-1 @FKS-HS-2 @FKS-HS-3
  Scenario Outline: The handset forwards <feature> to <target> after <rings> rings
    When handset 1001 switches <feature> on to <target> after <rings> rings
    Then FKS-HS-1 is pass
    And FKS-HS-2 is pass
    And FKS-HS-3 is pass
    And handset 1001 shows:
      | feature   | state | target   | rings   |
      | <feature> | on    | <target> | <rings> |

    Examples:
      | feature | target | rings |
      | CFA     | 1009   | 0     |
      | CFB     | 1003   | 0     |
      | CFNA    | 1002   | 4     |
      | CFNA    | 1002   | 6     |

  @FKS-HS-1 @FKS-HS-3
  Scenario: The handset clears a forwarding
    When handset 1001 switches CFNA on to 1002 after 4 rings
    And handset 1001 switches CFNA off
    Then FKS-HS-1 is pass
    And FKS-HS-3 is pass
    And handset 1001 shows:
      | feature | state |
      | CFNA    | off   |

  Rule: The AS has the last word
    A valid change refused with a 4xx is a warn when a NOTIFY then reports the unchanged state within T_notify,
    a fail otherwise (catalogue 1.1): the refusal is judged once T_notify has passed.

    @FKS-HS-2
    Scenario: The AS refuses the change
      Given the AS refuses handset changes with 403
      When handset 1001 switches DND on
      And T_notify passes
      Then FKS-HS-2 is fail with "403"
      And handset 1001 shows:
        | feature | state |
        | DND     | off   |

    @FKS-HS-3
    Scenario: The AS applies another target than the handset asked for
      Given the AS forwards to 1999 whatever the handset asks
      When handset 1001 switches CFA on to 1009 after 0 rings
      Then FKS-HS-3 is warn with "1999"
      And handset 1001 shows:
        | feature | state | target |
        | CFA     | on    | 1999   |

  Rule: Every subscription of the user is told

    @FKS-HS-4
    Scenario: Two handsets of one user both receive the confirmation
      Given handset 1001b is a second handset of user 1001
      And handset 1001b subscribed
      When handset 1001 switches DND on
      Then FKS-HS-4 is pass
      And handset 1001b shows:
        | feature | state |
        | DND     | on    |

    @FKS-HS-4
    Scenario: A single subscription has no one else to tell
      When handset 1001 switches DND on
      Then the record holds one subscription of user 1001
      And FKS-HS-4 is not_applicable
