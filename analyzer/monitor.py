"""Continuous conformance, sans-IO: the engine of ``fks audit`` (``judging.StreamJudge``) fed message by
message from a live source, answering with one record per settled subscription and one per capture-scope
window. The receivers (HEP, an interface, a replayed file) and the outputs live in ``peers.monitor``.

- ``feed(obs)``: a message; sources that merge several agents may deliver slightly out of order, so
  messages wait ``reorder`` seconds in a heap and reach the engine in time order.
- ``tick(now)``: the clock moves without traffic; subscriptions settle (the recording runs on to ``now``,
  so a timer that has passed is judged as passed) and a capture-scope window may close.
- ``finish()``: the source ended: everything still open is judged, as ``fks audit`` does at a capture's end.

A subscription record is the ``fks audit`` subscription object plus ``scope`` and its ``window`` (the times
of its first and last message). Capture-scope rules (PRV, unparsable feature-sync messages) are judged per
window of ``window`` seconds; afterwards only what the next window's rules may still pair with (the last
horizon of REGISTERs, INVITEs and SUBSCRIBE times) is kept, so memory follows the open subscriptions.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Sequence
from typing import Any

from analyzer.audit import subscription_json
from analyzer.dialogs import Subscription
from analyzer.judging import AuditSettings, StreamJudge, horizon
from analyzer.observation import Observation
from analyzer.rules import judge_capture
from analyzer.verdicts import Result

Record = dict[str, Any]


def subscription_record(sub: Subscription, results: Sequence[Result]) -> Record:
    """The JSON line of a settled subscription."""
    return {
        "scope": "subscription",
        **subscription_json(sub, results),
        "window": {"start": sub.first_time, "end": sub.last_seen},
    }


class Monitor:
    """Judges a live stream; every call returns the records it completed (see the module)."""

    def __init__(self, settings: AuditSettings, window: float | None = None, reorder: float = 0.0) -> None:
        self.judging = StreamJudge(settings, self._settled, compact=True)
        self.window = window
        self.reorder = reorder
        self.horizon = horizon(settings.options)
        self.verdicts: Counter[tuple[str, str]] = Counter()  # (rule, verdict) -> how many were emitted
        self.settled = 0
        self.messages = 0
        self._pending: list[tuple[float, int, Observation]] = []
        self._seq = itertools.count()
        self._newest = float("-inf")
        self.judged_time: float | None = None  # capture time of the latest message handed to the engine
        self._window_start: float | None = None
        self._out: list[Record] = []

    @property
    def open_subscriptions(self) -> int:
        return len(self.judging.engine.trace.subscriptions)

    @property
    def waiting(self) -> int:
        """Messages held back for reordering."""
        return len(self._pending)

    def feed(self, obs: Observation) -> list[Record]:
        self._newest = max(self._newest, obs.time)
        heapq.heappush(self._pending, (obs.time, next(self._seq), obs))
        self._release(self._newest - self.reorder)
        return self._take()

    def tick(self, now: float) -> list[Record]:
        until = max(now, self._newest) - self.reorder  # an agent whose clock runs ahead is not held back
        self._release(until)
        self.judging.tick(until)
        self._close_window(until)
        return self._take()

    def finish(self) -> list[Record]:
        self._release(float("inf"))
        trace = self.judging.finish()
        self._emit_window(trace.end_time)
        return self._take()

    def _release(self, until: float) -> None:
        pending = self._pending
        while pending and pending[0][0] <= until:
            _, _, obs = heapq.heappop(pending)
            if self._window_start is None:
                self._window_start = obs.time
            self.messages += 1
            self.judged_time = obs.time
            self.judging.feed(obs)
            self._close_window(obs.time)

    def _close_window(self, now: float) -> None:
        if self.window is None or self._window_start is None or now < self._window_start + self.window:
            return
        self._emit_window(now)
        self._forget_before(now - self.horizon)

    def _emit_window(self, end: float | None) -> None:
        start = self._window_start if self._window_start is not None else end
        results = judge_capture(self.judging.context)
        self._count(results)
        verdicts = [r.to_json() for r in results]
        self._out.append({"scope": "capture", "window": {"start": start, "end": end}, "verdicts": verdicts})
        self._window_start = end

    def _forget_before(self, before: float) -> None:
        """Drop what the capture-scope rules have judged and the next window cannot pair with any more."""
        trace = self.judging.engine.trace
        trace.unparsed.clear()
        trace.registrations = [r for r in trace.registrations if r.time >= before]
        trace.calls = [c for c in trace.calls if c.time >= before]
        for user in list(trace.subscribes):
            kept = [entry for entry in trace.subscribes[user] if entry[0] >= before]
            if kept:
                trace.subscribes[user] = kept
            else:
                del trace.subscribes[user]

    def _settled(self, sub: Subscription, results: tuple[Result, ...]) -> None:
        self.settled += 1
        self._count(results)
        self._out.append(subscription_record(sub, results))

    def _count(self, results: Sequence[Result]) -> None:
        for r in results:
            self.verdicts[(r.rule, r.verdict.value)] += 1

    def _take(self) -> list[Record]:
        out, self._out = self._out, []
        return out
