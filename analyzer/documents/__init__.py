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

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from lxml import etree

NS = "http://www.ecma-international.org/standards/ecma-323/csta/ed3"
NS_HYPHENLESS = "http://www.ecmainternational.org/standards/ecma-323/csta/ed3"
MEDIA_TYPE = "application/x-as-feature-event+xml"
FORWARDING_TYPES = {"forwardImmediate": "CFA", "forwardBusy": "CFB", "forwardNoAns": "CFNA"}
EVENT_ROOTS = ("DoNotDisturbEvent", "ForwardingEvent")
REQUEST_ROOTS = ("SetDoNotDisturb", "SetForwarding")
BOOLEANS = {"true": True, "false": False}
DTD_REASON = "document has a DTD / entity declarations; not expanded"

# Namespaces whose elements are read as ours; all but NS cost a warn on the root.
_TOLERATED_NS = {
    NS_HYPHENLESS: "namespace is the hyphenless ecmainternational.org variant, not ecma-international.org",
    None: f"root has no namespace (expected {NS})",
}
_OUR_NS = {NS, *_TOLERATED_NS}
_MAX_SCHEMA_REASONS = 3


@dataclass(frozen=True, slots=True)
class _Shape:
    """What one root carries: its boolean child, its target child (forwarding only), its children."""

    flag: str
    target: str | None
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    known: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "known", frozenset(self.required + self.optional))


_DND = ("device", "doNotDisturbOn")
_SHAPES = {
    "DoNotDisturbEvent": _Shape("doNotDisturbOn", None, _DND),
    "SetDoNotDisturb": _Shape("doNotDisturbOn", None, _DND),
    "ForwardingEvent": _Shape(
        "forwardStatus",
        "forwardTo",
        ("device", "forwardingType", "forwardStatus"),
        ("forwardTo", "ringCount"),
    ),
    "SetForwarding": _Shape(
        "activateForward",
        "forwardDN",
        ("device", "forwardingType", "activateForward"),
        ("forwardDN", "ringCount"),
    ),
}

