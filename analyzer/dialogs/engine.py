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

import heapq
import itertools
from collections import deque
from collections.abc import Iterable

from analyzer.bodies import read_body
from analyzer.dialogs.filters import claims_feature_sync, irrelevant, is_feature_subscribe
from analyzer.dialogs.state import (
    Call,
    Grouped,
    Kind,
    Message,
    NotifyTx,
    Registration,
    SubscribeTx,
    Subscription,
    Trace,
    Transaction,
)
from analyzer.observation import Endpoint, Observation
from analyzer.sip import SipError, parse_message, parse_subscription_state, uri_user
from analyzer.sip.peek import peek_call_id
from analyzer.vocab import MEDIA_TYPE, PACKAGE


def _unquote_user(user: str) -> str:
    return user.replace("%2A", "*").replace("%2a", "*").replace("%23", "#")


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
        self._by_call_id = Grouped()
        self._registers: deque[tuple[Transaction, str]] = deque()
        self._owners: dict[int, Subscription] = {}  # id(transaction) -> its dialog, while it can see traffic
        self.subscribed: Subscription | None = None  # the dialog the last message fed opened a SUBSCRIBE in
        # What ``settle`` reads instead of every open dialog: the dialogs that saw traffic since it last ran
        # (their end may have moved), a heap of the known ends, and each dialog's place in ``trace``.
        self._dirty: dict[int, Subscription] = {}
        self._heap: list[tuple[float, int, Subscription]] = []
        self._count = itertools.count()
        self._settled_at = float("-inf")

    def finish(self, end_time: float | None = None) -> Trace:
        """Close the trace; ``end_time`` is when the recording stopped, if later than the last message. Nothing
        settles after it (its bookkeeping goes)."""
        self._heap.clear()
        self._dirty.clear()
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
        self._expire(before)
        self._register_outcomes(before)
        heap = self._heap
        for sub in self._dirty.values():
            if sub.born < 0:
                continue  # settled already: late traffic of its transactions changes nothing now
            end = self._end(sub)
            if end is not None:
                heapq.heappush(heap, (end, next(self._count), sub))
        self._dirty.clear()
        over: dict[int, tuple[float, Subscription]] = {}
        while heap and heap[0][0] < before:
            end, _, sub = heapq.heappop(heap)
            if sub.born >= 0 and sub.end_seen is not None and sub.end == end:  # else forgotten, or moved
                over[id(sub)] = (end, sub)
        done = []
        for end, sub in sorted(over.values(), key=lambda item: item[1].born):
            # A rule comparing dialogs of one user (FKS-HS-4) needs every dialog that overlaps this one.
            if any(id(o) not in over and o.first_time <= end + self.horizon for o in self.trace.aors.of(sub.aor)):
                heapq.heappush(heap, (end, next(self._count), sub))  # over, but held back: asked again next time
                continue
            done.append(sub)
        for sub in done:
            self.forget(sub)
        if done:
            gone = {id(sub) for sub in done}
            self.trace.subscriptions = [s for s in self.trace.subscriptions if id(s) not in gone]
        return done

    def _expire(self, before: float) -> None:
        """Transactions older than ``before`` leave the retransmission indexes (run with every message, so
        what a compaction dropped goes now, not at the next ``settle``)."""
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

    def _end(self, sub: Subscription) -> float | None:
        """The later of the dialog's end and its last message (cached until the dialog sees traffic)."""
        if sub.end_seen is not None and sub.end_seen == sub.last_seen:
            return sub.end
        end = sub.ends_at()
        sub.release()  # ends_at read the grant's Expires: let the parses go again
        sub.end = None if end is None else max(end, sub.last_seen)
        sub.end_seen = sub.last_seen
        return sub.end

    def _add(self, sub: Subscription) -> None:
        self.trace.add(sub)
        sub.born = next(self._count)
        self._dirty[id(sub)] = sub

    def idle(self, sub: Subscription) -> bool:
        """No transaction of the dialog can see traffic any more (each has left the indexes): a copy of its
        transactions, packed, then misses nothing. Time alone does not say it when a capture's clock steps back."""
        owners = self._owners
        return not any(id(tx) in owners for tx in [*sub.subscribes, *sub.notifies])

    def forget(self, sub: Subscription) -> None:
        """Take a dialog out of the engine (it is over, or judged at the end: nothing reads it again)."""
        sub.born, sub.end_seen, sub.end = -1, None, None
        key = (sub.call_id, sub.subscriber_tag)
        if self._dialogs.get(key) is sub:
            del self._dialogs[key]
        self._by_call_id.discard(sub.call_id, sub)
        self.trace.aors.discard(sub.aor, sub)

    def feed(self, obs: Observation) -> None:
        trace = self.trace
        trace.sip_messages += 1
        self.subscribed = None
        if trace.start_time is None or obs.time < trace.start_time:
            trace.start_time = obs.time
        if trace.end_time is None or obs.time > trace.end_time:
            trace.end_time = obs.time
        if self.horizon is not None:
            self._expire(obs.time - self.horizon)
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
            self._by_call_id.add(call_id, sub)
            self._add(sub)
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
        sub.filed(msg.time)
        self._dirty[id(sub)] = sub
        self.subscribed = sub
        self.trace.subscribes.setdefault(sub.user, []).append((msg.time, msg.index))
        return tx

    def _notify(self, msg: Message) -> NotifyTx | None:
        sip = msg.sip
        call_id = sip.call_id or ""
        sub = self._dialogs.get((call_id, sip.to_tag))
        if sub is None:
            candidates = self._by_call_id.of(call_id)
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
            self._by_call_id.add(call_id, sub)
            self._add(sub)
        raw_state = sip.headers.get("Subscription-State")
        state = parse_subscription_state(raw_state) if raw_state is not None else None
        tx = NotifyTx(msg, state=state, body=read_body(sip))
        sub.notifies.append(tx)
        self._owners[id(tx)] = sub
        sub.filed(msg.time)
        self._dirty[id(sub)] = sub
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
            owner.filed(msg.time)
            self._dirty[id(owner)] = owner


def build_trace(observations: Iterable[Observation], end_time: float | None = None) -> Trace:
    """Convenience: feed every observation and finish."""
    engine = Engine()
    for obs in observations:
        engine.feed(obs)
    return engine.finish(end_time)
