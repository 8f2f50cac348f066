"""Digest authentication (RFC 2617, RFC 7616, RFC 8760): MD5 and SHA-256, qop=auth; both the
client's credentials and the server's check."""

from __future__ import annotations

import hashlib
import hmac

from analyzer.sip.headers import SipError, split_commas, unquote

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
            out[name.strip().lower()] = unquote(val.strip())
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
