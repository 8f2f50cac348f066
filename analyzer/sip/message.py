"""SIP message codec (RFC 3261 section 7), sans-IO: bytes in, ``SipMessage`` out, and back.

``parse_message`` accepts what real peers send (compact header names, folded lines, LF-only line ends,
comma-joined multi-valued headers) and records what a strict reader would object to in ``problems``
instead of refusing: the hygiene rule FKS-SIP-1 judges those problems with the message's evidence.
Only input that is not a SIP message at all raises ``SipError``, the codec's one error type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from analyzer.sip.address import NameAddr
from analyzer.sip.headers import HEADER_NAME, TOKEN, Headers, SipError, canonical_name, is_number, parse_params

MAX_MESSAGE_BYTES = 1 << 20  # a SIP message above 1 MiB is not something a phone or an AS sends

_MANDATORY_REQUEST = ("Via", "From", "To", "Call-ID", "CSeq", "Max-Forwards")
_MANDATORY_RESPONSE = ("Via", "From", "To", "Call-ID", "CSeq")

_REQUEST_LINE = re.compile(rf"^({TOKEN}) (\S+) SIP/(\d+\.\d+)$")
_STATUS_LINE = re.compile(r"^SIP/(\d+\.\d+) (\d{3})(?: (.*))?$")


@dataclass(slots=True)
class SipMessage:
    """One parsed SIP request or response.

    ``problems`` lists what makes the message non-conforming to RFC 3261 without making it unreadable
    (missing mandatory headers, a Content-Length that disagrees with the body, ...).
    """

    method: str | None
    uri: str | None
    status: int | None
    reason: str | None
    headers: Headers
    body: bytes = b""
    problems: list[str] = field(default_factory=list)

    @property
    def is_request(self) -> bool:
        return self.method is not None

    @property
    def start_line(self) -> str:
        if self.method is not None:
            return f"{self.method} {self.uri} SIP/2.0"
        return f"SIP/2.0 {self.status} {self.reason or ''}".rstrip()

    @property
    def summary(self) -> str:
        """``SUBSCRIBE`` or ``200 OK (SUBSCRIBE)``: how a ladder or a report names the message."""
        if self.method is not None:
            return self.method
        return f"{self.status} {self.reason or ''}".rstrip() + f" ({self.cseq_method or '?'})"

    # -- the headers every dialog decision needs ------------------------------------------------------
    @property
    def call_id(self) -> str | None:
        value = self.headers.get("Call-ID")
        return value.strip() if value is not None else None

    @property
    def cseq(self) -> tuple[int, str] | None:
        value = self.headers.get("CSeq")
        if value is None:
            return None
        parts = value.split()
        if len(parts) != 2 or not is_number(parts[0]):
            return None
        return int(parts[0]), parts[1].upper()

    @property
    def cseq_number(self) -> int | None:
        cseq = self.cseq
        return cseq[0] if cseq else None

    @property
    def cseq_method(self) -> str | None:
        cseq = self.cseq
        return cseq[1] if cseq else None

    def _name_addr(self, name: str) -> NameAddr | None:
        value = self.headers.get(name)
        if value is None:
            return None
        try:
            return NameAddr.parse(value)
        except SipError:
            return None

    @property
    def from_(self) -> NameAddr | None:
        return self._name_addr("From")

    @property
    def to(self) -> NameAddr | None:
        return self._name_addr("To")

    @property
    def from_tag(self) -> str | None:
        na = self.from_
        return na.tag if na else None

    @property
    def to_tag(self) -> str | None:
        na = self.to
        return na.tag if na else None

    @property
    def branch(self) -> str | None:
        vias = self.headers.get_all("Via")
        if not vias:
            return None
        return parse_params(vias[0])[1].get("branch")

    @property
    def event(self) -> tuple[str, dict[str, str]] | None:
        """Event package (lower-cased) and parameters, e.g. (``as-feature-event``, {"id": "7"})."""
        return self._valued("Event")

    @property
    def expires(self) -> int | None:
        value = self.headers.get("Expires")
        if value is None or not is_number(value.strip()):
            return None
        return int(value.strip())

    @property
    def content_type(self) -> tuple[str, dict[str, str]] | None:
        """Media type (lower-cased ``type/subtype``) and parameters, or None without a Content-Type."""
        return self._valued("Content-Type")

    def _valued(self, name: str) -> tuple[str, dict[str, str]] | None:
        value = self.headers.get(name)
        if value is None:
            return None
        head, params = parse_params(value)
        return head.strip().lower(), params

    def to_bytes(self) -> bytes:
        return build_message(self.start_line, list(self.headers), self.body, content_length=False)


def parse_message(data: bytes) -> SipMessage:
    """Parse one SIP message from ``data``; raise ``SipError`` when it is not SIP at all.

    The body is what follows the blank line, cut to Content-Length when that is shorter (RFC 3261 section
    18.3); a Content-Length that disagrees with the bytes present is recorded in ``problems``.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise SipError("not bytes")
    data = bytes(data)
    if len(data) > MAX_MESSAGE_BYTES:
        raise SipError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    head, sep, body = split_head(data)
    if not sep:
        # A message with no blank line is still readable when it has headers: the body is empty.
        head, body = data, b""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = head.decode("latin-1")
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():  # RFC 3261 7.5: leading CRLFs are ignored
        lines.pop(0)
    if not lines:
        raise SipError("empty message")
    msg = _parse_start_line(lines[0].rstrip("\r"))
    problems = msg.problems
    if not sep:
        problems.append("no blank line after the headers")
    items: list[tuple[str, str]] = []
    for raw in lines[1:]:
        line = raw.rstrip("\r")
        if not line:
            continue
        if line[0] in " \t":
            if not items:
                raise SipError("continuation line before the first header")
            name, value = items[-1]
            items[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or (name not in _GOOD_NAMES and not _good_name(name)):
            problems.append(f"malformed header line {line[:60]!r}")
            continue
        items.append((name, value.strip()))
    msg.headers = Headers(items)
    msg.body = _check_body(msg, body, problems)
    _check_mandatory(msg, problems)
    return msg


_GOOD_NAMES: set[str] = set()  # header names seen well-formed (a site writes few spellings)


def _good_name(name: str) -> bool:
    if not HEADER_NAME.match(name):
        return False
    if len(_GOOD_NAMES) < 4096:  # garbage with ever new names must not grow it
        _GOOD_NAMES.add(name)
    return True


def split_head(data: bytes) -> tuple[bytes, bytes, bytes]:
    crlf = data.find(b"\r\n\r\n")
    lf = data.find(b"\n\n")
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return data[:crlf], b"\r\n\r\n", data[crlf + 4 :]
    if lf >= 0:
        return data[:lf], b"\n\n", data[lf + 2 :]
    return data, b"", b""


def _parse_start_line(line: str) -> SipMessage:
    m = _REQUEST_LINE.match(line)
    if m:
        msg = SipMessage(m.group(1).upper(), m.group(2), None, None, Headers())
        if m.group(1) != m.group(1).upper():
            msg.problems.append(f"method {m.group(1)!r} is not upper case")
        if m.group(3) != "2.0":
            msg.problems.append(f"SIP version {m.group(3)}")
        return msg
    m = _STATUS_LINE.match(line)
    if m:
        msg = SipMessage(None, None, int(m.group(2)), (m.group(3) or "").strip(), Headers())
        if m.group(1) != "2.0":
            msg.problems.append(f"SIP version {m.group(1)}")
        return msg
    raise SipError(f"not a SIP start line: {line[:80]!r}")


def _check_body(msg: SipMessage, body: bytes, problems: list[str]) -> bytes:
    values = msg.headers.get_all("Content-Length")
    if not values:
        return body  # optional over UDP (RFC 3261 section 20.14); FKS-SIP-1 requires it on TCP/TLS
    if len(values) > 1 and len(set(values)) > 1:
        problems.append(f"conflicting Content-Length headers {values}")
    value = values[0].strip()
    if not is_number(value):
        problems.append(f"Content-Length {value!r} is not a number")
        return body
    length = int(value)
    if length > len(body):
        problems.append(f"Content-Length {length} but only {len(body)} body bytes")
        return body
    if length < len(body):
        problems.append(f"Content-Length {length} but {len(body)} body bytes follow")
        return body[:length]
    return body


def _check_mandatory(msg: SipMessage, problems: list[str]) -> None:
    required = _MANDATORY_REQUEST if msg.is_request else _MANDATORY_RESPONSE
    missing = [name for name in required if msg.headers.get(name) is None]
    if missing:
        problems.append("missing " + ", ".join(missing))
    if msg.headers.get("CSeq") is not None:
        cseq = msg.cseq
        if cseq is None:
            problems.append(f"malformed CSeq {msg.headers.get('CSeq')!r}")
        elif msg.is_request and cseq[1] != msg.method:
            problems.append(f"CSeq method {cseq[1]} differs from {msg.method}")
    if msg.headers.get("Max-Forwards") is not None and not is_number(msg.headers.get("Max-Forwards", "").strip()):
        problems.append("Max-Forwards is not a number")


def build_message(
    start_line: str, headers: Iterable[tuple[str, str]], body: bytes = b"", *, content_length: bool = True
) -> bytes:
    """Serialise a message. With ``content_length`` the Content-Length header is (re)written from the body."""
    out = [start_line]
    for name, value in headers:
        name = canonical_name(name)
        if content_length and name == "Content-Length":
            continue
        out.append(f"{name}: {value}")
    if content_length:
        out.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(out) + "\r\n\r\n").encode("utf-8") + body


