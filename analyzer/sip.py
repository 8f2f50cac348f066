"""SIP message codec (RFC 3261 section 7), sans-IO: bytes in, ``SipMessage`` out, and back.

``parse_message`` accepts what real peers send (compact header names, folded lines, LF-only line ends,
comma-joined multi-valued headers) and records what a strict reader would object to in ``problems``
instead of refusing: the hygiene rule FKS-SIP-1 judges those problems with the message's evidence.
Only input that is not a SIP message at all raises ``SipError``, the codec's one error type.

Also here: header-value helpers (name-addr, parameters, Event, Subscription-State), ``multipart/mixed``
bodies (RFC 2046) and digest authentication (RFC 2617 / RFC 7616: MD5 and SHA-256, qop=auth).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

__all__ = [
    "COMPACT_FORMS",
    "Headers",
    "NameAddr",
    "Part",
    "SipError",
    "SipMessage",
    "StreamFramer",
    "build_message",
    "build_multipart",
    "digest_response",
    "parse_message",
    "parse_multipart",
]

MAX_MESSAGE_BYTES = 1 << 20  # a SIP message above 1 MiB is not something a phone or an AS sends

# RFC 3261 section 7.3.3 and the IANA registry: compact form -> canonical name.
COMPACT_FORMS = {
    "a": "Accept-Contact",
    "b": "Referred-By",
    "c": "Content-Type",
    "d": "Request-Disposition",
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "n": "Identity-Info",
    "o": "Event",
    "r": "Refer-To",
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",
    "v": "Via",
    "x": "Session-Expires",
    "y": "Identity",
}

# Canonical spelling of the headers this kit reads; other names keep the spelling they arrived with.
_CANONICAL = {
    name.lower(): name
    for name in (
        "Accept",
        "Allow",
        "Allow-Events",
        "Authorization",
        "Call-ID",
        "Contact",
        "Content-ID",
        "Content-Length",
        "Content-Type",
        "CSeq",
        "Event",
        "Expires",
        "From",
        "Max-Forwards",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Record-Route",
        "Route",
        "Server",
        "Subscription-State",
        "Supported",
        "To",
        "User-Agent",
        "Via",
        "WWW-Authenticate",
        *COMPACT_FORMS.values(),
    )
}

# Headers whose comma-separated values are separate entries (RFC 3261 section 7.3.1). Authorization-style
# headers and dates are not: their values contain commas of their own.
_MULTI_VALUED = {
    "accept",
    "accept-encoding",
    "accept-language",
    "allow",
    "allow-events",
    "contact",
    "content-encoding",
    "record-route",
    "require",
    "route",
    "supported",
    "unsupported",
    "via",
}

_MANDATORY_REQUEST = ("Via", "From", "To", "Call-ID", "CSeq", "Max-Forwards")
_MANDATORY_RESPONSE = ("Via", "From", "To", "Call-ID", "CSeq")

_TOKEN = r"[A-Za-z0-9.!%*_+`'~-]+"
_REQUEST_LINE = re.compile(rf"^({_TOKEN}) (\S+) SIP/(\d+\.\d+)$")
_STATUS_LINE = re.compile(r"^SIP/(\d+\.\d+) (\d{3})(?: (.*))?$")
_HEADER_NAME = re.compile(rf"^{_TOKEN}$")


def is_number(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also accepts ``¹`` or ``²``, which ``int()`` then refuses."""
    return text.isascii() and text.isdigit()


class SipError(ValueError):
    """The bytes are not a SIP message (the one error ``parse_message`` raises)."""


_NAMES: dict[str, str] = {}  # header name as written -> canonical name (a site writes few spellings)


def canonical_name(name: str) -> str:
    """``i`` -> ``Call-ID``, ``call-id`` -> ``Call-ID``; unknown names are returned unchanged."""
    found = _NAMES.get(name)
    if found is not None:
        return found
    low = name.lower()
    found = COMPACT_FORMS[low] if low in COMPACT_FORMS else _CANONICAL.get(low, name)
    if len(_NAMES) < 4096:  # garbage with ever new names must not grow it
        _NAMES[name] = found
    return found


