"""Subscription dialogs and transactions, rebuilt from a time-ordered stream of observed SIP messages.

Theory of operation (push style, like a pcap analyzer; a live peer feeds the same engine):
- ``Engine.feed(observation)`` parses the message and files it. Requests open transactions keyed by the top
  Via branch, the method and the sender (RFC 3261 section 17.2.3); the same key seen again is a
  retransmission, never a new transaction. Responses join the transaction of their branch and CSeq method.
- A SUBSCRIBE is feature sync when its Event names ``as-feature-event`` or it accepts or carries
  ``application/x-as-feature-event+xml`` (so FKS-SUB-1 can fail it). Its dialog is keyed by Call-ID and the
  subscriber's tag (From tag of the SUBSCRIBE = To tag of the NOTIFY). 401/407 retries share that key.
- Each SUBSCRIBE transaction gets a ``Kind``: establish (no To tag, nothing granted yet), refresh (no body,
  Expires > 0), change (carries a body: a handset-menu change request), terminate (``Expires: 0``).
- A NOTIFY joins the dialog of its Call-ID and To tag; failing that, the only dialog of its Call-ID (so
  FKS-NTF-7 can judge wrong tags); an ``as-feature-event`` NOTIFY for no known dialog opens a dialog marked
  ``seen_from_start=False`` (FKS-AS-1 judges it).
- REGISTER outcomes (FKS-PRV-2) and INVITEs to feature access codes (FKS-AS-2) are kept in compact form;
  everything else is counted and dropped.

The engine knows nothing of sockets, files, clocks or which side is the device under test.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from analyzer.bodies import Body, read_body
from analyzer.documents import MEDIA_TYPE
from analyzer.observation import Endpoint, Observation
from analyzer.sip.peek import peek_call_id, peek_cseq_method
from analyzer.sip import (
    SipError,
    SipMessage,
    SubscriptionState,
    parse_message,
    parse_subscription_state,
    uri_user,
)
from analyzer.vocab import PACKAGE

# The cheap look at raw bytes that lets the engine skip what is certainly not feature sync (``_irrelevant``).
_START = re.compile(rb"(?:([A-Z]+) (\S+) SIP/2\.0|SIP/2\.0 \d{3} )")
_OURS = re.compile(rb"as-feature-event", re.I)
# What makes an unparsable message feature sync: its own start line (a SUBSCRIBE or NOTIFY) and one of its
# header lines (an Event of the package, or the package's media type), never the name elsewhere (an
# Allow-Events list, a body, framing bytes before the start line).
_CLAIM_START = re.compile(rb"(?:SUBSCRIBE|NOTIFY)(?:[ \t]|\r?\n|$)", re.I)
_CLAIM_HEADER = re.compile(
    rb"^(?:(?:event|o)[ \t]*:[ \t]*%b\b|(?:content-type|c)[ \t]*:[ \t]*%b)"
    % (re.escape(PACKAGE.encode()), re.escape(MEDIA_TYPE.encode())),
    re.I | re.M,
)
_HEAD_END = re.compile(rb"\r?\n\r?\n")


def claims_feature_sync(data: bytes) -> bool:
    """Whether an unparsable message shows, by its start line and headers, that it is feature sync."""
    head = _HEAD_END.split(data[:4096], maxsplit=1)[0]
    return bool(_CLAIM_START.match(head)) and _CLAIM_HEADER.search(head) is not None


_SERVICE_CODE = re.compile(rb"(?:sips?|tel):(?:\*|#|%2a|%23)", re.I)


class Message:
    """One observed message, parsed on demand: the parse is dropped once the engine has filed the message
    (``release``) and made again when a rule reads it, so a long capture holds raw bytes, not header objects.
    The status code, which the engine asks for long after, is kept apart."""

    __slots__ = ("_sip", "obs", "status")

    def __init__(self, obs: Observation, sip: SipMessage) -> None:
        self.obs = obs
        self._sip: SipMessage | None = sip
        self.status = sip.status

    @property
    def sip(self) -> SipMessage:
        if self._sip is None:
            self._sip = parse_message(self.obs.data)  # it parsed once: it parses again
        return self._sip

    def release(self) -> None:
        self._sip = None

    @property
    def index(self) -> int:
        return self.obs.index

    @property
    def time(self) -> float:
        return self.obs.time


@dataclass(eq=False, slots=True)
class Transaction:
    """A request, its retransmissions and the responses to it (response retransmissions flagged apart)."""

    request: Message
    retransmissions: list[Message] = field(default_factory=list)
    responses: list[Message] = field(default_factory=list)
    response_retransmissions: list[Message] = field(default_factory=list)

    @property
    def method(self) -> str:
        return self.request.sip.method or ""

    @property
    def time(self) -> float:
        return self.request.time

    @property
    def index(self) -> int:
        return self.request.index

    @property
    def final(self) -> Message | None:
        """The first final (>= 200) response."""
        return next((r for r in self.responses if (r.status or 0) >= 200), None)

    @property
    def status(self) -> int | None:
        final = self.final
        return final.status if final else None

    @property
    def granted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def challenged(self) -> bool:
        return self.status in (401, 407)

    def messages(self) -> list[Message]:
        return [self.request, *self.retransmissions, *self.responses, *self.response_retransmissions]

    def release(self) -> None:
        for msg in self.messages():
            msg.release()


class Kind(str, Enum):
    ESTABLISH = "establish"
    REFRESH = "refresh"
    CHANGE = "change"
    TERMINATE = "terminate"


@dataclass(eq=False, slots=True)
class SubscribeTx(Transaction):
    kind: Kind = Kind.ESTABLISH
    in_dialog: bool = False
    body: Body | None = None

    @property
    def requested_expires(self) -> int | None:
        return self.request.sip.expires

    @property
    def granted_expires(self) -> int | None:
        final = self.final
        return final.sip.expires if final is not None and self.granted else None


@dataclass(eq=False, slots=True)
class NotifyTx(Transaction):
    state: SubscriptionState | None = None
    body: Body | None = None


@dataclass(eq=False, slots=True)
class Subscription:
    """One ``as-feature-event`` subscription dialog as seen in the traffic."""

    call_id: str
    subscriber_tag: str | None
    client: Endpoint
    server: Endpoint
    aor: str
    seen_from_start: bool = True
    subscribes: list[SubscribeTx] = field(default_factory=list)
    notifies: list[NotifyTx] = field(default_factory=list)
    last_seen: float = 0.0  # time of the latest message filed to the dialog

    @property
    def user(self) -> str | None:
        return uri_user(self.aor)

    @property
    def notifier_tag(self) -> str | None:
        """The To tag of the first 2xx to a SUBSCRIBE: the notifier's side of the dialog."""
        for tx in self.subscribes:
            if tx.granted and tx.final is not None and tx.final.sip.to_tag:
                return tx.final.sip.to_tag
        return None

    @property
    def event_id(self) -> str | None:
        for tx in self.subscribes:
            event = tx.request.sip.event
            if event is not None and "id" in event[1]:
                return event[1]["id"]
        return None

    @property
    def first_time(self) -> float:
        return min(tx.time for tx in [*self.subscribes, *self.notifies])

    @property
    def first_index(self) -> int:
        return min(tx.index for tx in [*self.subscribes, *self.notifies])

    # -- timeline questions the rules ask ---------------------------------------------------------------
    def notifies_between(self, start: float, end: float) -> list[NotifyTx]:
        return [n for n in self.notifies if start <= n.time <= end]

    def terminated_at(self) -> float | None:
        """When the dialog ended: the first terminated NOTIFY, or the 2xx to an ``Expires: 0`` SUBSCRIBE."""
        times = [n.time for n in self.notifies if n.state is not None and n.state.state == "terminated"]
        times += [tx.final.time for tx in self.subscribes if tx.kind is Kind.TERMINATE and tx.granted and tx.final]
        return min(times, default=None)

    def active_at(self, when: float) -> bool:
        """Granted, not terminated and not expired at ``when``."""
        grants = [
            tx
            for tx in self.subscribes
            if tx.kind is not Kind.TERMINATE and tx.granted and tx.final is not None and tx.final.time <= when
        ]
        if not grants:
            return not self.seen_from_start and self.terminated_at() is None
        last = grants[-1]
        expires = last.granted_expires if last.granted_expires is not None else last.requested_expires
        ended = self.terminated_at()
        if ended is not None and ended <= when:
            return False
        return expires is None or last.final is None or last.final.time + expires >= when

    def ends_at(self) -> float | None:
        """When the dialog is over unless more traffic comes: terminated, expired (the last grant or, for a
        dialog joined in the middle, the last NOTIFY's expires), or refused; None while it runs on."""
        ended = self.terminated_at()
        if ended is not None:
            return ended
        grants = [tx for tx in self.subscribes if tx.kind is not Kind.TERMINATE and tx.granted and tx.final]
        if grants:
            last = grants[-1]
            expires = last.granted_expires if last.granted_expires is not None else last.requested_expires
            return None if expires is None or last.final is None else last.final.time + expires
        if self.subscribes:
            return self.last_seen  # never granted: refused or unanswered
        states = [(n.time, n.state.expires) for n in self.notifies if n.state is not None]
        return states[-1][0] + states[-1][1] if states and states[-1][1] is not None else None

    def release(self) -> None:
        """Drop the parses of every message (they come back when read)."""
        for tx in self.transactions():
            tx.release()

    def transactions(self) -> list[Transaction]:
        """Every transaction of the dialog in time order."""
        return sorted([*self.subscribes, *self.notifies], key=lambda tx: (tx.time, tx.index))

    def messages(self) -> list[Message]:
        out = [m for tx in self.transactions() for m in tx.messages()]
        return sorted(out, key=lambda m: (m.time, m.index))


