@deviations
Feature: Deviations - each known server behaviour is caught by the rule the catalogue names
  The AS emulator reproduces how other servers and faulty deployments behave. Each profile must make the
  named rule report its fail or warn: a suite that never sees a failure proves nothing. These scenarios
  pass because the deviation is caught.

  Background:
    Given handset 1001 with feature key synchronization
    And handset 1002 with feature key synchronization

  Scenario Outline: The "<profile>" profile is caught by <rule> (<verdict>)
    Given the AS emulator plays the "<profile>" profile
    When handset 1001 subscribes
    And handset 1001 switches DND on
    And handset 1001 unsubscribes
    And handset 1002 fetches the state once
    And T_notify passes
    Then <rule> is <verdict>

    @FKS-RSP-1 @FKS-NTF-3
    Examples: FreeSWITCH
      | profile    | rule      | verdict |
      | freeswitch | FKS-RSP-1 | warn    |
      | freeswitch | FKS-NTF-3 | fail    |

    @FKS-NTF-2
    Examples: Kamailio
      | profile  | rule      | verdict |
      | kamailio | FKS-NTF-2 | fail    |

    @FKS-TRM-1
    Examples: OpenSIPS
      | profile  | rule      | verdict |
      | opensips | FKS-TRM-1 | fail    |

    @FKS-NTF-5 @FKS-NTF-4 @FKS-NTF-1 @FKS-RSP-1
    Examples: single deviations
      | profile           | rule      | verdict |
      | hyphenless        | FKS-NTF-5 | warn    |
      | no-namespace      | FKS-NTF-5 | warn    |
      | concatenated      | FKS-NTF-4 | fail    |
      | no-initial-notify | FKS-NTF-1 | fail    |
      | bad-event         | FKS-RSP-1 | fail    |

  Scenario Outline: The "<profile>" profile is conforming
    Given the AS emulator plays the "<profile>" profile
    When handset 1001 subscribes
    And handset 1001 switches DND on
    And handset 1001 unsubscribes
    And handset 1002 fetches the state once
    And T_notify passes
    Then no rule fails

    Examples:
      | profile     |
      | broadworks  |
      | per-feature |
