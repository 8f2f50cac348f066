@bad-input
Feature: Bad input - hostile documents, garbage and unusable files get a clear answer
  Bad input gets a verdict or a one-line error, never a traceback, a hang or lost results. XML is read with
  entities, DTDs and network access off.

  Background:
    Given handset 1001 with feature key synchronization

  @FKS-HS-1 @FKS-HS-2
  Scenario Outline: A hostile change request (<kind>) is refused and never expanded
    Given handset 1001 subscribed
    When handset 1001 sends the change request "<kind>"
    Then FKS-HS-1 is fail
    And FKS-HS-2 is pass with "4"
    And handset 1001 shows:
      | feature | state |
      | DND     | off   |

    Examples:
      | kind             |
      | billion laughs   |
      | external entity  |
      | not xml          |
      | bad boolean      |

  @FKS-SIP-1
  Scenario: Garbage datagrams do not stop the AS
    When garbage reaches the AS
    And handset 1001 subscribes
    Then FKS-RSP-1 is pass
    And FKS-NTF-2 is pass
    And FKS-SIP-1 is pass

  Scenario Outline: An unusable file is refused in one line with exit status 2
    Given a file holding <content>
    When fks audit reads it
    Then it exits with status 2 and one line on stderr

    Examples:
      | content             |
      | nothing             |
      | random bytes        |
      | a truncated header  |
      | text                |
