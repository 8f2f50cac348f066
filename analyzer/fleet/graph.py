"""The task graph of an audit on a Dask cluster, submitted and gathered from the command's process.

Every capture starts as one ``survey`` task: a small capture (or one that cannot be cut) is audited whole
there, and its report entry comes back. A large one comes back as its slices, and gets:

- a ``dissect`` task per slice (tshark on the slice's records, the messages shared out by subscriber),
- a ``share`` task per slice and share, where the slice is, so that each share travels once,
- a ``judge`` task per share (as many shares as workers), fed that share of every slice in order,
- a ``count`` task (capinfos over the file) and a ``conclude`` task (counters and errors of the reading),

then the shares' reports are merged here and the capture-scope rules judged on them (``shuffle.merge``).
A worker that dies takes its tasks with it: the scheduler runs them again on another worker (recomputing
what was lost), so the verdicts are the same. A capture whose task fails gets its one-line reason, as in
one process; the others go on.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.audit import unusable
from analyzer.fleet import tasks
from analyzer.fleet.cluster import Engine
from analyzer.judging import AuditSettings
from analyzer.progress import Progress
from analyzer.shuffle import merge
from analyzer.sources import CaptureError
from analyzer.sources.tshark import check_file

# Records per slice on a cluster: half the single-machine reader's (``tshark_runs.SLICE_SIZE``), so a
# capture of 100,000 messages already spreads over a few workers; the lead is the same.
SLICE_RECORDS = 50_000
SLICE_OVERLAP = 2_000

Outcome = tuple[dict[str, Any], str | None]


@dataclass
class _Sliced:
    """The futures of one large capture still running."""

    readings: list[Any] = field(default_factory=list)
    judges: list[Any] = field(default_factory=list)
    concluded: Any = None
    held: list[Any] = field(default_factory=list)  # every future of the capture, released at its end
    left: int = 0


def reason_of(exc: BaseException) -> str:
    """The one-line reason a capture's entry gives when one of its tasks failed."""
    from distributed import KilledWorker

    if isinstance(exc, CaptureError):
        text = str(exc)
    elif isinstance(exc, KilledWorker):
        text = f"Dask workers kept dying while auditing it ({exc})"
    else:
        text = f"internal error while auditing: {type(exc).__name__}: {exc}"
    return (text.splitlines() or ["unreadable capture"])[0]


