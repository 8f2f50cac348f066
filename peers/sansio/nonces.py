"""Digest nonces for the AS emulator: issued, expired and replay-checked without keeping a table of them.

A nonce is ``<issue time>.<random>.<HMAC of both>``, so the AS recognises its own nonces and their age from
the value alone (RFC 7616 section 3.3 suggests this shape). Replays are refused by remembering the highest
nonce count (``nc``) seen per nonce; that memory is bounded (oldest forgotten first), and a forgotten nonce
issued no later than the newest forgotten one is refused as stale (the client simply retries).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import Enum

from analyzer.sip import SipError, parse_digest, verify_authorization


class Check(str, Enum):
    OK = "ok"
    STALE = "stale"  # a nonce of ours, expired: RFC 7616 asks for a new challenge with stale=true
    REPLAY = "replay"  # the nonce count did not increase: the request is a replay
    INVALID = "invalid"  # not our nonce, wrong realm, wrong response, unknown user


@dataclass
class Nonces:
    realm: str
    ttl: float = 300.0
    algorithms: tuple[str, ...] = ("MD5",)
    limit: int = 10_000
    _secret: bytes = field(default_factory=lambda: secrets.token_bytes(16), repr=False)
    _counts: OrderedDict[str, int] = field(default_factory=OrderedDict)
    _forgotten: float = -1.0  # nonces issued up to then may have been forgotten: refused as stale

    def issue(self, now: float) -> str:
        stamp = f"{int(now * 1000):x}.{secrets.token_hex(4)}"
        return f"{stamp}.{self._sign(stamp)}"

    def challenges(self, now: float, stale: bool = False) -> list[str]:
        """One ``WWW-Authenticate`` value per offered algorithm (RFC 8760: the preferred one first)."""
        nonce = self.issue(now)
        flag = ", stale=true" if stale else ""
        return [
            f'Digest realm="{self.realm}", nonce="{nonce}", qop="auth", algorithm={alg}{flag}'
            for alg in self.algorithms
        ]

    def check(self, credentials: str, password: str | None, method: str, now: float) -> Check:
        try:
            fields = parse_digest(credentials)
        except SipError:
            return Check.INVALID
        nonce = fields.get("nonce", "")
        stamp, _, signature = nonce.rpartition(".")
        if (
            password is None
            or fields.get("realm") != self.realm
            or not hmac.compare_digest(signature.encode("utf-8", "replace"), self._sign(stamp).encode())
        ):
            return Check.INVALID
        if fields.get("algorithm", "MD5").upper() not in {a.upper() for a in self.algorithms}:
            return Check.INVALID
        if not verify_authorization(credentials, password=password, method=method):
            return Check.INVALID
        try:
            issued = int(stamp.split(".", 1)[0], 16) / 1000
            nc = int(fields.get("nc", "1"), 16)  # without qop a nonce is good for one request
        except ValueError:
            return Check.INVALID
        if now - issued > self.ttl or (nonce not in self._counts and issued <= self._forgotten):
            return Check.STALE
        if nc <= self._counts.get(nonce, 0):
            return Check.REPLAY
        self._counts[nonce] = nc
        self._counts.move_to_end(nonce)
        while len(self._counts) > self.limit:
            old, _ = self._counts.popitem(last=False)
            self._forgotten = max(self._forgotten, int(old.split(".", 1)[0], 16) / 1000)
        return Check.OK

    def _sign(self, stamp: str) -> str:
        return hmac.new(self._secret, stamp.encode(), hashlib.sha256).hexdigest()[:16]
