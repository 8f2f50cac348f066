"""The monitor's Prometheus metrics, on a registry of its own (``prometheus_client``), served over HTTP.

Labels stay bounded: a rule ID and a verdict, never a user or a Call-ID. Every (rule, verdict) series the
catalogue allows exists from the start at 0, so ``rate(...) > 0`` alerts work from the first scrape.
"""

from __future__ import annotations

from collections import deque

from prometheus_client import CollectorRegistry, Counter, Gauge, disable_created_metrics, start_http_server

from analyzer.observation import Endpoint
from analyzer.rules import CATALOGUE
from analyzer.verdicts import Verdict

RATE_SECONDS = 10.0  # messages per second: averaged over this much of the recent past


class Metrics:
    def __init__(self) -> None:
        disable_created_metrics()  # the ``*_created`` series would double the output for nothing a dashboard reads
        self.registry = CollectorRegistry()
        r = self.registry
        self.verdicts = Counter(
            "fks_monitor_verdicts", "Verdicts emitted, by rule and verdict", ["rule", "verdict"], registry=r
        )
        for rule in CATALOGUE:
            for verdict in Verdict:
                self.verdicts.labels(rule.id, verdict.value)
        self.settled = Counter("fks_monitor_subscriptions_settled", "Subscriptions judged and emitted", registry=r)
        self.open = Gauge("fks_monitor_subscriptions_open", "Subscriptions not yet settled", registry=r)
        self.messages = Counter("fks_monitor_messages", "SIP messages judged", registry=r)
        self.rate = Gauge(
            "fks_monitor_messages_per_second", f"SIP messages judged per second over {RATE_SECONDS:g} s", registry=r
        )
        self.hep = Counter("fks_monitor_hep_packets", "HEP packets received", registry=r)
        self.malformed = Counter("fks_monitor_hep_malformed", "HEP packets that could not be decoded", registry=r)
        self.lag = Gauge(
            "fks_monitor_engine_lag_seconds",
            "Wall-clock time at judging minus the capture time of the message judged (reordering delay included)",
            registry=r,
        )
        self._recent: deque[tuple[float, int]] = deque()

    def count_messages(self, total: int, now: float) -> None:
        """Note the running message total; the rate is its slope over the last ``RATE_SECONDS``."""
        recent = self._recent
        recent.append((now, total))
        while len(recent) > 1 and recent[0][0] < now - RATE_SECONDS:
            recent.popleft()
        first_time, first_total = recent[0]
        self.rate.set((total - first_total) / (now - first_time) if now > first_time else 0.0)

    def serve(self, where: Endpoint) -> Endpoint:
        """Serve ``/metrics`` at ``where`` (port 0: any free one); returns the address bound."""
        server, _ = start_http_server(where.port, where.host, registry=self.registry)
        return Endpoint(where.host, server.server_port)