@dataclass(frozen=True, slots=True)
class Registration:
    """A REGISTER transaction's outcome, kept for FKS-PRV-2."""

    user: str | None
    aor: str
    time: float  # of the final response (or the request when unanswered)
    status: int | None
    frames: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Call:
    """An INVITE whose Request-URI user looks like a service code (starts with ``*`` or ``#``)."""

    user: str
    aor: str
    time: float
    frame: int


@dataclass(slots=True)
class Trace:
    """Everything the rules judge. When the engine settles subscriptions as it goes, ``subscriptions`` holds
    the ones still open; ``subscribes`` keeps every feature-sync SUBSCRIBE's time and frame per user, which
    is all the capture-scope rules (PRV) need of the settled ones."""

    subscriptions: list[Subscription] = field(default_factory=list)
    registrations: list[Registration] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    unparsed: list[tuple[Observation, str]] = field(default_factory=list)
    unparsable: int = 0
    sip_messages: int = 0
    start_time: float | None = None
    end_time: float | None = None
    subscribes: dict[str | None, list[tuple[float, int]]] = field(default_factory=dict)
    aors: dict[str, list[Subscription]] = field(default_factory=dict)

    def by_aor(self, aor: str) -> list[Subscription]:
        return list(self.aors.get(aor, ()))

    def subscribes_of(self, user: str) -> list[tuple[float, int]]:
        """(time, frame) of every feature-sync SUBSCRIBE request from ``user``, in capture order."""
        return list(self.subscribes.get(user, ()))

    def add(self, sub: Subscription) -> None:
        self.subscriptions.append(sub)
        self.aors.setdefault(sub.aor, []).append(sub)


