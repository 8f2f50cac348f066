"""One capture judged in shares: its messages shared out by subscriber, each share judged on its own, the
shares' reports merged into the verdicts one process gives. Sans-IO: where the shares run (a Dask cluster's
workers, ``analyzer/fleet``) is the caller's business.

Every message is routed by its subscriber's user: the To user of a NOTIFY or of a response to one (the
notifier writes the subscriber there), the From user of anything else. So each share holds every message of
the subscriptions it judges, every dialog of the same user (FKS-HS-4 compares them) and the user's calls to
feature access codes (FKS-AS-2). Each share runs its own engine and the subscription rules as the capture
goes (``judging.StreamJudge``), so memory stays bounded there too. What is certainly not feature sync is
dropped before it travels (``dialogs.irrelevant``); the capture-scope rules (PRV, FKS-HS-4's register,
FKS-SIP-1) run on the merged reports.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from analyzer.audit import Kept
from analyzer.dialogs import Call, Registration, Trace, irrelevant
from analyzer.judging import AuditSettings, StreamJudge
from analyzer.observation import Observation
from analyzer.rules import judge_capture
from analyzer.rules.base import Context
from analyzer.sip.peek import peek_cseq_method, peek_from_user, peek_to_user
from analyzer.verdicts import Result


def subscriber(data: bytes) -> str:
    """The user a message is about, the same for every message of a subscription ("" when not found)."""
    if peek_cseq_method(data) == "NOTIFY":
        return peek_to_user(data) or ""
    return peek_from_user(data) or ""


def share_of(data: bytes, shares: int) -> int | None:
    """The share a message goes to, or None when it is certainly not feature sync (dropped)."""
    if irrelevant(data) is True:
        return None
    return zlib.crc32(subscriber(data).encode("utf-8", "replace")) % shares


def split(observations: Iterable[Observation], shares: int) -> tuple[list[list[Observation]], float | None]:
    """The observations in ``shares`` lists (capture order kept in each) and the time of the last one."""
    out: list[list[Observation]] = [[] for _ in range(shares)]
    end_time: float | None = None
    for obs in observations:
        if end_time is None or obs.time > end_time:
            end_time = obs.time
        k = share_of(obs.data, shares)
        if k is not None:
            out[k].append(obs)
    return out, end_time


@dataclass
class Report:
    """What judging one share hands back: the judged subscriptions and what the capture-scope rules need."""

    kept: Kept
    registrations: list[Registration] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    unparsed: list[tuple[Observation, str]] = field(default_factory=list)
    unparsable: int = 0
    subscribes: dict[str | None, list[tuple[float, int]]] = field(default_factory=dict)


def judge_share(
    observations: Iterable[Observation], settings: AuditSettings, kept: Kept, end_time: float | None
) -> Report:
    """Judge one share, in capture order, into ``kept``; ``end_time`` is the capture's (the share's own last
    message may be earlier, and timers run to the end of the capture)."""
    report = Report(kept)
    judging = StreamJudge(settings, kept)
    for obs in observations:
        judging.feed(obs)
    trace = judging.finish(end_time)
    report.registrations, report.calls, report.unparsed = trace.registrations, trace.calls, trace.unparsed
    report.unparsable, report.subscribes = trace.unparsable, trace.subscribes
    return report


def merge(reports: list[Report], settings: AuditSettings, end_time: float | None) -> tuple[Any, tuple[Result, ...]]:
    """The subscriptions of every share as the report holds them (``Kept.merged``), and the capture-scope
    results judged on them all."""
    trace = Trace(end_time=end_time)
    entries = Kept.merged([r.kept for r in reports])
    trace.registrations = sorted((g for r in reports for g in r.registrations), key=lambda g: g.frames)
    trace.calls = sorted((c for r in reports for c in r.calls), key=lambda c: c.frame)
    trace.unparsed = sorted((u for r in reports for u in r.unparsed), key=lambda u: u[0].index)
    trace.unparsable = sum(r.unparsable for r in reports)
    for r in reports:
        for user, subscribes in r.subscribes.items():
            trace.subscribes.setdefault(user, []).extend(subscribes)
    for subscribes in trace.subscribes.values():
        subscribes.sort()
    return entries, judge_capture(Context(trace, settings.options, settings.provisioning))
