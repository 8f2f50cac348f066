"""The four XML documents of ``as-feature-event``: parse from bytes, judge (FKS-NTF-5, FKS-HS-1), build.

``DoNotDisturbEvent`` and ``ForwardingEvent`` travel AS -> phone in NOTIFY bodies; ``SetDoNotDisturb`` and
``SetForwarding`` travel phone -> AS in SUBSCRIBE bodies (changes made in the handset menu). Whatever
breaks the catalogue's XML rules comes back as a ``Problem`` with a one-line reason; only input that is not
a usable XML document at all raises ``DocumentError``. Sans-IO: bytes in, values out; the packaged XSD is
the only file ever read.

Decisions a report reader may need:

- ``device`` is never judged beyond presence. Its value is the stripped text, ``""`` when present but empty,
  and the local name of its first child element when it holds one instead of text
  (``<device><notKnown/></device>`` -> ``"notKnown"``), so a report can still show what the server sent.
- A DTD or entity declaration is never given to libxml2. The DOCTYPE is cut out of the prolog, every entity
  reference that is not one of XML's five predefined ones is kept as literal text (``&x;`` reads ``"&x;"``),
  and the rest is parsed and judged like any document, with a ``fail`` Problem naming the DTD. Nothing is
  ever expanded or fetched, and the report still tells which feature the document was about.
  ``DocumentError`` is raised only when that is impossible: an unterminated DOCTYPE, or an encoding in which
  markup can hide from the byte scan (UTF-7 is refused outright).
- Element order is free, unknown children and attributes are ignored, and children in a foreign namespace
  count as extensions. The namespace rule: ``NS`` passes, the hyphenless variant or none is a ``warn``,
  anything else a ``fail``.
- The hand checks give the readable reasons. The XSD (``schemas/as-feature-event.xsd``) then validates a
  normalised tree (tolerated namespaces rewritten to ``NS``) and adds only what the hand checks cannot see,
  such as element content inside a value or text directly under the root, never a second reason for an
  element already blamed.

Limits: ``max_bytes`` (default 1 MB) and libxml2's own depth limit (256 levels, ``huge_tree=False``).
"""

from analyzer.documents.build import build_document, split_concatenated
from analyzer.documents.judge import parse_document
from analyzer.documents.model import (
    DTD_REASON,
    EVENT_ROOTS,
    REQUEST_ROOTS,
    DocumentError,
    FeatureDocument,
)
from analyzer.documents.safexml import parse_xml
from analyzer.verdicts import Problem
from analyzer.vocab import FORWARDING_TYPES, MEDIA_TYPE, NS, NS_HYPHENLESS

__all__ = [
    "DTD_REASON",
    "EVENT_ROOTS",
    "FORWARDING_TYPES",
    "MEDIA_TYPE",
    "NS",
    "NS_HYPHENLESS",
    "REQUEST_ROOTS",
    "DocumentError",
    "FeatureDocument",
    "Problem",
    "build_document",
    "parse_document",
    "parse_xml",
    "split_concatenated",
]
