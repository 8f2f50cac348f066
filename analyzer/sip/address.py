"""Addresses in headers: name-addr / addr-spec values (From, To, Contact) and the user and AOR of a URI."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from analyzer.sip.headers import SipError, parse_params, unquote


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
            display = unquote(value[:lt].strip())
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