# Scans that run before libxml2 sees anything. Encodings whose markup is not ASCII are decoded first.
_DECLARATION = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.I)
_DECLARATION_TEXT = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.I)
# UTF-7 writes "<" as "+ADw-": markup (a DTD) in it would escape every byte scan, so it is refused.
_UTF7 = re.compile(rb"""^[^>]{0,200}?encoding\s*=\s*["']\s*(?:utf-?7|unicode-1-1-utf-7|csunicode11utf7)""", re.I)
_WIDE_CODECS = (  # BOMs first, and UTF-32 before UTF-16: UTF-32 LE starts like UTF-16 LE
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\xfe\xff", "utf-16"),
    (b"\xff\xfe", "utf-16"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<", "utf-16-be"),
    (b"<\x00", "utf-16-le"),
)
_NARROW = "latin-1"  # for ASCII-compatible bytes: a byte-exact round trip, so text offsets are byte offsets
_DTD_TOKEN = re.compile(r"\"[^\"]*\"|'[^']*'|<!--.*?-->|[\[\]>]", re.S)
_PREDEFINED = r"(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);"  # references XML resolves without a DTD
_LOOSE_REFERENCE = re.compile(rf"<!\[CDATA\[.*?\]\]>|&(?!{_PREDEFINED})", re.S)
_START_TAG = re.compile(r"<[^>\"']*(?:(?:\"[^\"]*\"|'[^']*')[^>\"']*)*>")
_XML_DECLARATION = re.compile(r"<\?xml[\s?]")
_SCHEMA_SUBJECT = re.compile(r"^Element '(?:\{[^}]*\})?([^']+)': ")
_NAMESPACE_IN_MESSAGE = re.compile(r"\{[^}]*\}")
_POSITION_SUFFIX = re.compile(r", line \d+, column \d+.*$")
_RING_COUNT = re.compile(r"[0-9]+")
_XML_SPACE = " \t\r\n"  # what XML calls white space (str.strip would also eat NBSP and friends)
_Element = etree._Element


class DocumentError(ValueError):
    """The body is not a usable XML document (the one error ``parse_document`` raises); one line."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One violation of the XML rules of FKS-NTF-5 / FKS-HS-1: ``severity`` is "warn" or "fail"."""

    severity: str
    reason: str


@dataclass(frozen=True, slots=True)
class FeatureDocument:
    """A parsed feature document; ``problems`` lists what breaks the catalogue's XML rules."""

    root: str
    namespace: str | None
    device: str | None  # "" when empty, the child's name for <device><notKnown/></device>, None when absent
    dnd: bool | None
    forwarding_type: str | None  # the raw (stripped) forwardingType text
    active: bool | None  # forwardStatus (events) or activateForward (requests)
    target: str | None  # forwardTo (events) or forwardDN (requests)
    ring_count: int | None
    problems: tuple[Problem, ...] = ()

    @property
    def kind(self) -> str:
        """``event`` (AS -> phone), ``request`` (phone -> AS) or ``unknown``."""
        if self.root in EVENT_ROOTS:
            return "event"
        return "request" if self.root in REQUEST_ROOTS else "unknown"

    @property
    def feature(self) -> str | None:
        """DND, CFA, CFB or CFNA; None for an unknown root or forwardingType."""
        if self.root in ("DoNotDisturbEvent", "SetDoNotDisturb"):
            return "DND"
        if self.root in ("ForwardingEvent", "SetForwarding"):
            return FORWARDING_TYPES.get(self.forwarding_type or "")
        return None

    @property
    def worst(self) -> str:
        severities = {p.severity for p in self.problems}
        return "fail" if "fail" in severities else "warn" if "warn" in severities else "pass"

    def summary(self) -> str:
        """How a person says it: ``DND on``, ``CFB off``, ``CFNA -> 1002 after 4 rings``."""
        if self.kind == "unknown":
            return f"{self.root} (not a feature document)"
        if self.feature == "DND":
            return f"DND {_on_off(self.dnd)}"
        label = self.feature or f"forwarding {self.forwarding_type or '?'}"
        if not self.active:
            return f"{label} {_on_off(self.active)}"
        rings = ""
        if self.ring_count is not None:
            rings = f" after {self.ring_count} ring{'' if self.ring_count == 1 else 's'}"
        return f"{label} -> {self.target or '?'}{rings}"


def _on_off(state: bool | None) -> str:
    return "?" if state is None else "on" if state else "off"


# ---------------------------------------------------------------- reading XML safely


def _parser() -> etree.XMLParser:
    """A fresh hardened parser (about 1 us; lxml parsers must not be shared between threads)."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _codec(data: bytes) -> str:
    """The Python codec that turns ``data`` into text whose markup is findable (latin-1 for ASCII kin)."""
    for head, codec in _WIDE_CODECS:
        if data.startswith(head):
            return codec
    return _NARROW


def _decode(data: bytes, codec: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise DocumentError(f"bad encoding: not valid {codec.upper()} ({exc.reason})") from None


def _declares(data: bytes, codec: str) -> bool:
    if codec == _NARROW:
        return _DECLARATION.search(data) is not None
    return _DECLARATION_TEXT.search(_decode(data, codec)) is not None


def _skip_prolog_item(text: str, pos: int) -> int | None:
    """End of the comment or processing instruction at ``pos``; None when there is none."""
    for opener, closer in (("<!--", "-->"), ("<?", "?>")):
        if text.startswith(opener, pos):
            end = text.find(closer, pos + len(opener))
            return None if end < 0 else end + len(closer)
    return None


def _doctype_end(text: str, start: int) -> int:
    """Index after the DOCTYPE declaration at ``start``: quotes, comments and the internal subset skipped."""
    in_subset = False
    for token in _DTD_TOKEN.finditer(text, start + len("<!DOCTYPE")):
        mark = token[0]
        if mark == "[":
            in_subset = True
        elif mark == "]":
            in_subset = False
        elif mark == ">" and not in_subset:
            return token.end()
    raise DocumentError("unterminated DOCTYPE declaration (not expanded)")


def _doctype_spans(text: str) -> list[tuple[int, int]]:
    """Where DOCTYPE declarations sit in the prolog (the only place XML allows them)."""
    spans = []
    pos = 1 if text.startswith("\ufeff") else 3 if text.startswith("\xef\xbb\xbf") else 0
    while True:
        while pos < len(text) and text[pos] in _XML_SPACE:
            pos += 1
        if text.startswith("<!DOCTYPE", pos):
            end = _doctype_end(text, pos)
            spans.append((pos, end))
            pos = end
            continue
        after = _skip_prolog_item(text, pos)
        if after is None:
            return spans
        pos = after


def _without_dtd(data: bytes, codec: str) -> bytes | None:
    """``data`` without its DOCTYPE, other entity references made literal text; None if it has none."""
    text = _decode(data, codec)
    spans = _doctype_spans(text)
    if not spans:
        return None  # "<!DOCTYPE" in a comment or CDATA, or misplaced: libxml2 judges it
    kept, last = [], 0
    for start, end in spans:
        kept.append(text[last:start])
        last = end
    body = _LOOSE_REFERENCE.sub(lambda m: m[0] if m[0].startswith("<") else "&amp;", text[last:])
    return ("".join(kept) + body).encode(codec)


def _syntax_reason(exc: etree.XMLSyntaxError) -> str:
    message = _POSITION_SUFFIX.sub("", str(exc).splitlines()[0] if str(exc) else "parse error").strip()
    if "Excessive depth" in message or "Maximum depth" in message:
        return "document is nested too deeply (more than 256 levels)"
    if "Document is empty" in message:
        return "empty document"
    if "encoding" in message.lower() or "not proper UTF" in message:
        return f"bad encoding: {message}"
    where = f" (line {exc.position[0]}, column {exc.position[1]})" if exc.position else ""
    return f"not well-formed XML: {message}{where}"


def parse_xml(data: bytes, *, max_bytes: int) -> tuple[_Element, bool]:
    """Parse untrusted XML bytes without ever expanding an entity or reading a file or the network.

    Returns the root and whether a DTD was found (and cut out, unexpanded). Shared with the provisioning
    reader so both inputs get the same hardening. Raises ``DocumentError`` with a one-line reason.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DocumentError(f"document is {type(data).__name__}, not bytes")
    data = bytes(data)
    if len(data) > max_bytes:
        raise DocumentError(f"document of {len(data)} bytes exceeds the limit of {max_bytes}")
    if not data or data.isspace():
        raise DocumentError("empty document")
    if _UTF7.match(data):
        raise DocumentError("bad encoding: UTF-7 can hide markup from the safety checks; refused")
    codec = _codec(data)
    had_dtd = False
    if _declares(data, codec):
        stripped = _without_dtd(data, codec)
        if stripped is not None:
            data, had_dtd = stripped, True
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise DocumentError(_syntax_reason(exc)) from None
    except (ValueError, etree.LxmlError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DocumentError(f"unreadable XML: {detail}") from None
    if root.getroottree().docinfo.doctype:  # belt and braces: a DTD the scans above could not see
        raise DocumentError("document has a DTD the safety scan could not read; refused")
    return root, had_dtd


# ---------------------------------------------------------------- judging a document


def parse_document(data: bytes, *, max_bytes: int = 1_000_000) -> FeatureDocument:
    """Parse one feature document and check it against the catalogue's XML rules (FKS-NTF-5, FKS-HS-1)."""
    root, had_dtd = parse_xml(data, max_bytes=max_bytes)
    return _judge(root, had_dtd)


def _local(tag: object) -> str:
    """Local name of an element tag ("" for anything that is not an element)."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _namespace(tag: object) -> str | None:
    if not isinstance(tag, str) or not tag.startswith("{"):
        return None
    return tag[1:].partition("}")[0]


def _judge(root: _Element, had_dtd: bool) -> FeatureDocument:
    name, namespace = _local(root.tag), _namespace(root.tag)
    problems = [Problem("fail", DTD_REASON)] if had_dtd else []
    shape = _SHAPES.get(name)
    if shape is None:
        problems.append(Problem("fail", f"root {name} is not an as-feature-event document"))
        return FeatureDocument(name, namespace, None, None, None, None, None, None, tuple(problems))
    problems += _namespace_problems(namespace)
    blamed: set[str] = set()
    children = _children(root, shape, problems, blamed)
    device = _device(children.get("device"))
    state = _boolean(shape.flag, children.get(shape.flag), problems, blamed)
    ftype = target = rings = None
    if shape.target is not None:
        ftype = _forwarding_type(children.get("forwardingType"), problems, blamed)
        target = _target(shape, state, children.get(shape.target), problems, blamed)
        rings = _ring_count(children.get("ringCount"), ftype, problems, blamed)
    problems += _schema_problems(root, shape, blamed)
    dnd, active = (state, None) if shape.target is None else (None, state)
    return FeatureDocument(name, namespace, device, dnd, ftype, active, target, rings, tuple(problems))


def _namespace_problems(namespace: str | None) -> list[Problem]:
    if namespace == NS:
        return []
    if namespace in _TOLERATED_NS:
        return [Problem("warn", _TOLERATED_NS[namespace])]
    return [Problem("fail", f"namespace {namespace} is not the ECMA-323 ed3 namespace {NS}")]


def _children(root: _Element, shape: _Shape, problems: list[Problem], blamed: set[str]) -> dict[str, _Element]:
    """The known children, first occurrence each; duplicates, strays and missing ones become problems."""
    root_ns = _namespace(root.tag)
    found: dict[str, list[_Element]] = {}
    foreign: dict[str, str | None] = {}
    mixed: list[str] = []
    for child in root:
        name = _local(child.tag)
        if name not in shape.known:
            continue
        namespace = _namespace(child.tag)
        if namespace != root_ns and namespace not in _OUR_NS:
            foreign.setdefault(name, namespace)  # an extension in another vocabulary, not ours
            continue
        if namespace != root_ns and name not in mixed:
            mixed.append(name)
        found.setdefault(name, []).append(child)
    if mixed:
        problems.append(Problem("warn", f"children not in the root's namespace: {', '.join(mixed)}"))
    for name, elements in found.items():
        if len(elements) > 1:
            problems.append(Problem("fail", f"<{name}> appears {len(elements)} times"))
            blamed.add(name)
    for name in shape.required:
        if name not in found:
            hint = f" (a <{name}> in namespace {foreign[name]} does not count)" if name in foreign else ""
            problems.append(Problem("fail", f"{_local(root.tag)} has no <{name}>{hint}"))
            blamed.add(_local(root.tag))
    return {name: elements[0] for name, elements in found.items()}


def _value(el: _Element | None) -> str | None:
    return None if el is None else "".join(el.itertext()).strip(_XML_SPACE)


def _device(el: _Element | None) -> str | None:
    if el is None:
        return None
    text = (el.text or "").strip(_XML_SPACE)
    if not text:
        for child in el:
            if isinstance(child.tag, str):
                return _local(child.tag)  # <device><notKnown/></device>
    return text


def _boolean(name: str, el: _Element | None, problems: list[Problem], blamed: set[str]) -> bool | None:
    value = _value(el)
    if value is None:
        return None
    if value in BOOLEANS:
        return BOOLEANS[value]
    problems.append(Problem("fail", f"{name} is {value!r}, not true/false"))
    blamed.add(name)
    return None


def _forwarding_type(el: _Element | None, problems: list[Problem], blamed: set[str]) -> str | None:
    value = _value(el)
    if value is not None and value not in FORWARDING_TYPES:
        allowed = ", ".join(FORWARDING_TYPES)
        problems.append(Problem("fail", f"forwardingType {value!r} is not one of {allowed}"))
        blamed.add("forwardingType")
    return value


def _target(
    shape: _Shape, state: bool | None, el: _Element | None, problems: list[Problem], blamed: set[str]
) -> str | None:
    value = _value(el)
    if state is True and not value:
        missing = "absent" if el is None else "empty"
        problems.append(Problem("fail", f"{shape.flag} is true but {shape.target} is {missing}"))
        blamed.add(shape.target or "")
    return value


def _ring_count(el: _Element | None, ftype: str | None, out: list[Problem], blamed: set[str]) -> int | None:
    value = _value(el)
    if not value:
        return None  # absent or empty: both allowed
    if ftype != "forwardNoAns":
        owner = ftype or "no forwardingType"
        out.append(Problem("fail", f"ringCount {value!r} given with {owner}; only forwardNoAns has one"))
        blamed.add("ringCount")
    if not _RING_COUNT.fullmatch(value):
        out.append(Problem("fail", f"ringCount {value!r} is not an integer"))
        blamed.add("ringCount")
        return None
    return int(value)


@lru_cache(maxsize=1)
def _schema() -> etree.XMLSchema:
    """The packaged XSD, compiled once on first use."""
    data = resources.files("analyzer").joinpath("schemas/as-feature-event.xsd").read_bytes()
    return etree.XMLSchema(etree.fromstring(data, _parser()))


def _normalise(root: _Element, shape: _Shape) -> None:
    """Prepare ``root`` (already read) for the XSD: our children only, in ``NS``, attributes dropped."""
    ours = {_namespace(root.tag), *_OUR_NS}
    for child in list(root):
        if _local(child.tag) in shape.known and _namespace(child.tag) in ours:
            continue
        tail = child.tail
        root.remove(child)  # unknown children (CSTA extensions ...) are ignored; text around them is not
        if tail and tail.strip(_XML_SPACE):
            root.text = (root.text or "") + tail
    for el in root.iter():
        tag = el.tag
        if not isinstance(tag, str):
            continue
        if el.attrib:
            el.attrib.clear()
        namespace = _namespace(tag)
        if namespace != NS and namespace in _OUR_NS:
            el.tag = f"{{{NS}}}{_local(tag)}"


def _schema_problems(root: _Element, shape: _Shape, blamed: set[str]) -> list[Problem]:
    """What the XSD finds about elements the hand checks did not already blame (``root`` is modified)."""
    _normalise(root, shape)
    schema = _schema()
    if schema.validate(root):
        return []
    problems: list[Problem] = []
    for error in schema.error_log:
        subject = _SCHEMA_SUBJECT.match(error.message)
        name = subject[1] if subject else ""
        if name in blamed:
            continue
        blamed.add(name)  # one reason per element: the first error says it best
        text = _NAMESPACE_IN_MESSAGE.sub("", error.message[subject.end() :] if subject else error.message)
        prefix = f"<{name}> " if name else ""
        problems.append(Problem("fail", f"schema: {prefix}{text.strip()}"))
    return problems[:_MAX_SCHEMA_REASONS]


# ---------------------------------------------------------------- building and splitting


def build_document(
    root: str,
    *,
    device: str = "",
    dnd: bool | None = None,
    forwarding_type: str | None = None,
    active: bool | None = None,
    target: str | None = None,
    ring_count: int | None = None,
    namespace: str | None = NS,
    encoding: str = "ISO-8859-1",
) -> bytes:
    """Serialise one document the way BroadWorks writes it: declaration, default namespace, one child each.

    A value left at None is left out (so tests can build incomplete documents); ``target=""`` writes an
    empty ``forwardTo``/``forwardDN``. Values the root does not carry raise ValueError, as does a negative
    ring count.
    """
    shape = _SHAPES.get(root)
    if shape is None:
        raise ValueError(f"unknown root {root!r}; expected one of {', '.join(_SHAPES)}")
    forwarding = shape.target is not None
    carried = _carried(dnd, forwarding_type, active, target, ring_count)
    misplaced = [name for name, belongs in carried.items() if belongs != forwarding]
    if misplaced:
        raise ValueError(f"{root} does not carry {', '.join(misplaced)}")
    if ring_count is not None and ring_count < 0:
        raise ValueError(f"ring_count {ring_count} is negative")
    values: dict[str, str | None] = {"device": device}
    if shape.target is not None:
        values |= {"forwardingType": forwarding_type, shape.flag: _text_of(active), shape.target: target}
        values["ringCount"] = None if ring_count is None else str(ring_count)
    else:
        values[shape.flag] = _text_of(dnd)
    el = etree.Element(_qualified(namespace, root), nsmap={None: namespace} if namespace else None)
    for name, text in values.items():
        if text is not None:
            etree.SubElement(el, _qualified(namespace, name)).text = text
    return etree.tostring(el, xml_declaration=True, encoding=encoding)


def _carried(
    dnd: bool | None, ftype: str | None, active: bool | None, target: str | None, rings: int | None
) -> dict[str, bool]:
    """Each given field -> whether it belongs to forwarding documents."""
    given = {"dnd": (dnd, False), "forwarding_type": (ftype, True), "active": (active, True)}
    given |= {"target": (target, True), "ring_count": (rings, True)}
    return {name: forwarding for name, (value, forwarding) in given.items() if value is not None}


def _qualified(namespace: str | None, name: str) -> str:
    return f"{{{namespace}}}{name}" if namespace else name


def _text_of(state: bool | None) -> str | None:
    return None if state is None else "true" if state else "false"


def split_concatenated(data: bytes) -> list[bytes]:
    """Cut a body into the XML documents written one after another in it (FKS-NTF-4: phones read the first).

    A new document starts at a second XML declaration, or at an element after the first root has closed.
    The pieces joined give ``data`` back; one piece means one document (or nothing this scan can split:
    UTF-16/32 bodies and unterminated markup come back whole, for ``parse_document`` to judge).
    """
    data = bytes(data)
    if _codec(data) != _NARROW:
        return [data]
    bounds = [0, *_document_starts(data.decode(_NARROW)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def _document_starts(text: str) -> list[int]:
    """Offsets where a further document begins (see ``split_concatenated``)."""
    cuts: list[int] = []
    depth, seen, closed = 0, False, False
    pos = text.find("<")
    while pos >= 0:
        if _XML_DECLARATION.match(text, pos):
            if seen:
                cuts.append(pos)
                depth, closed = 0, False
            seen = True
            end = _after(text, "?>", pos)
        elif text.startswith(("<?", "<!--", "<![CDATA["), pos):
            end = _after(text, "?>" if text[pos + 1] == "?" else "-->" if text[pos + 2] == "-" else "]]>", pos)
        elif text.startswith("<!DOCTYPE", pos):
            end = _after_doctype(text, pos)
        elif text.startswith("</", pos):
            closed = closed or depth == 1
            depth = max(depth - 1, 0)
            end = _after(text, ">", pos)
        else:
            tag = _START_TAG.match(text, pos)
            if tag is None:
                break
            if closed and depth == 0:
                cuts.append(pos)
                closed = False
            seen = True
            self_closing = text[tag.end() - 2] == "/"
            closed = closed or (self_closing and depth == 0)
            depth += 0 if self_closing else 1
            end = tag.end()
        if end < 0:
            break
        pos = text.find("<", end)
    return cuts


def _after(text: str, closer: str, pos: int) -> int:
    end = text.find(closer, pos + 2)
    return end if end < 0 else end + len(closer)


def _after_doctype(text: str, pos: int) -> int:
    try:
        return _doctype_end(text, pos)
    except DocumentError:
        return -1
