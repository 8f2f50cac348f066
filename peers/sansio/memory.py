"""Both emulators in one process without sockets: messages delivered in order on a virtual clock.

The recorded ``observations`` are what a capture of the exchange would show, so the analyzer can judge an
emulated conversation exactly as it judges a pcap (the in-memory pair of h11's tests, for this package).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from analyzer.observation import Observation
from peers.sansio.broadworks import ApplicationServer
from peers.sansio.gigaset import Base
from peers.sansio.outgoing import Outgoing


class MemoryLink:
    def __init__(self, server: ApplicationServer, base: Base, *, clock: float = 1000.0, step: float = 0.001) -> None:
        self.server, self.base = server, base
        self.clock, self.step = clock, step
        self.observations: list[Observation] = []

    def wait(self, seconds: float) -> None:
        """Let time pass (a handset user pausing between actions)."""
        self.clock += seconds

    def send(self, outgoing: Outgoing | Iterable[Outgoing], max_messages: int = 10_000) -> None:
        """Deliver ``outgoing`` and everything it provokes, until both sides are quiet."""
        queue = deque([outgoing] if isinstance(outgoing, Outgoing) else outgoing)
        for _ in range(max_messages):
            if not queue:
                return
            msg = queue.popleft()
            to_server = msg.dst == self.server.local
            src = self.base.local if to_server else self.server.local
            self.clock += self.step
            self.observations.append(Observation(len(self.observations) + 1, self.clock, src, msg.dst, "udp", msg.data))
            if to_server:
                queue.extend(self.server.receive(msg.data, src, self.clock))
            else:
                queue.extend(self.base.receive(msg.data, src))
        raise RuntimeError(f"the peers exchanged more than {max_messages} messages without settling")