def split_commas(value: str) -> list[str]:
    """Split a header value on the commas that separate entries, not those inside quotes or ``<...>``."""
    if '"' not in value and "<" not in value:  # nothing to respect: a plain split (most values)
        return [p for p in (piece.strip() for piece in value.split(",")) if p]
    return _split_commas_scan(value)


def _split_commas_scan(value: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    i = 0
    while i < len(value):
        ch = value[i]
        if quoted:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "<":
            depth += 1
        elif ch == ">" and depth:
            depth -= 1
        elif ch == "," and not depth:
            parts.append(value[start:i].strip())
            start = i + 1
        i += 1
    parts.append(value[start:].strip())
    return [p for p in parts if p]


@functools.lru_cache(maxsize=1024)
def _key(name: str) -> str:
    """The lookup key of a header name (canonical, lower case); cached: the same few names come again and again."""
    return canonical_name(name).lower()


class Headers:
    """Ordered, case-insensitive SIP headers; compact names are stored under their canonical names."""

    __slots__ = ("_items", "_keys")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = [(canonical_name(n), v) for n, v in items]
        self._keys = [n.lower() for n, _ in self._items]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name`` (as written, not split on commas)."""
        key = _key(name)
        try:
            return self._items[self._keys.index(key)][1]
        except ValueError:
            return default

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``; multi-valued headers are split on their separating commas."""
        key = _key(name)
        out: list[str] = []
        for k, (_, v) in zip(self._keys, self._items, strict=True):
            if k == key:
                out.extend(split_commas(v) if key in _MULTI_VALUED else [v])
        return out

    def add(self, name: str, value: str) -> None:
        self._items.append((canonical_name(name), value))
        self._keys.append(_key(name))

    def set(self, name: str, value: str) -> None:
        """Replace every ``name`` header by one with ``value`` (kept at the first one's place)."""
        key = _key(name)
        out: list[tuple[str, str]] = []
        done = False
        for k, item in zip(self._keys, self._items, strict=True):
            if k == key:
                if not done:
                    out.append((canonical_name(name), value))
                    done = True
            else:
                out.append(item)
        if not done:
            out.append((canonical_name(name), value))
        self._items = out
        self._keys = [n.lower() for n, _ in out]

    def remove(self, name: str) -> None:
        key = _key(name)
        self._items = [item for k, item in zip(self._keys, self._items, strict=True) if k != key]
        self._keys = [n.lower() for n, _ in self._items]

    def copy(self) -> Headers:
        return Headers(self._items)


def parse_params(text: str) -> tuple[str, dict[str, str]]:
    """``value;a=1;b`` -> (``value``, {"a": "1", "b": ""}); parameter names lower-cased, quotes dropped."""
    pieces = _split_semicolons(text)
    main = pieces[0].strip() if pieces else ""
    params: dict[str, str] = {}
    for piece in pieces[1:]:
        name, _, val = piece.partition("=")
        name = name.strip().lower()
        if name:
            params[name] = _unquote(val.strip())
    return main, params


def _split_semicolons(text: str) -> list[str]:
    """``;`` separated pieces, not splitting inside quotes or ``<...>``. Without quotes and with at most one
    ``<...>`` (a name-addr and its parameters: most values), plain splits around it give the same pieces."""
    if '"' not in text:
        lt = text.find("<")
        if lt < 0:
            return text.split(";")
        gt = text.find(">", lt)
        if gt >= 0 and text.count("<") == 1 and text.count(">") == 1:
            before, after = text[:lt].split(";"), text[gt + 1 :].split(";")
            before[-1] += text[lt : gt + 1] + after[0]
            return before + after[1:]
    return _split_semicolons_scan(text)


def _split_semicolons_scan(text: str) -> list[str]:
    parts: list[str] = []
    quoted = False
    depth = 0
    start = 0
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">" and depth:
            depth -= 1
        elif ch == ";" and not quoted and not depth:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


@dataclass(frozen=True, slots=True)
class NameAddr:
    """A From/To/Contact value: display name, URI, header parameters (``tag`` among them)."""

    display: str
    uri: str
    params: dict[str, str]

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    @property
    def user(self) -> str | None:
        return uri_user(self.uri)

    @property
    def aor(self) -> str:
        """The address of record: scheme, user and host of the URI, without port or parameters."""
        return uri_aor(self.uri)

    @classmethod
    def parse(cls, value: str) -> NameAddr:
        """Parsed once per value: a message's From is read by several decisions (user, tag, dialog key), and a
        NameAddr is never changed, so the same object serves them all."""
        return _parse_name_addr(value)

    @classmethod
    def _parse(cls, value: str) -> NameAddr:
        value = value.strip()
        lt = value.find("<")
        if lt >= 0:
            gt = value.find(">", lt)
            if gt < 0:
                raise SipError(f"unterminated '<' in {value[:60]!r}")
            display = _unquote(value[:lt].strip())
            uri = value[lt + 1 : gt].strip()
            _, params = parse_params(value[gt + 1 :])
            return cls(display, uri, params)
        uri, params = parse_params(value)  # addr-spec form: parameters belong to the header
        return cls("", uri, params)


_parse_name_addr = functools.lru_cache(maxsize=256)(NameAddr._parse)


_URI = re.compile(r"^(?P<scheme>sips?|tel):(?:(?P<user>[^@;?]*)@)?(?P<host>\[[^\]]*\]|[^:;?>]*)", re.I)


def uri_user(uri: str) -> str | None:
    m = _URI.match(uri.strip())
    if not m:
        return None
    if m.group("scheme").lower() == "tel":
        return m.group("host")
    user = m.group("user")
    return user.split(":", 1)[0] if user is not None else None


def uri_aor(uri: str) -> str:
    m = _URI.match(uri.strip())
    if not m:
        return uri.strip()
    scheme = m.group("scheme").lower()
    user = uri_user(uri)
    host = m.group("host").lower()
    return f"{scheme}:{user}@{host}" if user and scheme != "tel" else f"{scheme}:{host}"


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
        value = self.headers.get("Event")
        if value is None:
            return None
        package, params = parse_params(value)
        return package.lower(), params

    @property
    def expires(self) -> int | None:
        value = self.headers.get("Expires")
        if value is None or not is_number(value.strip()):
            return None
        return int(value.strip())

    @property
    def content_type(self) -> tuple[str, dict[str, str]] | None:
        """Media type (lower-cased ``type/subtype``) and parameters, or None without a Content-Type."""
        value = self.headers.get("Content-Type")
        if value is None:
            return None
        media, params = parse_params(value)
        return media.strip().lower(), params

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
    head, sep, body = _split_head(data)
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
        if not colon or not _HEADER_NAME.match(name):
            problems.append(f"malformed header line {line[:60]!r}")
            continue
        items.append((name, value.strip()))
    msg.headers = Headers(items)
    msg.body = _check_body(msg, body, problems)
    _check_mandatory(msg, problems)
    return msg


def _split_head(data: bytes) -> tuple[bytes, bytes, bytes]:
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
    out = [("Via", via) for via in request.headers.get_all("Via")]
    to = request.headers.get("To") or ""
    if to_tag and ";tag=" not in to.replace(" ", ""):
        to += f";tag={to_tag}"
    out += [("From", request.headers.get("From") or ""), ("To", to)]
    out += [("Call-ID", request.call_id or ""), ("CSeq", request.headers.get("CSeq") or "")]
    return build_message(f"SIP/2.0 {status} {reason}", [*out, *headers])


class StreamFramer:
    """Cut a byte stream (SIP over TCP/TLS) into messages by their Content-Length (RFC 3261 section 18.3).

    ``feed`` takes whatever a read returned and gives back the complete messages it finished: several per
    read, or one over several reads. CRLF keep-alives between messages are skipped (RFC 5626). A header
    section longer than ``MAX_MESSAGE_BYTES`` or a non-numeric Content-Length raises ``SipError``: the stream
    cannot be resynchronised and the connection should be closed.
    """

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        out: list[bytes] = []
        while True:
            self._buffer = self._buffer.lstrip(b"\r\n")
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_MESSAGE_BYTES:
                    raise SipError("no end of headers within the size limit")
                return out
            length = _stream_content_length(self._buffer[:end])
            total = end + 4 + length
            if total > MAX_MESSAGE_BYTES:
                raise SipError(f"message of {total} bytes exceeds {MAX_MESSAGE_BYTES}")
            if len(self._buffer) < total:
                return out
            out.append(self._buffer[:total])
            self._buffer = self._buffer[total:]

    @property
    def pending(self) -> int:
        """Bytes received that do not yet make a complete message."""
        return len(self._buffer)


_CONTENT_LENGTH = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\S*)", re.I | re.M)


