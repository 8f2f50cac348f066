"""The plain initial SUBSCRIBE, read from its bytes without a full parse: the AS's lean lane under a storm.

A base estate restarting sends thousands of SUBSCRIBEs a second, nearly all of one shape: CRLF lines, ASCII,
the usual headers in their usual spelling, no body, no credentials, no To tag. ``read_plain_subscribe`` takes
exactly that shape and gives what the AS needs from it; for anything else (a compact or odd-cased name, a
folded line, a duplicate header, a body, a Via list in one line, an Event with parameters, an Expires that is
not a number) it returns None and the AS parses the message in full. The values are read with the parser's
own helpers (``NameAddr``, ``parse_params``, ``uri_user``), so a plain SUBSCRIBE gets the answer the full
parse would give it, byte for byte (``tests/test_plain_subscribe.py`` holds the two lanes side by side).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from analyzer.sip import NameAddr, SipError, is_number, parse_params, uri_user
from analyzer.sip.peek import plain_branch
from analyzer.vocab import PACKAGE

# Header names taken in their canonical spelling only; a value of the others is not needed, but a name outside
# both sets (a compact form, another case, Authorization, Content-Type) sends the message to the full parse.
_WANTED = frozenset(("Via", "From", "To", "Call-ID", "CSeq", "Contact", "Event", "Expires", "Content-Length"))
_IGNORED = frozenset(("Max-Forwards", "Accept", "User-Agent", "Allow", "Allow-Events", "Supported", "Date"))
_KNOWN = _WANTED | _IGNORED
_USUAL_FROM = re.compile(r"<sip:([A-Za-z0-9._~+-]+)@[A-Za-z0-9.-]+(?::[0-9]+)?>;tag=([A-Za-z0-9._~+-]+)")
_LINE = re.compile(r"\r\n([^:\r\n]*):([^\r\n]*)")  # a header line: the name up to the first colon, the value

_SPACE = re.compile(r"\s")


@dataclass(frozen=True, slots=True)
class PlainSubscribe:
    """What the AS takes from a plain initial SUBSCRIBE: the values a response copies, and the dialog's key."""

    vias: tuple[str, ...]
    from_: str
    to: str
    call_id: str
    cseq: str
    contact: str | None
    user: str
    from_tag: str
    branch: str
    expires: int | None


def read_plain_subscribe(data: bytes) -> PlainSubscribe | None:
    """The SUBSCRIBE in ``data`` when it has the plain shape (see the module), else None."""
    end = data.find(b"\r\n\r\n")
    if end < 0 or end + 4 != len(data) or not data.startswith(b"SUBSCRIBE "):
        return None
    head = data[:end]
    if not head.isascii():
        return None
    text = head.decode("ascii")
    lines = text.count("\r\n")
    if text.count("\n") != lines or text.count("\r") != lines:
        return None  # a bare LF or CR: the parser's line rules apply
    eol = text.find("\r\n")
    start = text[:eol].split(" ") if eol >= 0 else []
    if len(start) != 3 or start[2] != "SIP/2.0" or not start[1] or _SPACE.search(start[1]):
        return None  # the parser's request line: a Request-URI of non-space characters
    pairs = _LINE.findall(text, eol)
    if len(pairs) != lines:
        return None  # a line without a colon
    found = dict(pairs)
    if not _KNOWN.issuperset(found):
        return None
    if len(found) == len(pairs):
        via = found.get("Via")
        vias = [via.strip()] if via is not None else []
    else:  # a header more than once: Via may be, no other
        vias = [value.strip() for name, value in pairs if name == "Via"]
        if len(found) + len(vias) - 1 != len(pairs):
            return None
    if any("," in via or not via for via in vias):
        return None
    return _plain(vias, found)


def _plain(vias: list[str], found: dict[str, str]) -> PlainSubscribe | None:
    def get(name: str) -> str | None:
        value = found.get(name)
        return value.strip() if value is not None else None

    from_, to, call_id, cseq = get("From"), get("To"), get("Call-ID"), get("CSeq")
    if not vias or from_ is None or to is None or not call_id or cseq is None:
        return None
    if get("Event") != PACKAGE or get("Content-Length") not in (None, "0") or ";tag=" in to.replace(" ", ""):
        return None
    number = cseq.split()
    if len(number) != 2 or number[1] != "SUBSCRIBE" or not is_number(number[0]):
        return None
    expires = get("Expires")
    if expires is not None and not is_number(expires):
        return None
    usual = _USUAL_FROM.fullmatch(from_)
    if usual is not None:  # what NameAddr and uri_user read from it are the groups
        user, tag = usual.group(1, 2)
    else:
        try:
            sender = NameAddr._parse(from_)  # not the shared cache: a storm's From values come once each
        except SipError:
            return None
        user, tag = uri_user(sender.uri), sender.tag
    branch = plain_branch(vias[0]) or parse_params(vias[0])[1].get("branch")
    if not user or not tag or not branch:
        return None
    return PlainSubscribe(
        tuple(vias),
        from_,
        to,
        call_id,
        cseq,
        get("Contact"),
        user,
        tag,
        branch,
        int(expires) if expires is not None else None,
    )
