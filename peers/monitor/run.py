"""The ``fks monitor`` process: a source (HEP, an interface, or a capture replayed with ``--once``) feeding
``analyzer.monitor.Monitor``, its records written as JSON lines and counted in the Prometheus metrics.

Exit status: 0 when stopped (SIGINT, SIGTERM, ``--duration``), 2 when a listener or the capture cannot start
(one line on stderr); ``--once``: 0, or 1 when a verdict is ``fail``, or 2 for an unusable capture.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass

from analyzer.judging import AuditSettings
from analyzer.monitor import Monitor, Record
from analyzer.observation import Endpoint, Observation
from analyzer.sources.hep import PAYLOAD_SIP, HepPacket
from peers.io import loops
from peers.monitor.metrics import Metrics
from peers.monitor.output import Lines

TICK = 1.0  # seconds between clock ticks (settling, windows, the rate gauge): a timer, not a synchronisation
LIVE_WINDOW = 300.0  # capture-scope rules are judged over windows this long unless --window says otherwise
LOG_EVERY = 1.0  # at most one line a second about malformed input; the counter has them all


@dataclass(frozen=True)
class MonitorOptions:
    settings: AuditSettings
    hep: Endpoint | None = None
    iface: str | None = None
    capture_filter: str | None = None
    output: str | None = None
    metrics: Endpoint | None = None
    window: float | None = None
    reorder: float = 0.5
    duration: float | None = None
    rotate_bytes: int = 50 << 20
    keep: int = 5
    linger: float = 0.0  # keep /metrics up this long after stopping, for a last scrape
    ring_seconds: int = 2
    ring_files: int = 10


class Session:
    """One monitor, its output and its metrics, fed by any source."""

    def __init__(self, monitor: Monitor, lines: Lines, metrics: Metrics | None = None) -> None:
        self.monitor, self.lines, self.metrics = monitor, lines, metrics
        self.index = 0
        self.fails = 0
        self._counted_messages = 0
        self._logged_at = float("-inf")
        self._unlogged = 0

    def packet(self, packet: HepPacket, now: float) -> None:
        if self.metrics is not None:
            self.metrics.hep.inc()
        if packet.payload_type != PAYLOAD_SIP:
            return
        self.index += 1
        self.observe([packet.observation(self.index, now)])

    def observe(self, batch: Iterable[Observation]) -> None:
        records: list[Record] = []
        for obs in batch:
            records += self.monitor.feed(obs)
        self._publish(records)

    def malformed(self, reason: str, sender: str) -> None:
        if self.metrics is not None:
            self.metrics.malformed.inc()
        now = time.monotonic()
        if now - self._logged_at < LOG_EVERY:
            self._unlogged += 1
            return
        more = f" (and {self._unlogged} more since the last line)" if self._unlogged else ""
        print(f"fks monitor: malformed HEP from {sender}: {reason}{more}", file=sys.stderr, flush=True)
        self._logged_at, self._unlogged = now, 0

    def tick(self, now: float) -> None:
        self._publish(self.monitor.tick(now), now)

    def finish(self) -> None:
        self._publish(self.monitor.finish())
        self.lines.close()

    def _publish(self, records: list[Record], now: float | None = None) -> None:
        self.lines.write(records)
        for record in records:
            self.fails += sum(1 for v in record["verdicts"] if v["verdict"] == "fail")
        metrics = self.metrics
        if metrics is None:
            return
        for record in records:
            if record["scope"] == "subscription":
                metrics.settled.inc()
            for v in record["verdicts"]:
                metrics.verdicts.labels(v["rule"], v["verdict"]).inc()
        judged = self.monitor.messages
        wall = time.time()
        if judged > self._counted_messages and self.monitor.judged_time is not None:
            metrics.lag.set(max(0.0, wall - self.monitor.judged_time))
        metrics.messages.inc(judged - self._counted_messages)
        self._counted_messages = judged
        metrics.open.set(self.monitor.open_subscriptions)
        if now is not None:
            metrics.count_messages(judged, wall)


def _lines(opts: MonitorOptions) -> Lines:
    return Lines(opts.output, opts.rotate_bytes, opts.keep)


def run_once(path: str, opts: MonitorOptions) -> int:
    """Replay a capture through the monitor path (no reordering, one capture-scope window unless given)."""
    from analyzer.sources import CaptureError, CaptureReader, FieldsReader

    settings = opts.settings
    session = Session(Monitor(settings, opts.window, reorder=0.0), _lines(opts))
    reader: CaptureReader | FieldsReader
    if settings.keylog or settings.reader == "pyshark":
        reader = CaptureReader(path, decode_as=settings.decode_as, keylog=settings.keylog)
    else:
        reader = FieldsReader(path, decode_as=settings.decode_as)
    try:
        for obs in reader:
            session.observe((obs,))
    except CaptureError as exc:
        print(f"fks: {path}: {str(exc).splitlines()[0] if str(exc) else 'unreadable capture'}", file=sys.stderr)
        session.lines.close()
        return 2
    session.finish()
    return 1 if session.fails else 0


async def _live(opts: MonitorOptions) -> None:
    from peers.monitor.hep_server import HepReceiver
    from peers.monitor.interface import InterfaceCapture

    metrics = Metrics()
    window = opts.window if opts.window is not None else LIVE_WINDOW
    session = Session(Monitor(opts.settings, window, opts.reorder), _lines(opts), metrics)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    failure: list[str] = []

    def fail(reason: str) -> None:
        failure.append(reason)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    receiver, capture = None, None
    try:
        if opts.hep is not None:
            receiver = HepReceiver(session.packet, session.malformed)
            bound = await receiver.start(opts.hep)
            print(f"fks monitor: HEP on udp+tcp {bound}", file=sys.stderr, flush=True)
        if opts.iface is not None:
            capture = InterfaceCapture(
                opts.iface,
                opts.capture_filter,
                session.observe,
                fail,
                opts.settings.decode_as,
                opts.ring_seconds,
                opts.ring_files,
            )
            capture.start(loop)
            print(f"fks monitor: capturing on {opts.iface}", file=sys.stderr, flush=True)
        if opts.metrics is not None:
            served = metrics.serve(opts.metrics)
            print(f"fks monitor: metrics on http://{served}/metrics", file=sys.stderr, flush=True)
        deadline = None if opts.duration is None else loop.time() + opts.duration
        while not stop.is_set() and (deadline is None or loop.time() < deadline):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK)
            session.tick(time.time())
    finally:
        if receiver is not None:
            receiver.close()
        if capture is not None:
            await asyncio.to_thread(capture.stop)
            await asyncio.sleep(0)  # the batches the reader handed over while stopping
        session.finish()
        print(f"fks monitor: stopped after {session.monitor.messages} message(s)", file=sys.stderr, flush=True)
    if opts.linger > 0 and opts.metrics is not None:  # /metrics still answers: a last scrape sees the end
        stop.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), opts.linger)  # a second signal ends it early
    if failure:
        raise OSError(failure[0])


def run_monitor(opts: MonitorOptions) -> int:
    try:
        loops.run(_live(opts))
    except OSError as exc:
        print(f"fks: error: {exc.strerror or exc}" if not exc.filename else f"fks: error: {exc}", file=sys.stderr)
        return 2
    return 0