def _stream_content_length(head: bytes) -> int:
    m = _CONTENT_LENGTH.search(head)
    if m is None:
        return 0  # on a stream a missing Content-Length means no body (FKS-SIP-1 reports the omission)
    value = m.group(1)
    if not is_number(value):
        raise SipError(f"Content-Length {value[:20]!r} is not a number")
    return int(value)


# -- multipart/mixed (RFC 2046 section 5.1) --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Part:
    """One body part: its headers (Content-Type, Content-ID, Content-Length ...) and its bytes."""

    headers: Headers
    body: bytes

    @property
    def content_type(self) -> str | None:
        value = self.headers.get("Content-Type")
        return parse_params(value)[0].strip().lower() if value else None


def parse_multipart(body: bytes, boundary: str) -> list[Part]:
    """Split a ``multipart/mixed`` body on ``boundary`` (quoted or not in the header: pass it unquoted).

    Raises ``SipError`` when the boundary never occurs or the body has no closing delimiter.
    """
    if not boundary or len(boundary) > 70:
        raise SipError(f"invalid multipart boundary {boundary!r}")
    delimiter = b"--" + boundary.encode("latin-1", "replace")
    pieces = re.split(b"(?:\r?\n)?" + re.escape(delimiter), body)
    if len(pieces) < 2:
        raise SipError(f"boundary {boundary!r} not found in the body")
    parts: list[Part] = []
    closed = False
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            closed = True
            break
        piece = piece[2:] if piece.startswith(b"\r\n") else piece[1:] if piece.startswith(b"\n") else piece
        head, sep, content = _split_head(piece)
        if not sep:
            # A part with no headers at all starts with the blank line itself.
            if piece.startswith((b"\r\n", b"\n")):
                head, content = b"", piece.lstrip(b"\r\n")
            else:
                head, content = piece, b""
        headers = Headers(_part_headers(head))
        declared = headers.get("Content-Length")
        if declared is not None and is_number(declared.strip()) and int(declared) < len(content):
            content = content[: int(declared)]
        parts.append(Part(headers, content))
    if not closed:
        raise SipError(f"multipart body has no closing delimiter --{boundary}--")
    return parts


