"""Reading untrusted XML safely: a hardened lxml parser, encodings whose markup could hide refused, and any
DTD cut out of the prolog before libxml2 sees the bytes, so nothing is ever expanded or fetched."""

from __future__ import annotations

import re
import threading

from lxml import etree

from analyzer.documents.model import DocumentError

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
NARROW = "latin-1"  # for ASCII-compatible bytes: a byte-exact round trip, so text offsets are byte offsets
_DTD_TOKEN = re.compile(r"\"[^\"]*\"|'[^']*'|<!--.*?-->|[\[\]>]", re.S)
_PREDEFINED = r"(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);"  # references XML resolves without a DTD
_LOOSE_REFERENCE = re.compile(rf"<!\[CDATA\[.*?\]\]>|&(?!{_PREDEFINED})", re.S)
_POSITION_SUFFIX = re.compile(r", line \d+, column \d+.*$")
XML_SPACE = " \t\r\n"  # what XML calls white space (str.strip would also eat NBSP and friends)
Element = etree.Element


def hardened_parser() -> etree.XMLParser:
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


_PARSERS = threading.local()


def _parser() -> etree.XMLParser:
    """This thread's hardened parser, made once: a parser per document cost as much as the parse itself, and
    a parser keeps no state from one document to the next."""
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = hardened_parser()
    return parser


def text_codec(data: bytes) -> str:
    """The Python codec that turns ``data`` into text whose markup is findable (latin-1 for ASCII kin)."""
    for head, codec in _WIDE_CODECS:
        if data.startswith(head):
            return codec
    return NARROW


def _decode(data: bytes, codec: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise DocumentError(f"bad encoding: not valid {codec.upper()} ({exc.reason})") from None


def _declares(data: bytes, codec: str) -> bool:
    if codec == NARROW:
        return _DECLARATION.search(data) is not None
    return _DECLARATION_TEXT.search(_decode(data, codec)) is not None


def _skip_prolog_item(text: str, pos: int) -> int | None:
    """End of the comment or processing instruction at ``pos``; None when there is none."""
    for opener, closer in (("<!--", "-->"), ("<?", "?>")):
        if text.startswith(opener, pos):
            end = text.find(closer, pos + len(opener))
            return None if end < 0 else end + len(closer)
    return None


def doctype_end(text: str, start: int) -> int:
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
        while pos < len(text) and text[pos] in XML_SPACE:
            pos += 1
        if text.startswith("<!DOCTYPE", pos):
            end = doctype_end(text, pos)
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


def parse_xml(data: bytes, *, max_bytes: int) -> tuple[Element, bool]:
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
    codec = text_codec(data)
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
