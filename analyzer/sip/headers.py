"""SIP header fields (RFC 3261 section 7.3): names (compact and canonical), ordered case-insensitive
``Headers``, comma and semicolon splitting that respects quotes and ``<...>``, header parameters."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator

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


TOKEN = r"[A-Za-z0-9.!%*_+`'~-]+"

HEADER_NAME = re.compile(rf"^{TOKEN}$")


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
            params[name] = unquote(val.strip())
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


def unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value