def _part_headers(head: bytes) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for raw in head.decode("latin-1").replace("\r\n", "\n").split("\n"):
        if not raw.strip():
            continue
        if raw[0] in " \t" and items:
            items[-1] = (items[-1][0], items[-1][1] + " " + raw.strip())
            continue
        name, colon, value = raw.partition(":")
        if colon and _HEADER_NAME.match(name.strip()):
            items.append((name.strip(), value.strip()))
    return items


def build_multipart(parts: Iterable[Part], boundary: str) -> bytes:
    """Serialise parts into a ``multipart/mixed`` body with ``boundary``."""
    out = b""
    for part in parts:
        head = "".join(f"{canonical_name(n)}: {v}\r\n" for n, v in part.headers)
        out += f"--{boundary}\r\n{head}\r\n".encode("latin-1") + part.body + b"\r\n"
    return out + f"--{boundary}--\r\n".encode("latin-1")


# -- digest authentication (RFC 2617, RFC 7616, RFC 8760) ------------------------------------------------

_DIGEST_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256, "SHA-512-256": None}


def parse_digest(value: str) -> dict[str, str]:
    """``Digest realm="x", nonce="y", ...`` -> {"realm": "x", "nonce": "y", ...} (names lower-cased)."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        raise SipError(f"not a Digest challenge or credentials: {scheme!r}")
    out: dict[str, str] = {}
    for item in split_commas(rest):
        name, eq, val = item.partition("=")
        if eq:
            out[name.strip().lower()] = _unquote(val.strip())
    return out


def _hash(algorithm: str, text: str) -> str:
    fn = _DIGEST_HASHES.get(algorithm.upper().removesuffix("-SESS"))
    if fn is None:
        raise SipError(f"unsupported digest algorithm {algorithm!r}")
    return fn(text.encode("utf-8")).hexdigest()


def digest_response(
    *,
    username: str,
    password: str,
    realm: str,
    nonce: str,
    method: str,
    uri: str,
    algorithm: str = "MD5",
    qop: str | None = None,
    nc: str = "00000001",
    cnonce: str = "",
) -> str:
    """The ``response`` value of digest credentials (RFC 7616 section 3.4.1)."""
    ha1 = _hash(algorithm, f"{username}:{realm}:{password}")
    if algorithm.upper().endswith("-SESS"):
        ha1 = _hash(algorithm, f"{ha1}:{nonce}:{cnonce}")
    ha2 = _hash(algorithm, f"{method}:{uri}")
    if qop:
        return _hash(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _hash(algorithm, f"{ha1}:{nonce}:{ha2}")


def build_authorization(
    challenge: str, *, username: str, password: str, method: str, uri: str, cnonce: str, nc: int = 1
) -> str:
    """Credentials answering a ``WWW-Authenticate`` / ``Proxy-Authenticate`` value."""
    ch = parse_digest(challenge)
    algorithm = ch.get("algorithm", "MD5")
    qop = "auth" if "auth" in [q.strip() for q in ch.get("qop", "").split(",")] else None
    ncs = f"{nc:08x}"
    response = digest_response(
        username=username,
        password=password,
        realm=ch.get("realm", ""),
        nonce=ch.get("nonce", ""),
        method=method,
        uri=uri,
        algorithm=algorithm,
        qop=qop,
        nc=ncs,
        cnonce=cnonce,
    )
    fields = [
        f'username="{username}"',
        f'realm="{ch.get("realm", "")}"',
        f'nonce="{ch.get("nonce", "")}"',
        f'uri="{uri}"',
        f'response="{response}"',
        f"algorithm={algorithm}",
    ]
    if qop:
        fields += [f"qop={qop}", f"nc={ncs}", f'cnonce="{cnonce}"']
    if "opaque" in ch:
        fields.append(f'opaque="{ch["opaque"]}"')
    return "Digest " + ", ".join(fields)


def verify_authorization(credentials: str, *, password: str, method: str) -> bool:
    """Whether digest ``credentials`` (an Authorization value) prove knowledge of ``password``."""
    try:
        cr = parse_digest(credentials)
        expected = digest_response(
            username=cr.get("username", ""),
            password=password,
            realm=cr.get("realm", ""),
            nonce=cr.get("nonce", ""),
            method=method,
            uri=cr.get("uri", ""),
            algorithm=cr.get("algorithm", "MD5"),
            qop=cr.get("qop"),
            nc=cr.get("nc", "00000001"),
            cnonce=cr.get("cnonce", ""),
        )
    except SipError:
        return False
    # In constant time: how long a wrong guess took must not tell how much of it was right.
    return hmac.compare_digest(expected.encode(), cr.get("response", "").lower().encode("utf-8", "replace"))


# -- Subscription-State (RFC 6665 section 8.2.3) ---------------------------------------------------------

_SUBSTATE = re.compile(rf"^\s*({_TOKEN})\s*((?:;\s*{_TOKEN}\s*(?:=\s*(?:{_TOKEN}|\"[^\"]*\"))?\s*)*)$")
_KNOWN_SUBSTATES = ("active", "pending", "terminated")


@dataclass(frozen=True, slots=True)
class SubscriptionState:
    """A parsed ``Subscription-State`` value; ``problem`` says why it is malformed (None when well formed)."""

    state: str
    expires: int | None
    reason: str | None
    problem: str | None


def parse_subscription_state(value: str) -> SubscriptionState:
    """Parse strictly by the RFC 6665 grammar: ``active, 3600`` is reported as malformed, not guessed at."""
    m = _SUBSTATE.match(value)
    if not m:
        state = re.split(r"[\s;,]", value.strip(), maxsplit=1)[0].lower()
        return SubscriptionState(state, None, None, f"malformed Subscription-State {value.strip()!r}")
    state, params = parse_params(value)
    state = state.strip().lower()
    problem = None
    expires = None
    if "expires" in params:
        if is_number(params["expires"]):
            expires = int(params["expires"])
        else:
            problem = f"expires={params['expires']!r} is not a number"
    if state not in _KNOWN_SUBSTATES:
        problem = f"unknown subscription state {state!r}"
    return SubscriptionState(state, expires, params.get("reason"), problem)
