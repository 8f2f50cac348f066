"""Write SIP messages to a capture file with scapy, exactly as they would appear on the wire.

Used to craft the reference captures of ``captures/`` from SIP text and the hostile captures of the tests.
``write_capture`` is the stable entry point; its options choose the framing a real network would add:
TCP connections (handshake, sequence numbers, a message split over ``segments``, several messages in one
segment with ``coalesce``), IPv4 fragments (``fragsize``), IPv6 (an address with a colon), an 802.1Q tag
(``vlan``), GRE encapsulation (``gre``), pcapng output (a ``.pcapng`` suffix). ``truncate`` and
``corrupt`` damage a file the way broken captures from the field are damaged.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from scapy.layers.inet import GRE, IP, TCP, UDP, fragment
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Packet, Raw
from scapy.utils import wrpcap, wrpcapng

# Fixed, locally administered MAC addresses: a bare Ether() would make scapy resolve (ARP) the IP addresses.
MAC_SRC, MAC_DST = "02:00:00:00:00:01", "02:00:00:00:00:02"
# The outer addresses of a GRE tunnel (documentation range).
TUNNEL = ("203.0.113.1", "203.0.113.2")


@dataclass(frozen=True, slots=True)
class WireMessage:
    """One SIP message to put on the wire: when, from where, to where, how.

    ``segments`` splits a TCP message over that many segments; ``coalesce`` sends it in the same TCP
    segment as the previous message of its connection.
    """

    time: float
    src: tuple[str, int]
    dst: tuple[str, int]
    data: bytes
    transport: str = "udp"
    segments: int = 1
    coalesce: bool = False


def _ip(src: str, dst: str) -> Packet:
    return IPv6(src=src, dst=dst) if ":" in src else IP(src=src, dst=dst)


class _Framer:
    """Turns messages into link-layer frames, keeping TCP connection state between them."""

    def __init__(self, *, vlan: int | None, gre: bool, fragsize: int | None) -> None:
        self.vlan, self.gre, self.fragsize = vlan, gre, fragsize
        self.seq: dict[tuple[tuple[str, int], tuple[str, int]], int] = {}
        self.pending: list[Packet] = []
        self.ip_id = 0

    def _frame(self, inner: Packet, when: float) -> Packet:
        if self.gre:
            inner = IP(src=TUNNEL[0], dst=TUNNEL[1]) / GRE() / inner
        eth = Ether(src=MAC_SRC, dst=MAC_DST)
        pkt = eth / Dot1Q(vlan=self.vlan) / inner if self.vlan is not None else eth / inner
        pkt.time = when
        return pkt

    def udp(self, msg: WireMessage) -> list[Packet]:
        datagram = _ip(msg.src[0], msg.dst[0]) / UDP(sport=msg.src[1], dport=msg.dst[1]) / Raw(msg.data)
        if self.fragsize and isinstance(datagram, IP) and len(datagram) > self.fragsize:
            self.ip_id = (self.ip_id + 1) % 65536  # as a real stack does: fragments of two datagrams never mix
            datagram.id = self.ip_id
            return [self._frame(f, msg.time + i * 1e-5) for i, f in enumerate(fragment(datagram, self.fragsize))]
        return [self._frame(datagram, msg.time)]

    def _handshake(self, msg: WireMessage) -> list[Packet]:
        key, back = (msg.src, msg.dst), (msg.dst, msg.src)
        self.seq[key], self.seq[back] = 1000, 5000
        syn = _ip(msg.src[0], msg.dst[0]) / TCP(sport=msg.src[1], dport=msg.dst[1], flags="S", seq=999)
        synack = _ip(msg.dst[0], msg.src[0]) / TCP(sport=msg.dst[1], dport=msg.src[1], flags="SA", seq=4999, ack=1000)
        ack = _ip(msg.src[0], msg.dst[0]) / TCP(sport=msg.src[1], dport=msg.dst[1], flags="A", seq=1000, ack=5000)
        t = msg.time - 3e-3
        return [self._frame(syn, t), self._frame(synack, t + 1e-3), self._frame(ack, t + 2e-3)]

    def tcp(self, msg: WireMessage, previous: WireMessage | None) -> list[Packet]:
        key = (msg.src, msg.dst)
        out = [] if key in self.seq or (msg.dst, msg.src) in self.seq else self._handshake(msg)
        if msg.coalesce and previous is not None and (previous.src, previous.dst) == key and out == []:
            data = previous.data + msg.data  # resend both in one segment: undo the previous one
            self.seq[key] -= len(previous.data)
            self.pending.pop()
            parts = [data]
        else:
            size = -(-len(msg.data) // max(msg.segments, 1))
            parts = [msg.data[i : i + size] for i in range(0, len(msg.data), size)] or [b""]
        for i, part in enumerate(parts):
            ack = self.seq[(msg.dst, msg.src)]
            seg = TCP(sport=msg.src[1], dport=msg.dst[1], flags="PA", seq=self.seq[key], ack=ack)
            out.append(self._frame(_ip(msg.src[0], msg.dst[0]) / seg / Raw(part), msg.time + i * 1e-4))
            self.seq[key] += len(part)
        return out


def write_capture(
    path: str | Path,
    messages: Iterable[WireMessage],
    *,
    vlan: int | None = None,
    gre: bool = False,
    fragsize: int | None = None,
) -> Path:
    """Write ``messages`` (in the given order) to ``path``: pcap, or pcapng when the suffix says so."""
    framer = _Framer(vlan=vlan, gre=gre, fragsize=fragsize)
    previous: WireMessage | None = None
    for msg in messages:
        if msg.transport == "udp":
            framer.pending.extend(framer.udp(msg))
        elif msg.transport == "tcp":
            framer.pending.extend(framer.tcp(msg, previous))
        else:
            raise ValueError(f"transport {msg.transport!r} not supported")
        previous = msg
    path = Path(path)
    (wrpcapng if path.suffix == ".pcapng" else wrpcap)(str(path), framer.pending)
    return path


def truncate(path: str | Path, keep: int) -> None:
    """Cut a capture after ``keep`` bytes, as a capture interrupted mid-write is cut."""
    path = Path(path)
    path.write_bytes(path.read_bytes()[:keep])


def corrupt(path: str | Path, offset: int, length: int = 64, seed: int = 0) -> None:
    """Overwrite ``length`` bytes at ``offset`` with deterministic noise (a damaged block in the middle)."""
    path = Path(path)
    data = bytearray(path.read_bytes())
    noise = random.Random(seed).randbytes(length)
    data[offset : offset + length] = noise[: max(0, min(length, len(data) - offset))]
    path.write_bytes(bytes(data))
