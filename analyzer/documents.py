"""The four XML documents of ``as-feature-event``, parsed from bytes with a hardened lxml parser.

``DoNotDisturbEvent`` and ``ForwardingEvent`` travel AS -> phone in NOTIFY bodies; ``SetDoNotDisturb`` and
``SetForwarding`` travel phone -> AS in SUBSCRIBE bodies (handset-menu change requests). The rules of
FKS-NTF-5 and FKS-HS-1 are checked here and returned as ``Problem``s, so a report can say exactly what is
wrong; only input that is not a usable XML document raises ``DocumentError``.

Safety: a body with a DTD or entity declarations is refused before any parsing (never expanded: no
"billion laughs", no external entities); the parser itself has entities, DTD loading and network off,
and libxml2's default depth and size limits on (``huge_tree=False``).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from lxml import etree

NS = "http://www.ecma-international.org/standards/ecma-323/csta/ed3"
NS_HYPHENLESS = "http://www.ecmainternational.org/standards/ecma-323/csta/ed3"
MEDIA_TYPE = "application/x-as-feature-event+xml"
FORWARDING_TYPES = {"forwardImmediate": "CFA", "forwardBusy": "CFB", "forwardNoAns": "CFNA"}
EVENT_ROOTS = ("DoNotDisturbEvent", "ForwardingEvent")
REQUEST_ROOTS = ("SetDoNotDisturb", "SetForwarding")

# root -> (the boolean child, the target child, required children)
_SHAPES = {
    "DoNotDisturbEvent": ("doNotDisturbOn", None, ("device", "doNotDisturbOn")),
    "SetDoNotDisturb": ("doNotDisturbOn", None, ("device", "doNotDisturbOn")),
    "ForwardingEvent": ("forwardStatus", "forwardTo", ("device", "forwardingType", "forwardStatus")),
    "SetForwarding": ("activateForward", "forwardDN", ("device", "forwardingType", "activateForward")),
}
_KNOWN_CHILDREN = {
    "DoNotDisturbEvent": {"device", "doNotDisturbOn"},
    "SetDoNotDisturb": {"device", "doNotDisturbOn"},
    "ForwardingEvent": {"device", "forwardingType", "forwardStatus", "forwardTo", "ringCount"},
    "SetForwarding": {"device", "forwardingType", "activateForward", "forwardDN", "ringCount"},
}
_DECLARATIONS = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.I)
# UTF-7 writes "<" as "+ADw-": a DTD in it escapes the byte scan above, so such documents are refused.
_UTF7 = re.compile(rb"""^[^>]{0,200}?encoding\s*=\s*["']\s*(?:utf-?7|unicode-1-1-utf-7|csunicode11utf7)""", re.I)
_XML_DECL = re.compile(rb"<\?xml[\s?]")


class DocumentError(ValueError):
    """The body is not a usable XML document (the one error ``parse_document`` raises)."""


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
    device: str | None  # text of <device> ("" when empty, the child's name for <device><notKnown/></device>)
    dnd: bool | None
    forwarding_type: str | None
    active: bool | None  # forwardStatus (events) or activateForward (requests)
    target: str | None  # forwardTo (events) or forwardDN (requests)
    ring_count: int | None
    problems: tuple[Problem, ...] = ()

    @property
    def kind(self) -> str:
        return "event" if self.root in EVENT_ROOTS else "request" if self.root in REQUEST_ROOTS else "unknown"

    @property
    def feature(self) -> str | None:
        if self.root in ("DoNotDisturbEvent", "SetDoNotDisturb"):
            return "DND"
        return FORWARDING_TYPES.get(self.forwarding_type or "")

    @property
    def worst(self) -> str:
        severities = {p.severity for p in self.problems}
        return "fail" if "fail" in severities else "warn" if "warn" in severities else "pass"

    def summary(self) -> str:
        """How a person says it: ``DND on``, ``CFB off``, ``CFNA -> 1002 after 4 rings``."""
        feature = self.feature or self.root
        if feature == "DND":
            return f"DND {'on' if self.dnd else 'off' if self.dnd is not None else '?'}"
        if not self.active:
            return f"{feature} {'off' if self.active is not None else '?'}"
        rings = f" after {self.ring_count} rings" if self.ring_count is not None else ""
        return f"{feature} -> {self.target or '?'}{rings}"


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _has_declarations(data: bytes) -> bool:
    if _DECLARATIONS.search(data):
        return True
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16: look at the text, not the bytes
        try:
            return bool(_DECLARATIONS.search(data.decode("utf-16").encode("utf-8")))
        except UnicodeDecodeError:
            return False
    return False


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _children(root: etree._Element) -> dict[str, etree._Element]:
    out: dict[str, etree._Element] = {}
    for child in root:
        name = _local(child.tag)
        if name and name not in out:
            out[name] = child
    return out


