"""Building feature documents (the one builder every peer and crafted capture uses) and splitting bodies
that carry several documents back to back."""

from __future__ import annotations

import itertools
import re

from lxml import etree

from analyzer.documents.model import SHAPES, DocumentError
from analyzer.documents.safexml import NARROW, doctype_end, text_codec
from analyzer.vocab import NS

_START_TAG = re.compile(r"<[^>\"']*(?:(?:\"[^\"]*\"|'[^']*')[^>\"']*)*>")
_XML_DECLARATION = re.compile(r"<\?xml[\s?]")


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
    """Serialise one document the way BroadWorks writes it (docs/protocol.md): a double-quoted declaration, a default
    namespace, one child each.

    A value left at None is left out (so tests can build incomplete documents); ``target=""`` writes an
    empty ``forwardTo``/``forwardDN``. Values the root does not carry raise ValueError, as does a negative
    ring count.
    """
    shape = SHAPES.get(root)
    if shape is None:
        raise ValueError(f"unknown root {root!r}; expected one of {', '.join(SHAPES)}")
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
    text = f'<?xml version="1.0" encoding="{encoding}"?>\n' + etree.tostring(el, encoding="unicode")
    return text.encode(encoding, errors="xmlcharrefreplace")


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
    if text_codec(data) != NARROW:
        return [data]
    bounds = [0, *_document_starts(data.decode(NARROW)), len(data)]
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
        return doctype_end(text, pos)
    except DocumentError:
        return -1
