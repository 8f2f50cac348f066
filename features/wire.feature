@wire
Feature: Wire - the initial state survives what IP does to a large NOTIFY on its way
  BroadWorks sends the initial state as a multipart NOTIFY of 1.2-2 KB over UDP (RFC 3261 section 18.1.1 asks
  for TCP above 1300 bytes; deployments do it anyway), so it travels in IP fragments. Routers and firewalls
  that reorder, duplicate or drop fragments, a corrupted checksum, or a TTL too small for the path must not
  leave a handset without its state: the NOTIFY transaction's retransmissions (Timer E) carry it, and where
  nothing can get through the kit says so instead of hanging. Our AS's datagrams leave as packets crafted with
  scapy (needs root or CAP_NET_RAW; without it these scenarios skip, saying so). An MTU is the largest IP
  packet, header included: add the one of your network to an Examples table.

  Background:
    Given handset 1001 with feature key synchronization
    And user 1001 has this feature state:
      | feature | state | target | rings |
      | DND     | on    |        |       |
      | CFNA    | on    | 1002   | 4     |
    And T_notify is 2 seconds

  @FKS-NTF-1 @FKS-NTF-2 @FKS-NTF-6
  Scenario Outline: The initial NOTIFY arrives in IP fragments of <mtu> bytes, <order>
    Given the initial NOTIFY leaves in IP fragments of <mtu> bytes, <order>
    When handset 1001 subscribes
    Then FKS-NTF-1 is pass
    And FKS-NTF-2 is pass
    And FKS-NTF-6 is pass
    And no rule fails
    And the initial NOTIFY crossed the wire in IP fragments of at most <mtu> bytes
    And the NOTIFY answering handset 1001's last SUBSCRIBE reports:
      | feature | state | target | rings |
      | DND     | on    |        |       |
      | CFNA    | on    | 1002   | 4     |

    Examples:
      | mtu  | order          |
      | 576  | in order       |
      | 576  | reversed       |
      | 576  | one duplicated |
      | 1280 | in order       |
      | 1280 | reversed       |
      | 1280 | one duplicated |

  @FKS-NTF-1 @FKS-NTF-6
  Scenario Outline: Fragment <lost> of the first copy is lost at MTU <mtu>: the retransmission carries the state
    Given the initial NOTIFY leaves in IP fragments of <mtu> bytes, in order
    And fragment <lost> of the initial NOTIFY is lost in the first copy
    When handset 1001 subscribes
    Then FKS-NTF-1 is pass
    And FKS-NTF-6 is pass
    And no rule fails
    And the first copy of the initial NOTIFY left incomplete and a retransmission left whole
    And the NOTIFY answering handset 1001's last SUBSCRIBE reports:
      | feature | state | target | rings |
      | DND     | on    |        |       |

    Examples:
      | mtu  | lost |
      | 576  | 1    |
      | 576  | 3    |
      | 1280 | 2    |

  @FKS-NTF-1 @FKS-NTF-6
  Scenario Outline: Every copy loses fragment <lost> at MTU <mtu> (a router that drops fragments): reported
    Given the initial NOTIFY leaves in IP fragments of <mtu> bytes, in order
    And fragment <lost> of the initial NOTIFY is lost in every copy
    When handset 1001 subscribes
    And the window for the NOTIFY passes
    Then FKS-NTF-1 is fail with "no NOTIFY"
    And every copy of the initial NOTIFY left incomplete
    And on what the AS sent, FKS-NTF-6 is fail with "no final response to the NOTIFY"

    Examples:
      | mtu  | lost |
      | 576  | 2    |
      | 1280 | 2    |

  @FKS-NTF-1 @FKS-NTF-6
  Scenario Outline: A NOTIFY with a wrong UDP checksum (MTU <mtu>) is dropped and the retransmission carries it
    Given the initial NOTIFY leaves in IP fragments of <mtu> bytes, in order
    And the initial NOTIFY leaves with a wrong UDP checksum in the first copy
    When handset 1001 subscribes
    Then FKS-NTF-1 is pass
    And FKS-NTF-6 is pass
    And the NOTIFY answering handset 1001's last SUBSCRIBE reports:
      | feature | state | target | rings |
      | DND     | on    |        |       |

    Examples:
      | mtu  |
      | 1500 |
      | 576  |

  @FKS-NTF-1 @FKS-NTF-6
  Scenario Outline: TTL <ttl> across <hops> routers: the NOTIFY <fate>, and the kit says so
    Given the initial NOTIFY leaves with TTL <ttl> on a path of <hops> routers
    When handset 1001 subscribes
    And the window for the NOTIFY passes
    Then FKS-NTF-1 is <ntf1>
    And on what the AS sent, FKS-NTF-6 is <ntf6>

    Examples:
      | ttl | hops | fate             | ntf1 | ntf6 |
      | 1   | 0    | arrives          | pass | pass |
      | 2   | 1    | arrives          | pass | pass |
      | 1   | 1    | never arrives    | fail | fail |
