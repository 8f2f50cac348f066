"""Our AS's datagrams as packets crafted by scapy (``--fks-transport scapy``): the wire is the scenario's to shape.

``ScapyUdpPeer`` is a ``UdpPeer`` (same socket, same retransmissions, receiving on the bound socket, so the
kernel never answers with ICMP errors) whose datagrams leave through a raw IP socket as the packets a
``peers.craft.packets.Shaper`` decides: fragments of a chosen MTU in a chosen order, a lost fragment, a wrong
UDP checksum, a TTL. Needs root or CAP_NET_RAW (``can_send_raw``).

Its message log holds what a capture beside it decodes as SIP: a copy that left without one of its fragments
(or died at an emulated router) is no message on the wire, so it is not logged; every copy, whole or not, is in
``shipments`` (the wire log: what left, per copy), which the ladders and the wire scenarios read.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field

from analyzer.observation import Endpoint, Observation
from peers.craft.packets import Shaper, Shipment, WirePlan
from peers.io.transport import UdpPeer
from peers.sansio.outgoing import Outgoing


def can_send_raw() -> bool:
    """Whether this process may open a raw IP socket (root, or CAP_NET_RAW)."""
    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW).close()
    except (PermissionError, OSError):
        return False
    return True


@dataclass(frozen=True)
class Shipped:
    """One copy of one datagram as it left: when, its bytes, and what became of its packets."""

    time: float
    dst: Endpoint
    data: bytes
    shipment: Shipment
    logged: int | None  # the index of its entry in the message log (None: it left incomplete)


@dataclass
class ScapyUdpPeer(UdpPeer):
    """A ``UdpPeer`` whose datagrams leave as scapy packets, shaped by ``plan`` (None: one plain packet each)."""

    plan: WirePlan | None = None
    shipments: list[Shipped] = field(default_factory=list)
    _shaper: Shaper = field(default_factory=Shaper)
    _raw: socket.socket | None = None

    def __post_init__(self) -> None:
        self._shaper.plan = self.plan

    def close(self) -> None:
        super().close()
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    def _send(self, out: Outgoing) -> None:
        if self._transport is None:
            raise RuntimeError("peer not started")
        src, dst = (self.local.host, self.local.port), (out.dst.host, out.dst.port)
        shipment = self._shaper.shape(out.data, src, dst)
        if self._raw is None:  # IPPROTO_RAW: the packets go out as given, header included (IP_HDRINCL)
            self._raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        for packet in shipment.packets:
            self._raw.sendto(packet, (out.dst.host, 0))
        logged = None
        if not shipment.lost:
            self._record("send", self.local, out.dst, out.data)
            logged = self._count
        self.shipments.append(Shipped(time.time(), out.dst, out.data, shipment, logged))

    def attempts(self) -> list[Observation]:
        """The message log with every copy that left incomplete put back where it left: what the AS tried to
        send (its own view of the exchange), for the rules to judge the transactions it could not complete."""
        extra = [Observation(0, s.time, self.local, s.dst, "udp", s.data) for s in self.shipments if s.logged is None]
        merged = sorted([*self.observations, *extra], key=lambda o: o.time)
        return [Observation(i, o.time, o.src, o.dst, o.transport, o.data) for i, o in enumerate(merged, 1)]
