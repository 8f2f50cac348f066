"""A Gigaset-like DECT base for ``as-feature-event``, sans-IO: one SIP account per handset, one base address.

Only accounts provisioned with ``FeatureKeySyncActive=1`` subscribe (``accounts_from``), and none does on
an N610/N670 with internal telephony enabled (GS). The base answers every NOTIFY with 200 OK and keeps the
handset's view of each feature; handset-menu actions become in-dialog SUBSCRIBE change requests; every
account REGISTERs; dialling a FAC is an INVITE (ACKed when it fails); a 401/407 to any request is answered
once with digest credentials (MD5 or SHA-256, the first challenge whose algorithm is known). ``due(now)``
gives the refreshes that are due. Every method returns the ``Outgoing`` messages for a transport;
``transport`` only names the Via's protocol.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from analyzer.bodies import read_body
from analyzer.documents import MEDIA_TYPE
from analyzer.observation import Endpoint
from analyzer.provisioning import Provisioning
from analyzer.sip import (
    SipError,
    SipMessage,
    build_authorization,
    build_message,
    parse_message,
    response_to,
    uri_user,
)
from analyzer.vocab import PACKAGE
from peers.sansio.features import FeatureState, change_request
from peers.sansio.outgoing import Outgoing

UNSUPPORTED_WITH_INTERNAL_TELEPHONY = ("N610", "N670")


@dataclass
class Dialog:
    """The handset's subscription dialog as the base keeps it (RFC 6665): identifiers, CSeqs, refresh."""

    call_id: str = ""
    tag: str = ""
    remote_tag: str | None = None
    cseq: int = 0
    remote_cseq: int | None = None  # the highest NOTIFY CSeq seen (RFC 3261 12.2.2)
    refresh_at: float | None = None  # when to refresh: 80 % into the granted expiry
    ended: bool = False  # an unsubscribe was granted
    terminated: bool = False  # a NOTIFY said Subscription-State: terminated


@dataclass
class Registration:
    """The account's REGISTER dialog."""

    call_id: str = ""
    cseq: int = 0
    registered: bool = False


@dataclass
class Screen:
    """What reached the handset: the features as the AS reported them, and counts a scenario waits on."""

    view: FeatureState = field(default_factory=FeatureState)
    reported: set[str] = field(default_factory=set)  # the features some NOTIFY reported ("DND", "CFA", ...)
    notified: int = 0  # NOTIFYs applied (retransmissions aside)
    dialled: list[int] = field(default_factory=list)  # final statuses of the FAC calls


@dataclass
class Handset:
    """One handset account (its provisioning), its registration, its subscription dialog and its screen."""

    user: str
    domain: str
    password: str | None = field(default=None, repr=False)
    auth_name: str | None = None  # AuthName, when it differs from the user part
    label: str = ""  # the base's name for it when one user has several handsets (default: the user part)
    feature_sync: bool = True  # FeatureKeySyncActive=1 (only these subscribe)
    dialog: Dialog = field(default_factory=Dialog)
    registration: Registration = field(default_factory=Registration)
    screen: Screen = field(default_factory=Screen)

    @property
    def aor(self) -> str:
        return f"sip:{self.user}@{self.domain}"


def accounts_from(
    provisioning: Provisioning,
    *,
    model: str | None = None,
    internal_telephony: bool | None = None,
    include_disabled: bool = False,
    domain: str = "example.test",
) -> list[Handset]:
    """The handsets that subscribe: FeatureKeySyncActive=1, on a configuration that supports the feature
    (``include_disabled``: every account, the others with ``feature_sync=False``, for REGISTER; ``domain``: the
    AOR's domain of an account whose provider block names none)."""
    model = (model or provisioning.model or "").upper()
    internal = internal_telephony if internal_telephony is not None else provisioning.internal_telephony
    supported = not (model in UNSUPPORTED_WITH_INTERNAL_TELEPHONY and internal)
    handsets = [
        Handset(
            a.user_name,
            a.domain or domain,
            a.auth_password,
            auth_name=a.auth_name,
            feature_sync=bool(a.fks_enabled) and supported,
        )
        for a in provisioning.accounts.values()
        if a.user_name
    ]
    return handsets if include_disabled else [h for h in handsets if h.feature_sync]


Extras = Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Sent:
    """A request of the base, kept until its final response."""

    handset: Handset
    method: str
    data: bytes
    authenticated: bool