def is_feature_subscribe(msg: SipMessage) -> bool:
    """Whether a SUBSCRIBE belongs to this package (or pretends to, by its media types)."""
    event = msg.event
    if event is not None and event[0] == PACKAGE:
        return True
    accepts = [a.split(";")[0].strip().lower() for a in msg.headers.get_all("Accept")]
    ctype = msg.content_type
    return MEDIA_TYPE in accepts or (ctype is not None and ctype[0] == MEDIA_TYPE)


def _unquote_user(user: str) -> str:
    return user.replace("%2A", "*").replace("%2a", "*").replace("%23", "#")


def irrelevant(data: bytes) -> bool | None:
    """Most SIP at a site is not feature sync: tell it from the raw bytes, without parsing, when that is
    certain (a well-formed start line; a method or CSeq the engine has no use for). None: a SUBSCRIBE or
    NOTIFY of another package, which matters only when its Call-ID is a feature-sync dialog's (the engine
    knows). Doubtful messages are parsed."""
    start = _START.match(data)
    if start is None:
        return False  # not obviously SIP: the parser decides (and keeps what claims feature sync)
    method = start.group(1)
    if method is None:  # a response: only those to SUBSCRIBE, NOTIFY and REGISTER are filed
        cseq = peek_cseq_method(data)
        return cseq is not None and cseq not in ("SUBSCRIBE", "NOTIFY", "REGISTER")
    if method == b"REGISTER":
        return False
    if method == b"INVITE":  # only calls to service codes (feature access codes) are kept
        return _SERVICE_CODE.match(start.group(2)) is None
    if method not in (b"SUBSCRIBE", b"NOTIFY"):
        return True
    return False if _OURS.search(data) else None


