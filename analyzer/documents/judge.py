"""Judging a feature document against the catalogue's XML rules (FKS-NTF-5, FKS-HS-1): hand checks give
the readable reasons, then the packaged XSD adds what they cannot see."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from lxml import etree

from analyzer.documents.model import BOOLEANS, DTD_REASON, SHAPES, FeatureDocument, Shape
from analyzer.documents.safexml import XML_SPACE, Element, hardened_parser, parse_xml
from analyzer.verdicts import Problem, Verdict
from analyzer.vocab import FORWARDING_TYPES, NS, NS_HYPHENLESS

# Namespaces whose elements are read as ours; all but NS cost a warn on the root.
_TOLERATED_NS = {
    NS_HYPHENLESS: "namespace is the hyphenless ecmainternational.org variant, not ecma-international.org",
    None: f"root has no namespace (expected {NS})",
}
_OUR_NS = {NS, *_TOLERATED_NS}
_MAX_SCHEMA_REASONS = 3
_SCHEMA_SUBJECT = re.compile(r"^Element '(?:\{[^}]*\})?([^']+)': ")
_NAMESPACE_IN_MESSAGE = re.compile(r"\{[^}]*\}")
_RING_COUNT = re.compile(r"[0-9]+")


def parse_document(data: bytes, *, max_bytes: int = 1_000_000) -> FeatureDocument:
    """Parse one feature document and check it against the catalogue's XML rules (FKS-NTF-5, FKS-HS-1)."""
    root, had_dtd = parse_xml(data, max_bytes=max_bytes)
    return _judge(root, had_dtd)


@lru_cache(maxsize=4096)  # a handful of tags, asked about a dozen times a document
def _local(tag: object) -> str:
    """Local name of an element tag ("" for anything that is not an element)."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


@lru_cache(maxsize=4096)
def _namespace(tag: object) -> str | None:
    if not isinstance(tag, str) or not tag.startswith("{"):
        return None
    return tag[1:].partition("}")[0]


def _judge(root: Element, had_dtd: bool) -> FeatureDocument:
    name, namespace = _local(root.tag), _namespace(root.tag)
    problems = [Problem(Verdict.FAIL, DTD_REASON)] if had_dtd else []
    shape = SHAPES.get(name)
    if shape is None:
        problems.append(Problem(Verdict.FAIL, f"root {name} is not an as-feature-event document"))
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
        return [Problem(Verdict.WARN, _TOLERATED_NS[namespace])]
    return [Problem(Verdict.FAIL, f"namespace {namespace} is not the ECMA-323 ed3 namespace {NS}")]


def _children(root: Element, shape: Shape, problems: list[Problem], blamed: set[str]) -> dict[str, Element]:
    """The known children, first occurrence each; duplicates, strays and missing ones become problems."""
    root_ns = _namespace(root.tag)
    found: dict[str, list[Element]] = {}
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
        problems.append(Problem(Verdict.WARN, f"children not in the root's namespace: {', '.join(mixed)}"))
    for name, elements in found.items():
        if len(elements) > 1:
            problems.append(Problem(Verdict.FAIL, f"<{name}> appears {len(elements)} times"))
            blamed.add(name)
    for name in shape.required:
        if name not in found:
            hint = f" (a <{name}> in namespace {foreign[name]} does not count)" if name in foreign else ""
            problems.append(Problem(Verdict.FAIL, f"{_local(root.tag)} has no <{name}>{hint}"))
            blamed.add(_local(root.tag))
    return {name: elements[0] for name, elements in found.items()}


def _value(el: Element | None) -> str | None:
    if el is None:
        return None
    if len(el) == 0:  # a leaf (most values): its text is all ``itertext`` would give
        return (el.text or "").strip(XML_SPACE)
    return "".join(el.itertext()).strip(XML_SPACE)


def _device(el: Element | None) -> str | None:
    if el is None:
        return None
    text = (el.text or "").strip(XML_SPACE)
    if not text:
        for child in el:
            if isinstance(child.tag, str):
                return _local(child.tag)  # <device><notKnown/></device>
    return text


def _boolean(name: str, el: Element | None, problems: list[Problem], blamed: set[str]) -> bool | None:
    value = _value(el)
    if value is None:
        return None
    if value in BOOLEANS:
        return BOOLEANS[value]
    problems.append(Problem(Verdict.FAIL, f"{name} is {value!r}, not true/false"))
    blamed.add(name)
    return None


def _forwarding_type(el: Element | None, problems: list[Problem], blamed: set[str]) -> str | None:
    value = _value(el)
    if value is not None and value not in FORWARDING_TYPES:
        allowed = ", ".join(FORWARDING_TYPES)
        problems.append(Problem(Verdict.FAIL, f"forwardingType {value!r} is not one of {allowed}"))
        blamed.add("forwardingType")
    return value


def _target(
    shape: Shape, state: bool | None, el: Element | None, problems: list[Problem], blamed: set[str]
) -> str | None:
    value = _value(el)
    if state is True and not value:
        missing = "absent" if el is None else "empty"
        problems.append(Problem(Verdict.FAIL, f"{shape.flag} is true but {shape.target} is {missing}"))
        blamed.add(shape.target or "")
    return value


def _ring_count(el: Element | None, ftype: str | None, out: list[Problem], blamed: set[str]) -> int | None:
    value = _value(el)
    if not value:
        return None  # absent or empty: both allowed
    if ftype != "forwardNoAns":
        owner = ftype or "no forwardingType"
        out.append(Problem(Verdict.FAIL, f"ringCount {value!r} given with {owner}; only forwardNoAns has one"))
        blamed.add("ringCount")
    if not _RING_COUNT.fullmatch(value):
        out.append(Problem(Verdict.FAIL, f"ringCount {value!r} is not an integer"))
        blamed.add("ringCount")
        return None
    return int(value)


@lru_cache(maxsize=1)
def _schema() -> etree.XMLSchema:
    """The packaged XSD, compiled once on first use."""
    data = resources.files("analyzer").joinpath("schemas/as-feature-event.xsd").read_bytes()
    return etree.XMLSchema(etree.fromstring(data, hardened_parser()))


def _normalise(root: Element, shape: Shape) -> None:
    """Prepare ``root`` (already read) for the XSD: our children only, in ``NS``, attributes dropped."""
    ours = {_namespace(root.tag), *_OUR_NS}
    for child in list(root):
        if _local(child.tag) in shape.known and _namespace(child.tag) in ours:
            continue
        tail = child.tail
        root.remove(child)  # unknown children (CSTA extensions ...) are ignored; text around them is not
        if tail and tail.strip(XML_SPACE):
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


def _schema_problems(root: Element, shape: Shape, blamed: set[str]) -> list[Problem]:
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
        problems.append(Problem(Verdict.FAIL, f"schema: {prefix}{text.strip()}"))
    return problems[:_MAX_SCHEMA_REASONS]
