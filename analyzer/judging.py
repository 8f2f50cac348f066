"""Judging a stream of observations, sans-IO: at its end with every dialog in memory (``judge``), or as
it goes, each subscription judged and forgotten once it has settled (``StreamJudge``, ``judge_stream``).
The audit of a file (``audit``) and the shares of a large one judged on a Dask cluster (``shuffle``) both
build on it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from analyzer.compaction import Compactor
from analyzer.dialogs import Engine, Subscription, Trace
from analyzer.dialogs.packed import Packer
from analyzer.observation import Observation
from analyzer.provisioning import Provisioning
from analyzer.rules import Judgement, evaluate, judge_capture, judge_subscription
from analyzer.rules.base import Context, Options
from analyzer.verdicts import Result


@dataclass(frozen=True, slots=True)
class AuditSettings:
    """How to read and judge captures (the command line's options)."""

    options: Options = field(default_factory=Options)
    provisioning: Provisioning | None = None
    decode_as: tuple[str, ...] = ()
    keylog: str | None = None
    reader: str = "fields"  # "fields": tshark -T fields (fast, TLS too); "pyshark": pyshark's JSON


def judge(observations: Iterable[Observation], settings: AuditSettings) -> tuple[Judgement, int]:
    """Judge a stream of observations (a live log or a capture) at its end, every dialog in memory: the
    judgement and the message count."""
    engine = Engine()
    for obs in observations:
        engine.feed(obs)
    trace = engine.finish()
    ctx = Context(trace, settings.options, settings.provisioning)
    return evaluate(ctx), trace.sip_messages


# Open subscriptions kept unpacked; beyond these, the ones longest at rest (no traffic for a horizon) are packed
# at each settling (``Subscription.pack``: about 300 bytes instead of about 7.7 KB). Fewer costs nothing.
UNPACKED = 4_000


def horizon(options: Options) -> float:
    """How long after a dialog's end its judgement can still change: every timer a rule waits for after a
    dialog's last message (T_final, T_notify, T_subscribe), plus a margin for late retransmissions."""
    return options.final_timeout + options.notify_timeout + options.subscribe_timeout + 32.0


class StreamJudge:
    """Judges subscriptions as they settle (``Engine.settle``): each is judged, handed to ``keep`` and
    forgotten, so memory follows the open subscriptions. Feed observations in capture order, then
    ``finish``."""

    def __init__(
        self,
        settings: AuditSettings,
        keep: Callable[[Subscription, tuple[Result, ...]], None],
        compact: bool = False,
    ) -> None:
        self.engine = Engine(horizon(settings.options))
        self.context = Context(self.engine.trace, settings.options, settings.provisioning)
        self._keep = keep
        # ``compact``: long-lived dialogs shed their old part as they go (``compaction``), for a monitor that
        # never reaches the end of its traffic
        self._compactor = Compactor() if compact else None
        self._packer = Packer()

    def feed(self, obs: Observation) -> None:
        engine = self.engine
        engine.feed(obs)
        if self._compactor is not None and engine.subscribed is not None and engine.horizon is not None:
            # a dialog compacts when its own refresh comes (the cut is a granted SUBSCRIBE, so nothing could
            # go earlier), never all of them at once: the parses and findings a compaction makes come and go
            # a dialog at a time, and the allocator's footprint stays where the first ones left it
            self._compactor.compact(engine.subscribed, self.context, obs.time - engine.horizon)
        if engine.due(obs.time):
            self._settle(obs.time)

    def _settle(self, now: float) -> None:
        engine = self.engine
        for sub in engine.settle(now):
            self._judge(sub)
        if engine.horizon is not None:
            self._pack(now - engine.horizon)
        if self._compactor is not None and engine.horizon is not None:
            before = now - engine.horizon
            for sub in engine.trace.subscriptions:
                if sub.subscribes and sub.subscribes[-1].time < before:
                    # refreshed less often than a horizon (an hour's grant, NOTIFYs between): its next refresh
                    # would come too late to let its old part go
                    self._compactor.compact(sub, self.context, before)

    def _pack(self, before: float) -> None:
        """Beyond ``UNPACKED`` open subscriptions in memory, pack the ones at rest since ``before``, longest first."""
        open_ = self.engine.trace.subscriptions
        if len(open_) <= UNPACKED:
            return
        loaded = [sub for sub in open_ if sub.loaded]
        excess = len(loaded) - UNPACKED
        if excess <= 0:
            return
        engine = self.engine
        resting = sorted(
            (sub for sub in loaded if sub.last_seen < before and engine.idle(sub)), key=lambda sub: sub.last_seen
        )
        for sub in resting[:excess]:
            sub.pack(self._packer)

    def tick(self, now: float) -> None:
        """Time passes without traffic (a live source): the recording runs on to ``now``, so what waits for
        a timer is judged once it has passed, and subscriptions settle though no message comes."""
        trace = self.engine.trace
        if trace.end_time is None or now > trace.end_time:
            trace.end_time = now
        if self.engine.due(now):
            self._settle(now)

    def finish(self, end_time: float | None = None) -> Trace:
        """Judge the subscriptions still open, in capture order; each user's leave the trace once all are
        judged (FKS-HS-4 reads a user's other dialogs), so memory falls as the judged results grow."""
        trace = self.engine.finish(end_time)
        order: list[Subscription | None] = sorted(trace.subscriptions, key=lambda s: s.first_index)
        trace.subscriptions = []
        left = Counter(sub.aor for sub in order if sub is not None)
        for i, sub in enumerate(order):
            assert sub is not None
            order[i] = None
            self._judge(sub)
            left[sub.aor] -= 1
            if not left[sub.aor]:
                for judged in trace.by_aor(sub.aor):
                    self.engine.forget(judged)
        return trace

    def _judge(self, sub: Subscription) -> None:
        results = self._compactor.judge(sub, self.context) if self._compactor is not None else None
        self._keep(sub, results if results is not None else judge_subscription(sub, self.context))
        for judged in (sub, *self.engine.trace.by_aor(sub.aor)):  # FKS-HS-4 read the user's other dialogs
            judged.release()


def judge_stream(
    observations: Iterable[Observation],
    settings: AuditSettings,
    keep: Callable[[Subscription, tuple[Result, ...]], None],
) -> tuple[tuple[Result, ...], int]:
    """Judge a long stream (a site's capture) as it goes (``StreamJudge``): the verdicts of ``judge``;
    ``keep`` sees subscriptions in the order they settle. Returns the capture-scope results and the
    message count."""
    judging = StreamJudge(settings, keep)
    for obs in observations:
        judging.feed(obs)
    trace = judging.finish()
    return judge_capture(judging.context), trace.sip_messages