class Engine:
    """Push observations in capture order with ``feed``; read the result with ``trace`` when done.

    With a ``horizon`` (seconds), the engine forgets what can no longer change: transactions older than the
    horizon leave the retransmission indexes, REGISTER transactions become ``Registration``s, and ``settle``
    hands back the subscriptions that are over (ended more than a horizon ago, and no open dialog of the same
    AOR overlapping them in time, so a rule comparing dialogs of one user still sees them all). Memory then
    follows the open subscriptions, not the length of the capture. The horizon must exceed every timer a
    rule waits for after a dialog's last message; traffic reusing a settled dialog's identifiers later opens
    a new dialog.
    """

    def __init__(self, horizon: float | None = None) -> None:
        self.trace = Trace()
        self.horizon = horizon
        self._requests: dict[tuple[str, str, Endpoint], Transaction] = {}
        self._by_branch: dict[tuple[str, str], list[Transaction]] = {}
        self._recent: deque[tuple[float, tuple[str, str, Endpoint], Transaction]] = deque()
        self._dialogs: dict[tuple[str, str | None], Subscription] = {}
        self._by_call_id: dict[str, list[Subscription]] = {}
        self._registers: deque[tuple[Transaction, str]] = deque()
        self._owners: dict[int, Subscription] = {}  # id(transaction) -> its dialog, while it can see traffic
        self._ends: dict[int, tuple[float, float | None]] = {}  # id(sub) -> (last_seen, ends_at) cached
        self._settled_at = float("-inf")

    def finish(self, end_time: float | None = None) -> Trace:
        """Close the trace; ``end_time`` is when the recording stopped, if later than the last message."""
        self._register_outcomes(float("inf"))
        if end_time is not None and (self.trace.end_time is None or end_time > self.trace.end_time):
            self.trace.end_time = end_time
        return self.trace

    def _register_outcomes(self, before: float) -> None:
        registers = self._registers
        while registers and registers[0][0].time < before:
            tx, aor = registers.popleft()
            final = tx.final
            self.trace.registrations.append(
                Registration(
                    uri_user(aor),
                    aor,
                    final.time if final else tx.time,
                    final.status if final else None,
                    tuple(m.index for m in tx.messages()),
                )
            )

    def due(self, now: float) -> bool:
        """Whether ``settle`` has work: half a horizon has passed since it last ran."""
        return self.horizon is not None and now >= self._settled_at + self.horizon / 2

    def settle(self, now: float) -> list[Subscription]:
        """Take the subscriptions that are over out of the engine (see the class) and return them; also drop
        the transactions and REGISTERs older than the horizon."""
        if self.horizon is None:
            return []
        self._settled_at = now
        before = now - self.horizon
        recent = self._recent
        while recent and recent[0][0] < before:
            _, key, tx = recent.popleft()
            self._owners.pop(id(tx), None)
            if self._requests.get(key) is tx:
                del self._requests[key]
            same = self._by_branch.get((key[0], key[1]))
            if same is not None:
                same.remove(tx)
                if not same:
                    del self._by_branch[(key[0], key[1])]
        self._register_outcomes(before)
        ends = {id(sub): self._end(sub) for sub in self.trace.subscriptions}
        over = {i for i, end in ends.items() if end is not None and end < before}
        done = []
        for sub in self.trace.subscriptions:
            if id(sub) not in over:
                continue
            end = ends[id(sub)]
            assert end is not None
            # A rule comparing dialogs of one user (FKS-HS-4) needs every dialog that overlaps this one.
            if any(id(o) not in over and o.first_time <= end + self.horizon for o in self.trace.aors.get(sub.aor, ())):
                continue
            done.append(sub)
        for sub in done:
            self._forget(sub)
        if done:
            gone = {id(sub) for sub in done}
            self.trace.subscriptions = [s for s in self.trace.subscriptions if id(s) not in gone]
        return done

    def _end(self, sub: Subscription) -> float | None:
        """The later of the dialog's end and its last message (cached until the dialog sees traffic)."""
        cached = self._ends.get(id(sub))
        if cached is not None and cached[0] == sub.last_seen:
            return cached[1]
        end = sub.ends_at()
        sub.release()  # ends_at read the grant's Expires: let the parses go again
        value = None if end is None else max(end, sub.last_seen)
        self._ends[id(sub)] = (sub.last_seen, value)
        return value

    def _forget(self, sub: Subscription) -> None:
        self._ends.pop(id(sub), None)
        key = (sub.call_id, sub.subscriber_tag)
        if self._dialogs.get(key) is sub:
            del self._dialogs[key]
        for index, owner in ((self._by_call_id, sub.call_id), (self.trace.aors, sub.aor)):
            mates = index.get(owner)
            if mates is not None and sub in mates:
                mates.remove(sub)
                if not mates:
                    del index[owner]

    def feed(self, obs: Observation) -> None:
        trace = self.trace
        trace.sip_messages += 1
        if trace.start_time is None or obs.time < trace.start_time:
            trace.start_time = obs.time
        if trace.end_time is None or obs.time > trace.end_time:
            trace.end_time = obs.time
        if self._irrelevant(obs.data):
            return
        try:
            sip = parse_message(obs.data)
        except SipError as exc:
            # Only what claims to be feature sync is kept (FKS-SIP-1 judges it); other garbage is counted.
            trace.unparsable += 1
            if claims_feature_sync(obs.data):
                trace.unparsed.append((obs, str(exc)))
            return
        msg = Message(obs, sip)
        if sip.is_request:
            self._request(msg)
        else:
            self._response(msg)
        if self.horizon is not None:
            msg.release()

    def _irrelevant(self, data: bytes) -> bool:
        verdict = irrelevant(data)
        if verdict is not None:
            return verdict
        call_id = peek_call_id(data)
        return call_id is not None and call_id not in self._by_call_id

    # -- requests ----------------------------------------------------------------------------------------
    def _request_key(self, msg: Message) -> tuple[str, str, Endpoint]:
        sip = msg.sip
        branch = sip.branch
        if not branch or not branch.startswith("z9hG4bK"):
            # RFC 2543 peers: fall back to the dialog identifiers and the CSeq.
            branch = f"{sip.call_id}|{sip.from_tag}|{sip.cseq_number}"
        return branch, sip.method or "", msg.obs.src

    def _request(self, msg: Message) -> None:
        sip = msg.sip
        key = self._request_key(msg)
        known = self._requests.get(key)
        if known is not None:
            known.retransmissions.append(msg)
            self._seen(known, msg)
            return
        method = sip.method
        if method == "SUBSCRIBE" and is_feature_subscribe(sip):
            tx: Transaction = self._subscribe(msg)
        elif method == "NOTIFY":
            found = self._notify(msg)
            if found is None:
                return
            tx = found
        elif method == "REGISTER":
            tx = Transaction(msg)
            to = sip.to
            self._registers.append((tx, to.aor if to else ""))
        elif method == "INVITE":
            self._call(msg)
            return
        else:
            return
        self._requests[key] = tx
        self._by_branch.setdefault((key[0], key[1]), []).append(tx)
        if self.horizon is not None:
            self._recent.append((msg.time, key, tx))

    def _subscribe(self, msg: Message) -> SubscribeTx:
        sip = msg.sip
        call_id = sip.call_id or ""
        dkey = (call_id, sip.from_tag)
        sub = self._dialogs.get(dkey)
        in_dialog = bool(sip.to_tag)
        if sub is None:
            frm = sip.from_
            sub = Subscription(
                call_id,
                sip.from_tag,
                msg.obs.src,
                msg.obs.dst,
                frm.aor if frm else "",
                seen_from_start=not in_dialog,
            )
            self._dialogs[dkey] = sub
            self._by_call_id.setdefault(call_id, []).append(sub)
            self.trace.add(sub)
        body = read_body(sip) if sip.body.strip() else None
        # A body makes a change request when it is ours; any other body leaves the SUBSCRIBE what its
        # headers say it is, and FKS-SUB-4 warns about the stray body.
        if body is not None and (body.media_type == MEDIA_TYPE or any(d.kind == "request" for d in body.documents)):
            kind = Kind.CHANGE
        elif sip.expires == 0:
            kind = Kind.TERMINATE
        elif not in_dialog and not any(tx.granted for tx in sub.subscribes):
            kind = Kind.ESTABLISH
        else:
            kind = Kind.REFRESH
        tx = SubscribeTx(msg, kind=kind, in_dialog=in_dialog, body=body)
        sub.subscribes.append(tx)
        self._owners[id(tx)] = sub
        sub.last_seen = max(sub.last_seen, msg.time)
        self.trace.subscribes.setdefault(sub.user, []).append((msg.time, msg.index))
        return tx

    def _notify(self, msg: Message) -> NotifyTx | None:
        sip = msg.sip
        call_id = sip.call_id or ""
        sub = self._dialogs.get((call_id, sip.to_tag))
        if sub is None:
            candidates = self._by_call_id.get(call_id, [])
            if len(candidates) == 1:
                sub = candidates[0]
        if sub is None:
            event = sip.event
            if event is None or event[0] != PACKAGE:
                return None  # another package's NOTIFY
            to = sip.to
            sub = Subscription(
                call_id, sip.to_tag, msg.obs.dst, msg.obs.src, to.aor if to else "", seen_from_start=False
            )
            self._dialogs[(call_id, sip.to_tag)] = sub
            self._by_call_id.setdefault(call_id, []).append(sub)
            self.trace.add(sub)
        raw_state = sip.headers.get("Subscription-State")
        state = parse_subscription_state(raw_state) if raw_state is not None else None
        tx = NotifyTx(msg, state=state, body=read_body(sip))
        sub.notifies.append(tx)
        self._owners[id(tx)] = sub
        sub.last_seen = max(sub.last_seen, msg.time)
        return tx

    def _call(self, msg: Message) -> None:
        """Keep INVITEs to service codes (FAC candidates); they need no transaction tracking."""
        user = _unquote_user(uri_user(msg.sip.uri or "") or "")
        if user[:1] in ("*", "#"):
            frm = msg.sip.from_
            self.trace.calls.append(Call(user, frm.aor if frm else "", msg.time, msg.index))

    # -- responses ---------------------------------------------------------------------------------------
    def _response(self, msg: Message) -> None:
        sip = msg.sip
        branch = sip.branch
        method = sip.cseq_method or ""
        if not branch or not branch.startswith("z9hG4bK"):
            branch = f"{sip.call_id}|{sip.from_tag}|{sip.cseq_number}"
        candidates = self._by_branch.get((branch, method))
        if not candidates:
            return
        tx = next((t for t in reversed(candidates) if t.request.obs.src == msg.obs.dst), candidates[-1])
        if any(r.status == sip.status for r in tx.responses):
            tx.response_retransmissions.append(msg)
        else:
            tx.responses.append(msg)
        self._seen(tx, msg)

    def _seen(self, tx: Transaction, msg: Message) -> None:
        """Note the time of a dialog's latest message (what ``settle`` measures the horizon from)."""
        owner = self._owners.get(id(tx))
        if owner is not None and msg.time > owner.last_seen:
            owner.last_seen = msg.time


def build_trace(observations: Iterable[Observation], end_time: float | None = None) -> Trace:
    """Convenience: feed every observation and finish."""
    engine = Engine()
    for obs in observations:
        engine.feed(obs)
    return engine.finish(end_time)
