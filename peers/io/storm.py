"""The re-subscription storm: N handset accounts subscribing at a set rate (a base estate restarting), then
refreshing, against an AS. ``fks base --storm N --rate R`` runs it; ``benchmarks/storm.py`` compares it with
SIPp on the same AS.

Every SUBSCRIBE's latency to its initial NOTIFY is measured from the base's own clock; a subscription fails
when no NOTIFY arrives before Timer F (the transaction gives up). Bounded: the storm sends N SUBSCRIBEs,
waits for the stragglers at most ``drain`` seconds, then (``refresh``) sends one round of refreshes and
ends; it never loops on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from dataclasses import dataclass, field

from analyzer.observation import Endpoint
from analyzer.sip.peek import peek_call_id
from peers.io.transport import UdpPeer
from peers.sansio.gigaset import Base, Handset
from peers.sansio.outgoing import Outgoing


@dataclass
class StormResult:
    accounts: int
    rate: float
    sent: int = 0
    notified: int = 0
    duration: float = 0.0  # first SUBSCRIBE to last initial NOTIFY
    latencies: list[float] = field(default_factory=list)  # seconds, SUBSCRIBE sent -> initial NOTIFY
    refreshed: int = 0

    @property
    def failed(self) -> int:
        return self.sent - self.notified

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")

    def line(self) -> str:
        """The stable one-line summary (benchmarks parse it)."""
        rate = self.notified / self.duration if self.duration else 0.0
        median = statistics.median(self.latencies) * 1000 if self.latencies else float("nan")
        return (
            f"storm accounts={self.accounts} target_rate={self.rate:g} sent={self.sent} notified={self.notified} "
            f"failed={self.failed} achieved_per_s={rate:.0f} p50_ms={median:.1f} "
            f"p99_ms={self.percentile(0.99) * 1000:.1f} "
            f"refreshed={self.refreshed}"
        )


async def storm(
    server: Endpoint,
    accounts: int,
    rate: float,
    *,
    first_user: int = 200000,
    domain: str = "example.test",
    expires: int = 600,
    refresh: bool = True,
    drain: float = 10.0,
    host: str = "127.0.0.1",
) -> StormResult:
    handsets = {str(first_user + i): Handset(str(first_user + i), domain) for i in range(accounts)}
    base = Base(Endpoint(host, 0), server, handsets, expires=expires, track_view=False)
    sent_at: dict[str, float] = {}
    result = StormResult(accounts, rate)

    by_call_id: dict[str, Handset] = {}

    def handler(data: bytes, src: Endpoint, now: float) -> list[Outgoing]:
        hs = by_call_id.get(peek_call_id(data) or "")
        first = hs is not None and hs.screen.notified == 0
        out = base.receive(data, src, now)
        if first and hs is not None and hs.screen.notified:
            result.latencies.append(now - sent_at[hs.user])
            result.notified += 1
        return out

    peer = UdpPeer(handler)
    base.local = await peer.start(host, 0)
    start = time.perf_counter()
    try:
        users = list(handsets)
        for n, user in enumerate(users):
            due = start + n / rate
            if (delay := due - time.perf_counter()) > 0:
                await asyncio.sleep(delay)  # pacing the storm, not synchronisation
            sent_at[user] = time.time()
            peer.send(base.subscribe(user))
            by_call_id[handsets[user].dialog.call_id] = handsets[user]
            result.sent += 1
        with contextlib.suppress(TimeoutError):
            await peer.wait_until(lambda: result.notified >= accounts, drain)
        result.duration = time.perf_counter() - start
        if refresh:
            seen = {u: h.screen.notified for u, h in handsets.items()}
            subscribed = [u for u in users if handsets[u].dialog.remote_tag]
            for n, user in enumerate(subscribed):
                if (delay := start + result.duration + n / rate - time.perf_counter()) > 0:
                    await asyncio.sleep(delay)
                peer.send(base.subscribe(user))
            await asyncio.sleep(0)
            deadline = time.perf_counter() + drain
            while time.perf_counter() < deadline and not peer.idle:
                with contextlib.suppress(TimeoutError):
                    await peer.wait_until(lambda: peer.idle, max(0.0, deadline - time.perf_counter()))
            result.refreshed = sum(1 for u in subscribed if handsets[u].screen.notified > seen[u])
    finally:
        peer.close()
    return result