def _text(el: etree._Element | None) -> str | None:
    if el is None:
        return None
    text = (el.text or "").strip()
    if not text and len(el):
        return _local(el[0].tag)  # <device><notKnown/></device>
    return text


def _boolean(el: etree._Element | None, name: str, problems: list[Problem]) -> bool | None:
    value = _text(el)
    if value is None:
        return None
    if value in ("true", "false"):
        return value == "true"
    problems.append(Problem("fail", f"{name} is {value!r}, not true/false"))
    return None


def parse_document(data: bytes, *, max_bytes: int = 1_000_000) -> FeatureDocument:
    """Parse one feature document and check it against the catalogue's XML rules."""
    if not isinstance(data, bytes | bytearray):
        raise DocumentError("document is not bytes")
    data = bytes(data)
    if not data.strip():
        raise DocumentError("empty document")
    if len(data) > max_bytes:
        raise DocumentError(f"document of {len(data)} bytes exceeds {max_bytes}")
    if _has_declarations(data):
        raise DocumentError("document has a DTD or entity declarations (refused, never expanded)")
    if _UTF7.match(data):
        raise DocumentError("document declares UTF-7, which can hide markup from the safety checks (refused)")
    try:
        root = etree.fromstring(data, _parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise DocumentError(f"not well-formed XML: {str(exc).splitlines()[0] if str(exc) else 'parse error'}") from None
    except etree.LxmlError as exc:
        raise DocumentError(f"unreadable XML: {exc}") from None
    if root is None:
        raise DocumentError("no root element")
    return _check(root)


def _check(root: etree._Element) -> FeatureDocument:
    name = _local(root.tag)
    namespace = etree.QName(root).namespace
    problems: list[Problem] = []
    if namespace == NS_HYPHENLESS:
        problems.append(Problem("warn", "hyphenless namespace ecmainternational.org (tolerated by some phones)"))
    elif namespace is None:
        problems.append(Problem("warn", "no namespace (expected ECMA-323 ed3)"))
    elif namespace != NS:
        problems.append(Problem("fail", f"namespace {namespace} is not ECMA-323 ed3"))
    shape = _SHAPES.get(name)
    if shape is None:
        problems.append(Problem("fail", f"root {name} is not an as-feature-event document"))
        return FeatureDocument(name, namespace, None, None, None, None, None, None, tuple(problems))
    flag, target_name, required = shape
    children = _children(root)
    for child in required:
        if child not in children:
            problems.append(Problem("fail", f"{name} lacks <{child}>"))
    device = _text(children.get("device"))
    state = _boolean(children.get(flag), flag, problems)
    ftype = _text(children.get("forwardingType")) if target_name else None
    if ftype is not None and ftype not in FORWARDING_TYPES:
        problems.append(Problem("fail", f"forwardingType {ftype!r} is not one of {', '.join(FORWARDING_TYPES)}"))
    target = _text(children.get(target_name)) if target_name else None
    if target_name and state is True and not target:
        problems.append(Problem("fail", f"{target_name} is empty while {flag} is true"))
    rings = _ring_count(children.get("ringCount"), ftype, problems) if target_name else None
    if not [p for p in problems if p.severity == "fail"]:
        problems += _schema_problems(root)
    dnd = state if not target_name else None
    active = state if target_name else None
    return FeatureDocument(name, namespace, device, dnd, ftype, active, target, rings, tuple(problems))


def _ring_count(el: etree._Element | None, ftype: str | None, problems: list[Problem]) -> int | None:
    value = _text(el)
    if not value:
        return None
    if ftype != "forwardNoAns":
        problems.append(
            Problem("fail", f"ringCount given for {ftype or 'no forwardingType'}, only forwardNoAns has one")
        )
    if not value.isdigit():
        problems.append(Problem("fail", f"ringCount {value!r} is not an integer"))
        return None
    return int(value)


@lru_cache(maxsize=1)
def _schema() -> etree.XMLSchema:
    data = resources.files("analyzer").joinpath("schemas/as-feature-event.xsd").read_bytes()
    return etree.XMLSchema(etree.fromstring(data, _parser()))


def _schema_problems(root: etree._Element) -> list[Problem]:
    """What the XSD finds beyond the hand checks (validated in the right namespace: the warn is given)."""
    copy = etree.fromstring(etree.tostring(root), _parser())
    known = _KNOWN_CHILDREN[_local(copy.tag)]
    for child in list(copy):
        if not isinstance(child.tag, str) or _local(child.tag) not in known:
            copy.remove(child)  # unknown children (CSTA extensions, monitorCrossRefID ...) are ignored
    for el in copy.iter():
        if isinstance(el.tag, str) and etree.QName(el).namespace in (None, NS_HYPHENLESS):
            el.tag = f"{{{NS}}}{_local(el.tag)}"
    schema = _schema()
    if schema.validate(copy):
        return []
    reasons = []
    for error in schema.error_log:
        message = re.sub(r"\{[^}]*\}", "", error.message)
        reasons.append(Problem("fail", f"schema: {message}"))
    return reasons[:3]


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
    """Serialise one document the way BroadWorks writes it (declaration, default namespace)."""
    if root not in _SHAPES:
        raise ValueError(f"unknown root {root}")
    flag, target_name, _ = _SHAPES[root]
    el = etree.Element(f"{{{namespace}}}{root}" if namespace else root, nsmap={None: namespace} if namespace else None)

    def add(name: str, text: str) -> None:
        child = etree.SubElement(el, f"{{{namespace}}}{name}" if namespace else name)
        child.text = text

    add("device", device)
    if target_name is None:
        add(flag, "true" if dnd else "false")
    else:
        add("forwardingType", forwarding_type or "forwardImmediate")
        add(flag, "true" if active else "false")
        add(target_name, target or "")
        if ring_count is not None:
            add("ringCount", str(ring_count))
    return etree.tostring(el, xml_declaration=True, encoding=encoding)


def split_concatenated(data: bytes) -> list[bytes]:
    """Several XML documents written one after another in one body (phones read only the first)."""
    starts = [m.start() for m in _XML_DECL.finditer(data)]
    if len(starts) > 1:
        bounds = [*starts, len(data)]
        head = data[: starts[0]]
        pieces = [data[a:b] for a, b in itertools.pairwise(bounds)]
        pieces[0] = head + pieces[0]
        return [p for p in pieces if p.strip()]
    try:
        etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        if "Extra content at the end" in str(exc) and exc.position:
            line, column = exc.position
            lines = data.split(b"\n")
            offset = sum(len(x) + 1 for x in lines[: line - 1]) + max(column - 1, 0)
            if 0 < offset < len(data):
                return [data[:offset], data[offset:]]
    except (ValueError, etree.LxmlError):
        pass
    return [data]
