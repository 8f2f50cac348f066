@subscription
Feature: Subscription - the base subscribes per handset and the AS grants it
  A Gigaset base subscribes to the as-feature-event package for every handset account with feature key
  synchronization enabled, to the handset's own identity, accepting application/x-as-feature-event+xml and
  without a body. BroadWorks challenges the SUBSCRIBE like any request and grants it with 200 OK and an
  Expires no larger than requested.

  Background:
    Given handset 1001 with feature key synchronization

  @FKS-SUB-1 @FKS-SUB-2 @FKS-SUB-3 @FKS-SUB-4 @FKS-RSP-1 @FKS-RSP-2
  Scenario: The handset subscribes and the AS grants with 200 OK
    When handset 1001 subscribes
    Then FKS-SUB-1 is pass
    And FKS-SUB-2 is pass
    And FKS-SUB-3 is pass
    And FKS-SUB-4 is pass
    And FKS-RSP-1 is pass with "200"
    And FKS-RSP-2 is pass

  @FKS-RSP-1
  Scenario Outline: A digest challenge (<algorithms>) is answered and the authenticated retry granted
    Given the AS challenges with digest <algorithms>
    When handset 1001 subscribes
    Then FKS-RSP-1 is pass with "challenge"
    And no rule fails
    And the digest algorithm used is <used>

    Examples:
      | algorithms  | used    |
      | MD5         | MD5     |
      | SHA-256     | SHA-256 |
      | SHA-256,MD5 | SHA-256 |

  @FKS-RSP-2
  Scenario: The AS grants less than the handset asked for
    Given the AS grants at most 600 seconds
    When handset 1001 subscribes
    Then FKS-RSP-2 is pass with "600"

  @FKS-SIP-1
  Scenario Outline: The whole exchange is clean SIP over <transport>
    Given the transport is <transport>
    When handset 1001 subscribes
    And handset 1001 switches DND on
    And handset 1001 unsubscribes
    Then FKS-SIP-1 is pass
    And no rule fails

    Examples:
      | transport |
      | udp       |
      | tcp       |
      | tls       |

  @FKS-SUB-5
  Rule: A subscription is refreshed before its expiry, or ended

    @FKS-SUB-5
    Scenario: A subscription ended before its expiry needs no refresh
      When handset 1001 subscribes
      And handset 1001 unsubscribes
      Then FKS-SUB-5 is pass

    @FKS-SUB-5
    Scenario: A run that ends long before the expiry cannot judge the refresh
      When handset 1001 subscribes
      Then FKS-SUB-5 is inconclusive