class _Run:
    """One audit on one cluster: submits tasks as results come in, keeps each capture's outcome."""

    def __init__(
        self,
        engine: Engine,
        sources: list[str],
        settings: AuditSettings,
        messages: bool,
        progress: Progress | None,
        slice_records: int,
    ) -> None:
        from distributed import as_completed

        self.client, self.shares = engine.client, engine.workers
        self.sources, self.settings, self.messages = sources, settings, messages
        self.audit = uuid.uuid4().hex  # names this audit's copies on the workers
        self.targets: list[Any] = [tasks.as_source(s, self.audit) for s in sources]
        self.targets = [os.path.abspath(t) if isinstance(t, str) else t for t in self.targets]  # not our cwd
        self.copies = [k for k in map(tasks.copy_key, self.targets) if k is not None]
        self.progress, self.slice_records = progress, slice_records
        self.overlap = min(SLICE_OVERLAP, slice_records // 10)  # a tenth of a small slice (tests)
        self.outcomes: list[Outcome | None] = [None] * len(sources)
        self.sliced: dict[int, _Sliced] = {}
        self.roles: dict[str, tuple[str, int]] = {}
        self.pending = as_completed(loop=self.client.loop)

    def submit(self, role: str, i: int, function: Any, *args: Any, watch: bool = True) -> Any:
        future = self.client.submit(function, *args, pure=False, key=f"fks-{function.__name__}-{uuid.uuid4().hex}")
        if watch:
            self.roles[future.key] = (role, i)
            self.pending.add(future)
        return future

    def ship(self) -> None:
        """Each capture file's bytes to the cluster (``tasks.receive``), for workers that cannot read its path."""
        for i, path in enumerate(self.sources):
            if "://" in path:
                continue  # a URL: each worker fetches it
            try:
                check_file(Path(path))
                data = Path(path).read_bytes()
            except CaptureError as exc:
                self.done(i, (unusable(path, str(exc)), str(exc)))
                continue
            except OSError as exc:
                reason = f"cannot read: {exc.strerror}"
                self.done(i, (unusable(path, reason), reason))
                continue
            shipped = tasks.Shipped(path, self.audit, data)
            self.copies.append(str(tasks.copy_key(shipped)))
            self.targets[i] = self.submit("", i, tasks.receive, shipped, watch=False)

    def run(self, ship: bool = False) -> list[Outcome]:
        if ship:
            self.ship()
        for i, source in enumerate(self.targets):
            if self.outcomes[i] is not None:
                continue
            self.submit(
                "survey", i, tasks.survey, source, self.settings, self.messages, self.slice_records, self.overlap
            )
        for future in self.pending:
            role, i = self.roles.pop(future.key)
            if self.outcomes[i] is not None:
                continue  # the capture already failed
            if future.status != "finished":
                self.fail(i, future)
            elif role == "survey":
                self.surveyed(i, future.result())
            elif role == "slice" and self.progress is not None:
                self.progress.slice_done()
            elif role == "part":
                self.sliced[i].left -= 1
                if not self.sliced[i].left:
                    self.finish(i)
        self.drop_copies()
        return [o if o is not None else self.lost(i) for i, o in enumerate(self.outcomes)]

    def drop_copies(self) -> None:
        """The workers' local copies of URLs and shipped captures go when the audit ends (best effort: a
        worker that left keeps its temporary folder)."""
        if self.copies:
            with contextlib.suppress(Exception):
                self.client.run(tasks.drop_copies, self.copies)

    def lost(self, i: int) -> Outcome:
        reason = "internal error while auditing: the cluster gave no result"
        return unusable(self.sources[i], reason), reason

    def done(self, i: int, outcome: Outcome) -> None:
        self.outcomes[i] = outcome
        self.targets[i] = self.sources[i]  # a shipped capture's bytes are let go
        if self.progress is not None:
            self.progress.file_done()
        state = self.sliced.pop(i, None)
        if state is not None:
            self.client.cancel(state.held)  # nothing of it is needed any more

    def fail(self, i: int, future: Any) -> None:
        try:
            exc = future.exception()
        except Exception as why:  # cancelled: the scheduler lost it
            exc = why
        reason = reason_of(exc)
        self.done(i, (unusable(self.sources[i], reason), reason))

    def surveyed(self, i: int, result: tasks.Plan | dict[str, Any]) -> None:
        if isinstance(result, dict):
            self.done(i, ({**result, "file": self.sources[i]}, None))
            return
        source, parts, shares = self.targets[i], result.parts, self.shares
        state = self.sliced[i] = _Sliced()
        if self.progress is not None:
            self.progress.add_slices(len(parts))
        dissected = [self.submit("slice", i, tasks.dissect, source, part, self.settings, shares) for part in parts]
        state.readings = [self.submit("", i, tasks.reading, d, watch=False) for d in dissected]
        pieces = [[self.submit("", i, tasks.share, d, k, watch=False) for d in dissected] for k in range(shares)]
        state.judges = [
            self.submit("part", i, tasks.judge, self.settings, self.messages, state.readings, p) for p in pieces
        ]
        counted = self.submit("", i, tasks.count, source, watch=False)
        state.concluded = self.submit("part", i, tasks.conclude, source, state.readings, counted)
        pieces_flat = [f for p in pieces for f in p]
        state.held = [*dissected, *state.readings, *pieces_flat, *state.judges, counted, state.concluded]
        state.left = len(state.judges) + 1

    def finish(self, i: int) -> None:
        state = self.sliced[i]
        reports = self.client.gather(state.judges)
        readings = self.client.gather(state.readings)
        facts = state.concluded.result()
        ends = [r.end_time for r in readings if r.end_time is not None]
        entries, capture = merge(reports, self.settings, max(ends) if ends else None)
        entry = {
            "file": self.sources[i],
            "packets": facts["packets"],
            "sip_messages": facts["sip_messages"],
            "errors": facts["errors"],
            "subscriptions": entries,
            "verdicts": [r.to_json() for r in capture],
        }
        self.done(i, (entry, None))


def audit_on(
    engine: Engine,
    sources: list[str],
    settings: AuditSettings,
    messages: bool = False,
    progress: Progress | None = None,
    slice_records: int = SLICE_RECORDS,
    ship: bool = False,
) -> list[Outcome]:
    """Audit every capture on the cluster: each one's report entry and, when it could not be read, the
    one-line reason (its entry then says only that), in the order given. ``ship``: send the captures'
    bytes instead of their paths (read here, held by the scheduler until the audit ends)."""
    return _Run(engine, sources, settings, messages, progress, slice_records).run(ship)
