@notify
Feature: Initial state - the NOTIFY after the grant reports DND and every forwarding
  Right after the grant (and after every refresh) BroadWorks sends the current state of Do Not Disturb,
  Call Forwarding Always (forwardImmediate), Busy (forwardBusy) and No Answer (forwardNoAns) in the
  subscription's dialog, as one multipart/mixed NOTIFY or one NOTIFY per feature. The handset shows it.

  Background:
    Given handset 1001 with feature key synchronization
    And user 1001 has this feature state:
      | feature | state | target | rings |
      | DND     | on    |        |       |
      | CFA     | off   |        |       |
      | CFB     | on    | 1003   |       |
      | CFNA    | on    | 1002   | 4     |

  @FKS-NTF-1 @FKS-NTF-2 @FKS-NTF-3 @FKS-NTF-4 @FKS-NTF-5 @FKS-NTF-6 @FKS-NTF-7
  Scenario: One multipart NOTIFY carries the four features and the handset shows them
    When handset 1001 subscribes
    Then the AS sent the initial state in one multipart NOTIFY
    And FKS-NTF-1 is pass
    And FKS-NTF-2 is pass with "CFNA -> 1002 after 4 rings"
    And FKS-NTF-3 is pass
    And FKS-NTF-4 is pass with "multipart"
    And FKS-NTF-5 is pass
    And FKS-NTF-6 is pass
    And FKS-NTF-7 is pass
    And handset 1001 shows:
      | feature | state | target | rings |
      | DND     | on    |        |       |
      | CFA     | off   |        |       |
      | CFB     | on    | 1003   |       |
      | CFNA    | on    | 1002   | 4     |

  @FKS-NTF-1 @FKS-NTF-2 @FKS-NTF-4
  Scenario: One NOTIFY per feature is just as good
    Given the AS emulator plays the "per-feature" profile
    When handset 1001 subscribes
    Then FKS-NTF-1 is pass
    And FKS-NTF-2 is pass
    And FKS-NTF-4 is pass
    And handset 1001 shows:
      | feature | state | target | rings |
      | CFNA    | on    | 1002   | 4     |
