"""A BroadWorks-like Application Server for ``as-feature-event``, sans-IO: datagrams in, datagrams out.

``ApplicationServer.receive(data, src, now)`` returns the messages to send (``Outgoing``); a transport moves
them. What it does (docs/protocol.md, "The exchanges"):
- 200 OK with Expires capped at ``max_expires``, then the full state as one ``multipart/mixed`` NOTIFY;
  a body-less refresh gets the full state again; an out-of-dialog ``Expires: 0`` (a fetch) gets the state
  and a terminated NOTIFY;
- a change request (SetDoNotDisturb / SetForwarding in a SUBSCRIBE) gets 200 and a confirming NOTIFY on
  every subscription of that user; an invalid document gets 400; a ``policy`` may refuse or override;
- ``Expires: 0`` in a dialog gets 200 and a final ``terminated`` NOTIFY;
- a FAC INVITE (``*78`` ...) changes the state and notifies it; ``portal_change`` does the same for the web
  portal (``peers/io/portal.py``);
- with passwords configured, SUBSCRIBE, REGISTER and INVITE are challenged with digest (401, qop=auth, MD5
  and/or SHA-256); nonces expire (``stale=true``) and a replayed nonce count is refused (``peers/sansio/nonces``);
- ``due(now)`` ends subscriptions that expired unrefreshed with a terminated NOTIFY;
- a retransmitted request gets the cached response again, never a second transaction;
- ``profile`` (``peers/sansio/profiles.py``) reproduces other servers' behaviour and single deviations.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from analyzer.documents import MEDIA_TYPE, DocumentError, FeatureDocument, parse_document
from analyzer.fac import DEFAULT_FACS, Fac, match_fac
from analyzer.observation import Endpoint
from analyzer.sip import (
    Headers,
    Part,
    SipError,
    SipMessage,
    build_message,
    build_multipart,
    build_response,
    parse_message,
    response_to,
    uri_user,
)
from analyzer.vocab import PACKAGE
from peers.sansio.features import DEVICE_MARK, FeatureState, with_device
from peers.sansio.nonces import Check, Nonces
from peers.sansio.outgoing import Outgoing
from peers.sansio.plain import PlainSubscribe, read_plain_subscribe
from peers.sansio.profiles import PROFILES, Profile

BOUNDARY = "as-feature-event-boundary"
_PART_HEADERS = Headers([("Content-Type", MEDIA_TYPE)])  # one per NOTIFY part, never changed: shared
TIMER_F = 32.0
ANSWERED_LIMIT = 50_000  # responses kept to answer retransmitted requests (bounded under a storm or a flood)
_SERVER = (("Server", "fks BroadWorks-like AS"),)
_GRANTED = {200: "OK", 202: "Accepted"}


_MULTIPART = f"multipart/mixed;boundary={BOUNDARY}"
_UNCHANGED = FeatureState()  # the state of every user never changed nor preset (shared: never written)


def _multipart(docs: list[bytes]) -> bytes:
    return build_multipart([Part(_PART_HEADERS, d) for d in docs], BOUNDARY)


def full_state(state: FeatureState, user: str, namespace: str | None) -> bytes:
    """A user's full state as one multipart body. A storm of distinct users sends the same few states, so the
    body is built once per state with a mark where the device goes, as each document is
    (``features.with_device``)."""
    put = with_device(user)
    if put is None:
        return _multipart(state.documents(user, namespace))
    key = (state.key(), namespace)
    marked = _MARKED.get(key)
    if marked is None:
        if len(_MARKED) >= 256:  # bounded: states with ever new targets must not grow it
            _MARKED.clear()
        marked = _MARKED[key] = _multipart(state.documents(DEVICE_MARK, namespace))
    return put(marked)


_MARKED: dict[tuple[object, ...], bytes] = {}  # (state key, namespace) -> the full state built for DEVICE_MARK


@dataclass(slots=True)
class ServedSubscription:
    """One subscription this AS serves (named apart from ``analyzer.dialogs.Subscription``, the observed one)."""

    call_id: str
    remote_tag: str
    local_tag: str
    remote: Endpoint
    user: str
    contact: str
    expires_at: float
    event_id: str | None = None
    cseq: int = 0


@dataclass
class ApplicationServer:
    local: Endpoint
    passwords: dict[str, str] = field(default_factory=dict)  # user -> password; empty: an open lab AS
    max_expires: int = 3600
    facs: dict[str, Fac] = field(default_factory=lambda: dict(DEFAULT_FACS))
    realm: str = "example.test"
    profile: Profile = PROFILES["broadworks"]
    # The AS has the last word on a handset change: None accepts it, an int refuses it with that status,
    # a document applies that state instead (the confirming NOTIFY then reports what was applied).
    policy: Callable[[str, FeatureDocument], FeatureDocument | int | None] = lambda user, doc: None
    algorithms: tuple[str, ...] = ("MD5",)  # digest algorithms offered, preferred first (RFC 8760)
    nonce_ttl: float = 300.0
    transport: str = "UDP"  # for the Via of the AS's own requests (and, over TLS, the sips: Contact)
    lean: bool = True  # plain initial SUBSCRIBEs answered from their bytes (False: every request parsed in full)
    states: dict[str, FeatureState] = field(default_factory=dict)
    subscriptions: dict[tuple[str, str], ServedSubscription] = field(default_factory=dict)
    # request key -> (when, response): kept for Timer F (32 s) to answer retransmissions, never longer
    _answered: dict[tuple[str, str, Endpoint], tuple[float, bytes]] = field(default_factory=dict)
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.nonces = Nonces(self.realm, self.nonce_ttl, self.algorithms)

    def state(self, user: str) -> FeatureState:
        state = self.states.get(user)
        if state is None:
            state = self.states[user] = FeatureState()
        return state

    # -- input ---------------------------------------------------------------------------------------------
    def receive(self, data: bytes, src: Endpoint, now: float) -> list[Outgoing]:
        if data.startswith(b"SIP/2.0 "):
            if data.startswith(b"SIP/2.0 481"):
                self._refused(data)
            return []  # a response (200 to our NOTIFY): the transport ends its retransmissions; nothing to parse
        if self.lean and data.startswith(b"SUBSCRIBE ") and not self.passwords and not self.profile.reject_package:
            plain = read_plain_subscribe(data)
            if plain is not None:
                key = (plain.branch, "SUBSCRIBE", src)
                out = None if key in self._answered else self._plain_subscribe(plain, src, now)
                if out is not None:
                    return self._answering(key, out, now)
        try:
            msg = parse_message(data)
        except SipError:
            return []  # garbage is dropped, as a real AS does
        if not msg.is_request:
            return []  # 200 OK to our NOTIFYs: the transport stops retransmitting, nothing else to do
        key = (msg.branch or "", msg.method or "", src)
        if key in self._answered:
            return [Outgoing(self._answered[key][1], src)]
        return self._answering(key, self._request(msg, src, now), now)

    def _answering(self, key: tuple[str, str, Endpoint], out: list[Outgoing], now: float) -> list[Outgoing]:
        """Keep the response a request got, to answer its retransmissions with it."""
        if out and not out[0].request:
            self._answered[key] = (now, out[0].data)
            # a transaction lasts 32 s at most (Timer F): forget older answers, and never hold too many
            while self._answered:
                oldest = next(iter(self._answered))
                if self._answered[oldest][0] > now - TIMER_F and len(self._answered) <= ANSWERED_LIMIT:
                    break
                del self._answered[oldest]
        return out

    def _request(self, msg: SipMessage, src: Endpoint, now: float) -> list[Outgoing]:
        method = msg.method
        if method == "ACK":
            return []
        from_ = msg.from_
        user = uri_user(from_.uri if from_ else "") or ""
        if method in ("SUBSCRIBE", "REGISTER", "INVITE"):
            challenge = self._challenge(msg, src, user, now)
            if challenge is not None:
                return [challenge]
        if method == "SUBSCRIBE":
            return self._subscribe(msg, src, user, now)
        if method == "REGISTER":
            return [self._response(msg, src, 200, "OK", [("Expires", msg.expires or 3600)])]
        if method == "INVITE":
            return self._invite(msg, src, user, now)
        if method in ("OPTIONS", "BYE", "CANCEL"):
            return [self._response(msg, src, 200, "OK")]
        allow = [("Allow", "SUBSCRIBE, REGISTER, INVITE, OPTIONS")]
        return [self._response(msg, src, 405, "Method Not Allowed", allow)]

    def _challenge(self, msg: SipMessage, src: Endpoint, user: str, now: float) -> Outgoing | None:
        """None when the request may pass; else the 401 (stale=true for an expired nonce, RFC 7616)."""
        if not self.passwords:
            return None
        credentials = msg.headers.get("Authorization") or msg.headers.get("Proxy-Authorization")
        verdict = Check.INVALID
        if credentials is not None:
            verdict = self.nonces.check(credentials, self.passwords.get(user), msg.method or "", now)
        if verdict is Check.OK:
            return None
        headers = [("WWW-Authenticate", c) for c in self.nonces.challenges(now, stale=verdict is Check.STALE)]
        return self._response(msg, src, 401, "Unauthorized", headers)

    def failed(self, request: Outgoing) -> None:
        """A request of ours that got no final answer (Timer F). For a NOTIFY, the subscription ends (RFC 6665
        section 4.2.2: the subscriber is gone); the transport tells it."""
        self._refused(request.data)

    def _refused(self, data: bytes) -> None:
        """A NOTIFY the subscriber does not know (481) or that no one answered: its subscription ends, and no
        NOTIFY follows. A long-running AS would otherwise notify, for the rest of the grant, an address that a
        later subscriber may have by then (who answers 481 to a dialog it never had). RFC 6665 section 4.2.2
        ends the subscription on any error response without Retry-After; this AS keeps it on the others (a
        500 to a NOTIFY retransmitted out of order, under loss, is no sign that the subscriber left)."""
        try:
            msg = parse_message(data)
        except SipError:
            return
        if msg.cseq_method != "NOTIFY":
            return
        # the NOTIFY, and a response to it, carry our tag in From and the subscriber's in To
        sub = self.subscriptions.get((msg.call_id or "", msg.to_tag or ""))
        if sub is not None and sub.local_tag == msg.from_tag:
            del self.subscriptions[(sub.call_id, sub.remote_tag)]

    def due(self, now: float) -> list[Outgoing]:
        """Subscriptions that expired unrefreshed end with a terminated NOTIFY (RFC 6665 section 4.2.2)."""
        expired = [key for key, sub in self.subscriptions.items() if sub.expires_at <= now]
        out = []
        for key in expired:
            sub = self.subscriptions.pop(key)
            out.append(self._notify(sub, [], "terminated;reason=timeout", now))
        return out

    # -- SUBSCRIBE -----------------------------------------------------------------------------------------
    def _subscribe(self, msg: SipMessage, src: Endpoint, user: str, now: float) -> list[Outgoing]:
        event = msg.event
        if event is None or event[0] != PACKAGE or self.profile.reject_package:
            return [self._response(msg, src, 489, "Bad Event", [("Allow-Events", "presence")])]
        key = (msg.call_id or "", msg.from_tag or "")
        sub = self.subscriptions.get(key)
        requested = msg.expires if msg.expires is not None else self.max_expires
        granted = min(requested, self.max_expires)
        if msg.body.strip():
            return self._change(msg, src, user, sub, granted, now)
        if granted == 0:
            if sub is None:  # a fetch: RFC 6665 answers it with the state and a terminated NOTIFY
                sub = self._new_subscription(msg, src, user, now)
                ok = self._response(msg, src, 200, "OK", [("Expires", 0)], to_tag=sub.local_tag)
                if not self.profile.fetch_notify:
                    return [ok]
                return [ok, *self._state_notifies(sub, "terminated;reason=timeout", now)]
            del self.subscriptions[key]
            ok = self._response(msg, src, 200, "OK", [("Expires", 0)], to_tag=sub.local_tag)
            return [ok, self._notify(sub, [], "terminated;reason=timeout", now)]
        if sub is None:
            sub = self._new_subscription(msg, src, user, now)
            self.subscriptions[key] = sub
        sub.expires_at = now + granted
        status = self.profile.grant_status
        ok = self._response(msg, src, status, _GRANTED.get(status, "Accepted"), [("Expires", granted)], sub.local_tag)
        return self._granted(ok, sub, granted, now)

    def _plain_subscribe(self, plain: PlainSubscribe, src: Endpoint, now: float) -> list[Outgoing] | None:
        """The lean lane: a new subscription from a plain initial SUBSCRIBE, answered as ``_subscribe`` answers
        it; None (the full parse decides) for a known dialog or a zero Expires."""
        key = (plain.call_id, plain.from_tag)
        granted = min(plain.expires if plain.expires is not None else self.max_expires, self.max_expires)
        if granted == 0 or key in self.subscriptions:
            return None
        user = plain.user
        contact = plain.contact or f"<sip:{user}@{src}>"
        tag = f"as{next(self._counter)}"
        sub = self.subscriptions[key] = ServedSubscription(
            plain.call_id, plain.from_tag, tag, src, user, contact, now + granted
        )
        status = self.profile.grant_status
        headers = [*_SERVER, ("Expires", str(granted))]
        reason = _GRANTED.get(status, "Accepted")
        ok = build_response(
            status, reason, plain.vias, plain.from_, plain.to, plain.call_id, plain.cseq, headers, to_tag=tag
        )
        return self._granted(Outgoing(ok, src), sub, granted, now)

    def _granted(self, ok: Outgoing, sub: ServedSubscription, granted: int, now: float) -> list[Outgoing]:
        """The 2xx that grants a subscription, then the initial NOTIFY with the user's full state."""
        if not self.profile.initial_notify:
            return [ok]
        state = f"active;expires={granted}"
        if not self.profile.initial_body:
            return [ok, self._notify(sub, [], state, now)]
        return [ok, *self._state_notifies(sub, state, now)]

    def _new_subscription(self, msg: SipMessage, src: Endpoint, user: str, now: float) -> ServedSubscription:
        contact = (msg.headers.get("Contact") or f"<sip:{user}@{src}>").strip()
        sub = ServedSubscription(
            msg.call_id or "", msg.from_tag or "", f"as{next(self._counter)}", src, user, contact, now
        )
        event = msg.event
        sub.event_id = event[1].get("id") if event else None
        return sub

    def _state_notifies(self, sub: ServedSubscription, state: str, now: float) -> list[Outgoing]:
        """The full state: one multipart NOTIFY, one NOTIFY per feature, or (deviation) documents concatenated."""
        user, namespace = sub.user, self.profile.namespace
        features = self.states.get(user) or _UNCHANGED  # read only: a user's state is made when it changes
        if self.profile.multipart and not self.profile.concatenated:
            return [self._notify(sub, [], state, now, multipart=full_state(features, user, namespace))]
        docs = features.documents(user, namespace)
        if self.profile.concatenated:
            return [self._notify(sub, [b"".join(docs)], state, now)]
        return [self._notify(sub, [doc], state, now) for doc in docs]

    def _change(
        self, msg: SipMessage, src: Endpoint, user: str, sub: ServedSubscription | None, granted: int, now: float
    ) -> list[Outgoing]:
        ctype = msg.content_type
        try:
            if ctype is None or ctype[0] != MEDIA_TYPE:
                raise DocumentError(f"Content-Type is not {MEDIA_TYPE}")
            doc = parse_document(msg.body)
        except DocumentError as exc:
            return [self._response(msg, src, 415 if "Content-Type" in str(exc) else 400, "Bad Request")]
        if doc.kind != "request" or doc.worst == "fail":
            return [self._response(msg, src, 400, "Bad Request")]
        decision = self.policy(user, doc)
        if isinstance(decision, int):
            return [self._response(msg, src, decision, "Forbidden" if decision == 403 else "Refused")]
        feature = self.state(user).apply(decision or doc)
        if sub is not None:
            sub.expires_at = now + granted
        tag = sub.local_tag if sub else f"as{next(self._counter)}"
        out = [self._response(msg, src, 200, "OK", [("Expires", granted)], to_tag=tag)]
        return out + self._notify_user(user, feature, now)

    # -- server-side changes -------------------------------------------------------------------------------
    def _invite(self, msg: SipMessage, src: Endpoint, user: str, now: float) -> list[Outgoing]:
        dialled = (uri_user(msg.uri or "") or "").replace("%2A", "*").replace("%2a", "*")
        hit = match_fac(dialled, self.facs)
        if hit is None:
            return [self._response(msg, src, 404, "Not Found")]
        _, fac, target = hit
        state = self.state(user)
        if fac.feature == "DND":
            state.dnd = fac.on
        else:
            fwd = state.forwards[fac.feature]
            fwd.active = fac.on
            fwd.target = target or fwd.target
        answer = self._response(msg, src, 480, "Temporarily Unavailable", [("Reason", 'SIP;text="feature set"')])
        return [answer, *self._notify_user(user, fac.feature, now)]

    def portal_change(self, user: str, doc: bytes, now: float) -> list[Outgoing]:
        """A change made on the web portal (a Set* or event document): unsolicited NOTIFYs follow."""
        feature = self.state(user).apply(parse_document(doc))
        return self._notify_user(user, feature, now)

    def _notify_user(self, user: str, feature: str | None, now: float) -> list[Outgoing]:
        if feature is None:
            return []
        doc = self.state(user).document(feature, user, self.profile.namespace)
        return [self._notify(s, [doc], "active", now) for s in self.subscriptions.values() if s.user == user]

    # -- building messages ---------------------------------------------------------------------------------
    def _response(
        self,
        msg: SipMessage,
        src: Endpoint,
        status: int,
        reason: str,
        extra: list[tuple[str, object]] | None = None,
        to_tag: str | None = None,
    ) -> Outgoing:
        headers = [*_SERVER, *((n, str(v)) for n, v in extra or [])]
        tag = to_tag or f"as{next(self._counter)}"
        return Outgoing(response_to(msg, status, reason, headers, to_tag=tag), src)

    def _notify(
        self, sub: ServedSubscription, docs: list[bytes], state: str, now: float, multipart: bytes | None = None
    ) -> Outgoing:
        """A NOTIFY with ``docs`` (one: its own body; several: multipart), or with a ``multipart`` body built."""
        sub.cseq += 1
        if state == "active":
            state = f"active;expires={max(0, round(sub.expires_at - now))}"
        if self.profile.malformed_state and state.startswith("active;expires="):
            state = "active, " + state.removeprefix("active;expires=")
        branch = f"z9hG4bK-fks{next(self._counter)}"
        headers = [
            ("Via", f"SIP/2.0/{self.transport} {self.local};branch={branch}"),
            ("Max-Forwards", "70"),
            ("From", f"<sip:{sub.user}@{self.realm}>;tag={sub.local_tag}"),
            ("To", f"<sip:{sub.user}@{self.realm}>;tag={sub.remote_tag}"),
            ("Call-ID", sub.call_id),
            ("CSeq", f"{sub.cseq} NOTIFY"),
            ("Contact", f"<{'sips' if self.transport == 'TLS' else 'sip'}:{self.local}>"),
            ("Event", PACKAGE + (f";id={sub.event_id}" if sub.event_id else "")),
            ("Subscription-State", state),
        ]
        body = b""
        if len(docs) == 1:
            headers.append(("Content-Type", MEDIA_TYPE))
            body = docs[0]
        elif docs or multipart is not None:
            headers.append(("Content-Type", _MULTIPART))
            body = multipart if multipart is not None else _multipart(docs)
        target = sub.contact.strip("<>").split(">")[0] or f"sip:{sub.user}@{sub.remote}"
        return Outgoing(build_message(f"NOTIFY {target} SIP/2.0", headers, body), sub.remote, True, branch)

    def ping(self, dst: Endpoint) -> Outgoing:
        """An OPTIONS to the phone at ``dst``: its answer marks the passage of time in the records (the scenario
        cannot ask a real base for a keep-alive now, but a real base answers an OPTIONS)."""
        n = next(self._counter)
        headers = [
            ("Via", f"SIP/2.0/{self.transport} {self.local};branch=z9hG4bK-fksping{n}"),
            ("Max-Forwards", "70"),
            ("From", f"<sip:{self.realm}>;tag=ping{n}"),
            ("To", f"<sip:{dst}>"),
            ("Call-ID", f"ping-{n}@{self.local.host}"),
            ("CSeq", "1 OPTIONS"),
        ]
        return Outgoing(build_message(f"OPTIONS sip:{dst} SIP/2.0", headers), dst, True, f"z9hG4bK-fksping{n}")