def response_to(
    request: SipMessage,
    status: int,
    reason: str,
    headers: Iterable[tuple[str, str]] = (),
    *,
    to_tag: str | None = None,
) -> bytes:
    """A response to ``request`` (RFC 3261 section 8.2.6.2): its Via, From, To, Call-ID and CSeq copied, a To
    tag added when given and missing, then ``headers``."""
    copied = request.headers
    return build_response(
        status,
        reason,
        copied.get_all("Via"),
        copied.get("From") or "",
        copied.get("To") or "",
        request.call_id or "",
        copied.get("CSeq") or "",
        headers,
        to_tag=to_tag,
    )


def build_response(
    status: int,
    reason: str,
    vias: Iterable[str],
    from_: str,
    to: str,
    call_id: str,
    cseq: str,
    headers: Iterable[tuple[str, str]] = (),
    *,
    to_tag: str | None = None,
) -> bytes:
    """A response from the request's values (``response_to`` reads them from a parsed message; a hot path may
    have them without a parse)."""
    if to_tag and ";tag=" not in to.replace(" ", ""):
        to += f";tag={to_tag}"
    out = [("Via", via) for via in vias]
    out += [("From", from_), ("To", to), ("Call-ID", call_id), ("CSeq", cseq)]
    return build_message(f"SIP/2.0 {status} {reason}", [*out, *headers])
