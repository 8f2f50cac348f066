"""A lossy network between the peers: drop, duplicate, reorder and delay datagrams, deterministically.

The kernel here has no netem, so the suite puts this relay between the base and the AS. ``Impairer`` is
the sans-IO part: for each datagram it decides when each copy is delivered (no copy: dropped), from a
seeded random generator, so a failing run can be replayed. ``UdpRelay`` applies the decisions: the client
sends to the relay as if it were the server; the relay forwards from its own socket, and sends whatever
the server sends back to the client.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

from analyzer.observation import Endpoint


@dataclass(frozen=True, slots=True)
class Impairment:
    loss: float = 0.0  # probability a datagram is dropped
    duplicate: float = 0.0  # probability a delivered datagram is delivered twice
    reorder: float = 0.0  # probability a datagram is held back behind the next ones
    delay: float = 0.0  # seconds added to every datagram
    jitter: float = 0.0  # up to this many seconds more, uniformly
    seed: int = 0


@dataclass
class Impairer:
    spec: Impairment
    rng: random.Random = field(init=False)
    decided: int = 0
    dropped: int = 0
    duplicated: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.spec.seed)

    def decide(self) -> list[float]:
        """The delays (seconds) after which the copies of one datagram are delivered; [] drops it."""
        self.decided += 1
        spec, rng = self.spec, self.rng
        if rng.random() < spec.loss:
            self.dropped += 1
            return []
        delay = spec.delay + rng.uniform(0, spec.jitter)
        if rng.random() < spec.reorder:
            delay += spec.jitter + 0.02  # held back: the next datagrams overtake it
        copies = [delay]
        if rng.random() < spec.duplicate:
            self.duplicated += 1
            copies.append(delay + rng.uniform(0, max(spec.jitter, 0.005)))
        return copies


class UdpRelay(asyncio.DatagramProtocol):
    """Forward client <-> server through an ``Impairer``."""

    def __init__(self, server: Endpoint, spec: Impairment) -> None:
        self.server = server
        self.impairer = Impairer(spec)
        self.client: tuple[str, int] | None = None
        self.local = Endpoint("127.0.0.1", 0)
        self._transport: asyncio.DatagramTransport | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Endpoint:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(host, port))
        self._transport = transport  # type: ignore[assignment]
        name = transport.get_extra_info("sockname")
        self.local = Endpoint(name[0], name[1])
        return self.local

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        if (addr[0], addr[1]) == (self.server.host, self.server.port):
            target = self.client
        else:
            self.client = addr
            target = (self.server.host, self.server.port)
        if target is None:
            return
        loop = asyncio.get_running_loop()
        for delay in self.impairer.decide():
            loop.call_later(delay, self._deliver, data, target)

    def _deliver(self, data: bytes, target: tuple[str, int]) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.sendto(data, target)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