@dataclass
class Base:
    local: Endpoint
    server: Endpoint
    handsets: dict[str, Handset]
    expires: int = 3600
    user_agent: str = "fks Gigaset-like base"
    transport: str = "UDP"  # for the Via (and, over TLS, the sips: Contact)
    track_view: bool = True  # read NOTIFY bodies into each handset's view (a storm has no use for it)
    _sent: dict[str, Sent] = field(default_factory=dict)  # branch -> request awaiting its final response
    _acks: dict[str, Outgoing] = field(default_factory=dict)  # INVITE branch -> its ACK, for retransmissions
    _dialogs: dict[str, Handset] = field(default_factory=dict)  # Call-ID -> handset (250 handsets, or a storm)
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    # unique per base instance: a long-running AS must never mistake a new run's dialog for an old one
    _run: str = field(default_factory=lambda: secrets.token_hex(3))

    # -- handset actions -----------------------------------------------------------------------------------
    def subscribe(self, user: str) -> Outgoing:
        """Establish (or refresh, once established) the subscription of one handset account."""
        return self._subscribe(self._dialog(user), self.expires, b"")

    def _dialog(self, user: str) -> Handset:
        hs = self.handsets[user]
        if not hs.dialog.call_id:
            hs.dialog.call_id = f"fks-{user}-{next(self._counter)}-{self._run}@{self.local.host}"
            self._dialogs[hs.dialog.call_id] = hs
            hs.dialog.tag = f"hs{next(self._counter)}{self._run}"
        return hs

    def forget(self, user: str) -> list[str]:
        """Drop the handset's subscription dialog (the base restarted): its next SUBSCRIBE establishes anew.
        Returns the branches of its SUBSCRIBEs still awaiting an answer: given up with the dialog, they must not
        be retransmitted (an AS would grant the old dialog and notify a handset that no longer knows it)."""
        hs = self.handsets[user]
        given_up = [b for b, s in self._sent.items() if s.handset is hs and s.method == "SUBSCRIBE"]
        for branch in given_up:
            del self._sent[branch]
        self._dialogs.pop(hs.dialog.call_id, None)
        hs.dialog = Dialog(cseq=hs.dialog.cseq)  # a new dialog; its CSeqs go on rising all the same
        return given_up

    def set_dnd(self, user: str, on: bool) -> Outgoing:
        return self._change(user, change_request("DND", on, user))

    def set_forward(self, user: str, feature: str, on: bool, target: str = "", rings: int | None = None) -> Outgoing:
        return self._change(user, change_request(feature, on, user, target, rings))

    def unsubscribe(self, user: str) -> Outgoing:
        """``Expires: 0``: ends the subscription, or, sent before any, is a one-off fetch (RFC 6665)."""
        return self._subscribe(self._dialog(user), 0, b"")

    def dial(self, user: str, number: str) -> Outgoing:
        """Dial a number (a feature access code such as ``*78``) from the handset: an INVITE, ACKed when it
        fails (RFC 3261 17.1.1.3), retried once with credentials when challenged."""
        hs = self.handsets[user]
        call_id = f"fac-{next(self._counter)}-{self._run}@{self.local.host}"
        return self._invite(hs, number, call_id, f"d{next(self._counter)}", 1)

    def _invite(self, hs: Handset, number: str, call_id: str, tag: str, cseq: int, extra: Extras = ()) -> Outgoing:
        uri = f"sip:{number}@{hs.domain}"
        headers = [
            *self._via(),
            ("From", f"<{hs.aor}>;tag={tag}"),
            ("To", f"<{uri}>"),
            ("Call-ID", call_id),
            ("CSeq", f"{cseq} INVITE"),
            *self._contact(hs),
            *extra,
        ]
        return self._send(hs, build_message(f"INVITE {uri} SIP/2.0", headers), authenticated=bool(extra))

    def ping(self) -> Outgoing:
        """An OPTIONS keep-alive to the AS (bases send them to keep NAT bindings open)."""
        hs = next(iter(self.handsets.values()))
        headers = [
            *self._via(),
            ("From", f"<{hs.aor}>;tag=p{next(self._counter)}"),
            ("To", f"<sip:{hs.domain}>"),
            ("Call-ID", f"ping-{next(self._counter)}-{self._run}@{self.local.host}"),
            ("CSeq", "1 OPTIONS"),
            *self._contact(hs),
        ]
        return self._send(hs, build_message(f"OPTIONS sip:{hs.domain} SIP/2.0", headers), authenticated=True)

    def register(self, user: str, expires: int = 3600) -> Outgoing:
        """REGISTER the handset account (every account registers; only enabled ones then subscribe)."""
        hs = self.handsets[user]
        hs.registration.call_id = (
            hs.registration.call_id or f"reg-{user}-{next(self._counter)}-{self._run}@{self.local.host}"
        )
        return self._register(hs, expires)

    def _register(self, hs: Handset, expires: int, extra: Extras = ()) -> Outgoing:
        hs.registration.cseq += 1
        headers = [
            *self._via(),
            ("From", f"<{hs.aor}>;tag=r{hs.registration.cseq}"),
            ("To", f"<{hs.aor}>"),
            ("Call-ID", hs.registration.call_id),
            ("CSeq", f"{hs.registration.cseq} REGISTER"),
            *self._contact(hs),
            ("Expires", str(expires)),
            *extra,
        ]
        return self._send(hs, build_message(f"REGISTER sip:{hs.domain} SIP/2.0", headers), authenticated=bool(extra))

    def change(self, user: str, doc: bytes) -> Outgoing:
        """A change request carrying ``doc`` as it is (the menu actions build theirs; tests bring their own)."""
        return self._subscribe(self._dialog(user), self.expires, doc)

    def _change(self, user: str, doc: bytes) -> Outgoing:
        return self.change(user, doc)

    # -- input ---------------------------------------------------------------------------------------------
    def due(self, now: float) -> list[Outgoing]:
        """Refreshes that are due (RFC 6665: before the granted expiry; this base refreshes at 80 %)."""
        out = []
        for hs in self.handsets.values():
            if hs.dialog.refresh_at is not None and hs.dialog.refresh_at <= now:
                hs.dialog.refresh_at = None
                out.append(self.subscribe(hs.user))
        return out

    def receive(self, data: bytes, src: Endpoint, now: float = 0.0) -> list[Outgoing]:
        try:
            msg = parse_message(data)
        except SipError:
            return []
        if msg.is_request:
            hs = self._dialogs.get(msg.call_id or "")
            return self._request(msg, src, hs)
        if msg.status is None or msg.status < 200:
            return []
        branch = msg.branch or ""
        if branch in self._acks:  # a retransmitted final response to an INVITE: ACK it again
            return [self._acks[branch]]
        sent = self._sent.pop(branch, None)
        if sent is None:
            return []
        out = [self._ack(sent, msg)] if sent.method == "INVITE" else []
        if msg.status in (401, 407) and not sent.authenticated and sent.handset.password is not None:
            retry = self._retry(sent, msg)
            return out + ([retry] if retry else [])
        hs, ok = sent.handset, 200 <= msg.status < 300
        if sent.method == "REGISTER":
            hs.registration.registered = ok
        elif sent.method == "INVITE":
            hs.screen.dialled.append(msg.status)
        elif sent.method == "SUBSCRIBE" and ok and msg.expires != 0 and msg.to_tag:
            hs.dialog.remote_tag = msg.to_tag
            if msg.expires:
                hs.dialog.refresh_at = now + 0.8 * msg.expires
        elif sent.method == "SUBSCRIBE" and ok and msg.expires == 0:
            hs.dialog.refresh_at = None
            hs.dialog.ended = True
        return out

    def _request(self, msg: SipMessage, src: Endpoint, hs: Handset | None) -> list[Outgoing]:
        if msg.method == "ACK":
            return []
        if msg.method != "NOTIFY":
            return [Outgoing(self._answer(msg, 405, "Method Not Allowed"), src)]
        if hs is None or msg.to_tag != hs.dialog.tag:
            return [Outgoing(self._answer(msg, 481, "Call/Transaction Does Not Exist"), src)]
        cseq = msg.cseq_number or 0
        if hs.dialog.remote_cseq is not None and cseq < hs.dialog.remote_cseq:
            # RFC 3261 12.2.2: an older request arriving late (reordered) must not roll the state back
            return [Outgoing(self._answer(msg, 500, "Server Internal Error"), src)]
        if cseq != hs.dialog.remote_cseq:  # a retransmission (same CSeq) is answered again, not applied again
            hs.dialog.remote_cseq = cseq
            hs.screen.notified += 1
            hs.dialog.remote_tag = hs.dialog.remote_tag or msg.from_tag
            hs.dialog.terminated = (
                (msg.headers.get("Subscription-State") or "").strip().lower().startswith("terminated")
            )
            if self.track_view:
                self._update_view(hs, msg)
        return [Outgoing(self._answer(msg, 200, "OK"), src)]

    def _update_view(self, hs: Handset, msg: SipMessage) -> None:
        for doc in read_body(msg).documents:
            if (feature := hs.screen.view.apply(doc)) is not None:
                hs.screen.reported.add(feature)

    def _retry(self, sent: Sent, challenge: SipMessage) -> Outgoing | None:
        """The request again, with credentials for the first challenge whose algorithm we know."""
        hs, original = sent.handset, parse_message(sent.data)
        name = "Authorization" if challenge.status == 401 else "Proxy-Authorization"
        headers = challenge.headers.get_all("WWW-Authenticate" if challenge.status == 401 else "Proxy-Authenticate")
        assert hs.password is not None
        for header in headers:
            try:
                credentials = build_authorization(
                    header,
                    username=hs.auth_name or hs.user,
                    password=hs.password,
                    method=sent.method,
                    uri=original.uri or hs.aor,
                    cnonce=f"c{next(self._counter)}",
                )
            except SipError:
                continue  # an algorithm we do not know: try the next challenge
            extra = [(name, credentials)]
            if sent.method == "REGISTER":
                return self._register(hs, original.expires or 0, extra)
            if sent.method == "INVITE":
                number = uri_user(original.uri or "") or ""
                return self._invite(hs, number, original.call_id or "", original.from_tag or "", 2, extra)
            return self._subscribe(hs, original.expires or 0, original.body, extra)
        return None

    def _ack(self, sent: Sent, response: SipMessage) -> Outgoing:
        """ACK for a non-2xx final response: same branch, the response's To (RFC 3261 17.1.1.3)."""
        invite = parse_message(sent.data)
        headers = [
            ("Via", invite.headers.get("Via") or ""),
            ("Max-Forwards", "70"),
            ("From", invite.headers.get("From") or ""),
            ("To", response.headers.get("To") or ""),
            ("Call-ID", invite.call_id or ""),
            ("CSeq", f"{invite.cseq_number} ACK"),
        ]
        ack = Outgoing(build_message(f"ACK {invite.uri} SIP/2.0", headers), self.server)
        self._acks[invite.branch or ""] = ack
        return ack

    # -- building messages ---------------------------------------------------------------------------------
    def _via(self) -> list[tuple[str, str]]:
        branch = f"z9hG4bK-b{next(self._counter)}"
        # over TLS: requests for us come back on this connection (RFC 5923 alias, RFC 3581 rport), since a
        # base behind NAT cannot be reached at the address its Via names
        reuse = ";rport;alias" if self.transport == "TLS" else ""
        via = f"SIP/2.0/{self.transport} {self.local};branch={branch}{reuse}"
        return [("Via", via), ("Max-Forwards", "70")]

    def _contact(self, hs: Handset) -> list[tuple[str, str]]:
        scheme = "sips" if self.transport == "TLS" else "sip"  # RFC 5630: reach me over TLS only
        return [("Contact", f"<{scheme}:{hs.user}@{self.local}>"), ("User-Agent", self.user_agent)]

    def _send(self, hs: Handset, data: bytes, *, authenticated: bool) -> Outgoing:
        """Remember the request by its branch, to answer a challenge and to know what a response is for."""
        msg = parse_message(data)
        self._sent[msg.branch or ""] = Sent(hs, msg.method or "", data, authenticated)
        return Outgoing(data, self.server, request=True)

    def _subscribe(self, hs: Handset, expires: int, body: bytes, extra: Extras = ()) -> Outgoing:
        hs.dialog.cseq += 1
        headers = [
            *self._via(),
            ("From", f"<{hs.aor}>;tag={hs.dialog.tag}"),
            ("To", f"<{hs.aor}>" + (f";tag={hs.dialog.remote_tag}" if hs.dialog.remote_tag else "")),
            ("Call-ID", hs.dialog.call_id),
            *self._contact(hs),
            ("CSeq", f"{hs.dialog.cseq} SUBSCRIBE"),
            ("Event", PACKAGE),
            ("Accept", MEDIA_TYPE),
            ("Expires", str(expires)),
            *extra,
        ]
        if body:
            headers.append(("Content-Type", MEDIA_TYPE))
        data = build_message(f"SUBSCRIBE {hs.aor} SIP/2.0", headers, body)
        return self._send(hs, data, authenticated=bool(extra))

    def _answer(self, msg: SipMessage, status: int, reason: str) -> bytes:
        return response_to(msg, status, reason, [("User-Agent", self.user_agent)])
