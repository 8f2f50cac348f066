@provisioning
Feature: Provisioning - feature key synchronization is switched per handset, and off by default
  SipAccount.<id>.FeatureKeySyncActive enables the feature per handset account: 0 (the default) or absent
  means the account never subscribes, 1 means it subscribes after registering. N610 and N670 do not support
  the feature while internal telephony is enabled; N870 and N870E are not affected.

  @FKS-PRV-1 @FKS-PRV-2
  Scenario: Only the enabled handset subscribes; absent and 0 are off
    Given a N870 base provisioned with:
      | account | user | FeatureKeySyncActive |
      | 00001   | 1001 | 1                    |
      | 00002   | 1002 | 0                    |
      | 00003   | 1003 | absent               |
    When the base starts
    Then FKS-PRV-1 is pass
    And FKS-PRV-2 is pass
    And FKS-PRV-4 is pass
    And handset 1001 subscribed to the AS
    And handset 1002 did not subscribe
    And handset 1003 did not subscribe

  @FKS-PRV-3
  Scenario Outline: On <model> with internal telephony <internal> the feature is <effect>
    Given a <model> base provisioned with:
      | account | user | FeatureKeySyncActive |
      | 00001   | 1001 | 1                    |
    And internal telephony is <internal>
    When the base starts
    Then FKS-PRV-3 is <verdict>
    And handset 1001 <subscribes>

    Examples:
      | model | internal | effect      | verdict        | subscribes            |
      | N610  | on       | unsupported | warn           | did not subscribe     |
      | N670  | on       | unsupported | warn           | did not subscribe     |
      | N670  | off      | supported   | not_applicable | subscribed to the AS  |
      | N870  | on       | supported   | not_applicable | subscribed to the AS  |
      | N870E | on       | supported   | not_applicable | subscribed to the AS  |

  @FKS-PRV-4
  Scenario Outline: An invalid value "<value>" is reported
    Given a N870 base provisioned with:
      | account | user | FeatureKeySyncActive |
      | 00001   | 1001 | <value>              |
    When the base starts
    Then FKS-PRV-4 is fail
    And handset 1001 did not subscribe

    Examples:
      | value |
      | yes   |
      | 2     |
      | true  |
