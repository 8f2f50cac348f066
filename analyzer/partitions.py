"""Judging one capture on several cores: the messages are shared out among worker processes by user.

Every message is routed by its subscriber's user: the To user of a NOTIFY or of a response to one (the
notifier writes the subscriber there), the From user of anything else. So each worker sees every message of
the subscriptions it judges, every dialog of the same user (FKS-HS-4 compares them) and the user's calls to
feature access codes (FKS-AS-2). Each worker runs its own engine and the subscription rules as the capture
goes (``judging.StreamJudge``), so memory stays bounded there too. The main process reads the capture, drops
what is certainly not feature sync without parsing it (``dialogs.irrelevant``), and runs the capture-scope
rules (PRV, FKS-SIP-1) on what the workers report at the end.
"""

from __future__ import annotations

import multiprocessing
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from analyzer.dialogs import Call, Registration, Subscription, Trace, irrelevant
from analyzer.judging import AuditSettings, StreamJudge
from analyzer.observation import Observation
from analyzer.rules import judge_capture
from analyzer.rules.base import Context
from analyzer.sip.peek import peek_cseq_method, peek_from_user, peek_to_user
from analyzer.verdicts import Result

BATCH = 2000  # messages sent to a worker at a time
Convert = Callable[[Subscription, tuple[Result, ...]], Any]


def subscriber(data: bytes) -> str:
    """The user a message is about, the same for every message of a subscription ("" when not found)."""
    if peek_cseq_method(data) == "NOTIFY":
        return peek_to_user(data) or ""
    return peek_from_user(data) or ""


@dataclass
class Report:
    """What a worker hands back: the judged subscriptions and what the capture-scope rules need."""

    entries: list[tuple[int, Any]] = field(default_factory=list)
    registrations: list[Registration] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    unparsed: list[tuple[Observation, str]] = field(default_factory=list)
    unparsable: int = 0
    subscribes: dict[str | None, list[tuple[float, int]]] = field(default_factory=dict)
    error: str | None = None


def _work(conn: Connection, settings: AuditSettings, convert: Convert) -> None:
    report = Report()
    try:
        judging = StreamJudge(
            settings, lambda sub, results: report.entries.append((sub.first_index, convert(sub, results)))
        )
        while True:
            batch = conn.recv()
            if isinstance(batch, float | int) or batch is None:
                break
            for obs in batch:
                judging.feed(obs)
        trace = judging.finish(batch)
        report.registrations, report.calls, report.unparsed = trace.registrations, trace.calls, trace.unparsed
        report.unparsable, report.subscribes = trace.unparsable, trace.subscribes
    except (EOFError, OSError):
        return  # the main process gave up on the file (it says why)
    except Exception as exc:  # reported to the main process, which fails the file with one line
        report = Report(error=f"{type(exc).__name__}: {exc}")
    try:
        conn.send(report)
    except OSError:
        pass
    finally:
        conn.close()


def judge_partitioned(
    observations: Iterable[Observation], settings: AuditSettings, convert: Convert, workers: int
) -> tuple[list[tuple[int, Any]], tuple[Result, ...]]:
    """The subscriptions (first frame, ``convert``ed) and the capture-scope results of a capture, judged by
    ``workers`` processes: the verdicts ``audit.judge`` gives."""
    context = multiprocessing.get_context("fork")
    ends: list[Connection] = []
    procs = []
    try:
        for _ in range(workers):
            mine, theirs = context.Pipe()
            proc = context.Process(target=_work, args=(theirs, settings, convert), daemon=True)
            proc.start()
            theirs.close()
            ends.append(mine)
            procs.append(proc)
        batches: list[list[Observation]] = [[] for _ in range(workers)]
        end_time: float | None = None
        for obs in observations:
            if end_time is None or obs.time > end_time:
                end_time = obs.time
            if irrelevant(obs.data) is True:
                continue
            k = zlib.crc32(subscriber(obs.data).encode("utf-8", "replace")) % workers
            batch = batches[k]
            batch.append(obs)
            if len(batch) >= BATCH:
                ends[k].send(batch)
                batches[k] = []
        for k, end in enumerate(ends):
            if batches[k]:
                end.send(batches[k])
            end.send(end_time)
        reports = [end.recv() for end in ends]
    except (EOFError, OSError) as exc:
        raise RuntimeError(f"a judging process stopped: {exc or type(exc).__name__}") from None
    finally:
        for end in ends:
            end.close()  # a worker still waiting for messages gets EOFError and ends
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
    failed = [r.error for r in reports if r.error]
    if failed:
        raise RuntimeError(f"a judging process failed: {failed[0]}")
    return _merge(reports, settings, end_time)


def _merge(
    reports: list[Report], settings: AuditSettings, end_time: float | None
) -> tuple[list[tuple[int, Any]], tuple[Result, ...]]:
    trace = Trace(end_time=end_time)
    entries = sorted((e for r in reports for e in r.entries), key=lambda e: e[0])
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
