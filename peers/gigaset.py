"""A Gigaset-like DECT base for ``as-feature-event``, sans-IO: one SIP account per handset, one base address.

Only accounts provisioned with ``FeatureKeySyncActive=1`` subscribe (``accounts_from``), and none does on
an N610/N670 with internal telephony enabled (GS). The base answers every NOTIFY with 200 OK and keeps the
handset's view of each feature; handset-menu actions become in-dialog SUBSCRIBE change requests; a 401/407
is answered once with digest credentials. Every method returns the ``Outgoing`` messages for a transport.

Not yet here (see the live-peers issue): REGISTER, automatic refresh before expiry, TCP.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from analyzer.bodies import read_body
from analyzer.dialogs import PACKAGE
from analyzer.documents import MEDIA_TYPE, build_document
from analyzer.observation import Endpoint
from analyzer.provisioning import Provisioning
from analyzer.sip import SipError, SipMessage, build_authorization, build_message, parse_message, response_to
from peers.features import FORWARDING, FeatureState
from peers.outgoing import Outgoing

UNSUPPORTED_WITH_INTERNAL_TELEPHONY = ("N610", "N670")


@dataclass
class Handset:
    """One handset account and its subscription dialog."""

    user: str
    domain: str
    password: str | None = field(default=None, repr=False)
    call_id: str = ""
    tag: str = ""
    remote_tag: str | None = None
    cseq: int = 0
    view: FeatureState = field(default_factory=FeatureState)
    pending: dict[str, bytes] = field(default_factory=dict)  # branch -> request, for a digest retry
    notified: int = 0
    refresh_at: float | None = None  # when to refresh: 80 % into the granted expiry
    ended: bool = False  # an unsubscribe was granted
    terminated: bool = False  # a NOTIFY said Subscription-State: terminated
    remote_cseq: int | None = None  # the highest NOTIFY CSeq seen (RFC 3261 12.2.2)

    @property
    def aor(self) -> str:
        return f"sip:{self.user}@{self.domain}"


def accounts_from(
    provisioning: Provisioning, *, model: str | None = None, internal_telephony: bool | None = None
) -> list[Handset]:
    """The handsets that subscribe: FeatureKeySyncActive=1, on a configuration that supports the feature."""
    model = (model or provisioning.model or "").upper()
    internal = internal_telephony if internal_telephony is not None else provisioning.internal_telephony
    if model in UNSUPPORTED_WITH_INTERNAL_TELEPHONY and internal:
        return []
    return [
        Handset(a.user_name, a.domain or "example.test", a.auth_password)
        for a in provisioning.accounts.values()
        if a.fks_enabled and a.user_name
    ]


@dataclass
class Base:
    local: Endpoint
    server: Endpoint
    handsets: dict[str, Handset]
    expires: int = 3600
    user_agent: str = "fks Gigaset-like base"
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    # -- handset actions -----------------------------------------------------------------------------------
    def subscribe(self, user: str) -> Outgoing:
        """Establish (or refresh, once established) the subscription of one handset account."""
        return self._subscribe(self._dialog(user), self.expires, b"")

    def _dialog(self, user: str) -> Handset:
        hs = self.handsets[user]
        if not hs.call_id:
            hs.call_id = f"fks-{user}-{next(self._counter)}@{self.local.host}"
            hs.tag = f"hs{next(self._counter)}"
        return hs

    def set_dnd(self, user: str, on: bool) -> Outgoing:
        return self._change(user, build_document("SetDoNotDisturb", device=user, dnd=on))

    def set_forward(self, user: str, feature: str, on: bool, target: str = "", rings: int | None = None) -> Outgoing:
        doc = build_document(
            "SetForwarding",
            device=user,
            forwarding_type=FORWARDING[feature],
            active=on,
            target=target,
            ring_count=rings if feature == "CFNA" else None,
        )
        return self._change(user, doc)

    def unsubscribe(self, user: str) -> Outgoing:
        """``Expires: 0``: ends the subscription, or, sent before any, is a one-off fetch (RFC 6665)."""
        return self._subscribe(self._dialog(user), 0, b"")

    def dial(self, user: str, number: str) -> Outgoing:
        """Dial a number (a feature access code such as ``*78``) from the handset."""
        hs = self.handsets[user]
        headers = self._common(hs, f"fac-{next(self._counter)}@{self.local.host}")
        headers[3] = ("To", f"<sip:{number}@{hs.domain}>")
        headers[2] = ("From", f"<{hs.aor}>;tag=d{next(self._counter)}")
        data = build_message(f"INVITE sip:{number}@{hs.domain} SIP/2.0", [*headers, ("CSeq", "1 INVITE")])
        return Outgoing(data, self.server, request=True)

    def _change(self, user: str, doc: bytes) -> Outgoing:
        return self._subscribe(self.handsets[user], self.expires, doc)

    # -- input ---------------------------------------------------------------------------------------------
    def due(self, now: float) -> list[Outgoing]:
        """Refreshes that are due (RFC 6665: before the granted expiry; this base refreshes at 80 %)."""
        out = []
        for hs in self.handsets.values():
            if hs.refresh_at is not None and hs.refresh_at <= now:
                hs.refresh_at = None
                out.append(self.subscribe(hs.user))
        return out

    def receive(self, data: bytes, src: Endpoint, now: float = 0.0) -> list[Outgoing]:
        try:
            msg = parse_message(data)
        except SipError:
            return []
        hs = next((h for h in self.handsets.values() if h.call_id and h.call_id == msg.call_id), None)
        if msg.is_request:
            return self._request(msg, src, hs)
        if hs is None or msg.cseq_method != "SUBSCRIBE":
            return []
        if msg.status in (401, 407) and hs.password is not None:
            return self._retry(hs, msg)
        if msg.status is not None and 200 <= msg.status < 300 and msg.to_tag and msg.expires != 0:
            hs.remote_tag = msg.to_tag
            if msg.expires:
                hs.refresh_at = now + 0.8 * msg.expires
        elif msg.status is not None and 200 <= msg.status < 300 and msg.expires == 0:
            hs.refresh_at = None
            hs.ended = True
        return []

    def _request(self, msg: SipMessage, src: Endpoint, hs: Handset | None) -> list[Outgoing]:
        if msg.method == "ACK":
            return []
        if msg.method != "NOTIFY":
            return [Outgoing(self._answer(msg, 405, "Method Not Allowed"), src)]
        if hs is None or msg.to_tag != hs.tag:
            return [Outgoing(self._answer(msg, 481, "Call/Transaction Does Not Exist"), src)]
        cseq = msg.cseq_number or 0
        if hs.remote_cseq is not None and cseq < hs.remote_cseq:
            # RFC 3261 12.2.2: an older request arriving late (reordered) must not roll the state back
            return [Outgoing(self._answer(msg, 500, "Server Internal Error"), src)]
        if cseq != hs.remote_cseq:  # a retransmission (same CSeq) is answered again, not applied again
            hs.remote_cseq = cseq
            hs.notified += 1
            hs.remote_tag = hs.remote_tag or msg.from_tag
            hs.terminated = (msg.headers.get("Subscription-State") or "").strip().lower().startswith("terminated")
            self._update_view(hs, msg)
        return [Outgoing(self._answer(msg, 200, "OK"), src)]

    def _update_view(self, hs: Handset, msg: SipMessage) -> None:
        for doc in read_body(msg).documents:
            hs.view.apply(doc)

    def _retry(self, hs: Handset, challenge: SipMessage) -> list[Outgoing]:
        request = hs.pending.pop(challenge.branch or "", None)
        header = challenge.headers.get("WWW-Authenticate") or challenge.headers.get("Proxy-Authenticate")
        if request is None or header is None or hs.password is None:
            return []
        original = parse_message(request)
        uri = original.uri or hs.aor
        credentials = build_authorization(
            header, username=hs.user, password=hs.password, method="SUBSCRIBE", uri=uri, cnonce=f"c{hs.cseq}"
        )
        name = "Authorization" if challenge.status == 401 else "Proxy-Authorization"
        return [self._subscribe(hs, original.expires or 0, original.body, extra=[(name, credentials)])]

    # -- building messages ---------------------------------------------------------------------------------
    def _common(self, hs: Handset, call_id: str) -> list[tuple[str, str]]:
        return [
            ("Via", f"SIP/2.0/UDP {self.local};branch=z9hG4bK-b{next(self._counter)}"),
            ("Max-Forwards", "70"),
            ("From", f"<{hs.aor}>;tag={hs.tag}"),
            ("To", f"<{hs.aor}>" + (f";tag={hs.remote_tag}" if hs.remote_tag else "")),
            ("Call-ID", call_id),
            ("Contact", f"<sip:{hs.user}@{self.local}>"),
            ("User-Agent", self.user_agent),
        ]

    def _subscribe(self, hs: Handset, expires: int, body: bytes, extra: list[tuple[str, str]] = ()) -> Outgoing:
        hs.cseq += 1
        headers = self._common(hs, hs.call_id)
        headers += [("CSeq", f"{hs.cseq} SUBSCRIBE"), ("Event", PACKAGE), ("Accept", MEDIA_TYPE)]
        headers += [("Expires", str(expires)), *extra]
        if body:
            headers.append(("Content-Type", MEDIA_TYPE))
        data = build_message(f"SUBSCRIBE {hs.aor} SIP/2.0", headers, body)
        if not extra:  # a request carrying credentials is not retried again: a second 401 is final
            hs.pending[headers[0][1].rsplit("branch=", 1)[1]] = data
        return Outgoing(data, self.server, request=True)

    def _answer(self, msg: SipMessage, status: int, reason: str) -> bytes:
        return response_to(msg, status, reason, [("User-Agent", self.user_agent)])
