"""What one SIP datagram becomes on the wire when a scenario shapes it: the IP packets that leave, decided here.

Why: the packet level is where deployments break. BroadWorks sends the initial state as a multipart NOTIFY of
1.2-2 KB over UDP, so it travels in IP fragments, and routers that drop or reorder fragments, a corrupted
checksum, or a TTL too small for the path leave a handset without its state. The impairment relay
(``peers.io.impair``) only sees whole datagrams; what only packets can express (fragments, checksums, TTL) is
decided here and sent by ``peers.io.rawudp.ScapyUdpPeer``.

A ``WirePlan`` applies to the datagrams it selects (``initial NOTIFY``: a NOTIFY with a multipart body) and
says, per copy (the first transmission is copy 1, each Timer E retransmission the next), which packets leave:
the fragments (of at most ``mtu`` bytes, IP header included) in order, reversed or with one duplicated,
without a lost fragment, with a wrong UDP checksum, with a TTL. The path's routers are emulated by ``hops``:
a packet whose TTL is not larger than the number of routers dies on the way (as the first router with TTL 1
would drop it), so a loopback run shows what a routed path does. No sockets here: scapy packets in and out.
"""

from __future__ import annotations

import random
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from scapy.layers.inet import IP, UDP, fragment
from scapy.packet import Raw

from peers.craft.pcapfile import ipv4_header, sum16

ORDERS = ("in order", "reversed", "one duplicated")
COPIES = ("first", "every")
IP_HEADER = 20
# Where this process's IP identifications start: a fixed start would give two processes on one machine
# (the suite's parallel workers) the same identifications between the same loopback addresses, and the
# receiver's kernel, like a capture's reassembly, would join one exchange's fragments to another's.
_FIRST_IDENT = random.SystemRandom().randrange(0x10000)
_shapers = 0


def _fresh_ident() -> int:
    """A start for one more shaper of this process, 4,096 identifications from the previous one's."""
    global _shapers
    _shapers += 1
    return (_FIRST_IDENT + _shapers * 0x1000) & 0xFFFF


def _initial_notify(data: bytes) -> bool:
    """A NOTIFY whose body is multipart: BroadWorks' initial state (all features in one message)."""
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    return data.startswith(b"NOTIFY ") and b"multipart/" in head


SELECTORS: dict[str, Callable[[bytes], bool]] = {
    "initial NOTIFY": _initial_notify,
    "NOTIFY": lambda data: data.startswith(b"NOTIFY "),
}


def _copies(word: str) -> str:
    if word not in COPIES:
        raise ValueError(f"which copies: one of {', '.join(COPIES)}, not {word!r}")
    return word


@dataclass(frozen=True)
class WirePlan:
    """How the selected datagrams leave (every field optional: the default is one plain packet, TTL 64)."""

    message: str = "initial NOTIFY"
    mtu: int | None = None  # largest packet, IP header included (576, 1280, 1500); None: never fragmented
    order: str = "in order"
    lose: int | None = None  # the fragment (1-based) that is lost ...
    lose_in: str = "first"  # ... in the first copy or in every copy
    bad_checksum: str | None = None  # a wrong UDP checksum in the "first" or "every" copy
    ttl: int = 64
    hops: int = 0  # routers on the emulated path (0: loopback as it is)

    def __post_init__(self) -> None:
        if self.message not in SELECTORS:
            raise ValueError(f"unknown message {self.message!r} (one of {', '.join(SELECTORS)})")
        if self.order not in ORDERS:
            raise ValueError(f"fragment order: one of {', '.join(ORDERS)}, not {self.order!r}")
        if self.mtu is not None and not 68 <= self.mtu <= 65535:
            raise ValueError(f"an IPv4 MTU is 68 to 65535 bytes, not {self.mtu}")
        if not 0 <= self.ttl <= 255 or self.hops < 0:
            raise ValueError(f"TTL 0-255 and a path of 0 or more routers, not TTL {self.ttl} over {self.hops}")
        if self.lose is not None and self.lose < 1:
            raise ValueError("fragments are numbered from 1")
        _copies(self.lose_in)
        if self.bad_checksum is not None:
            _copies(self.bad_checksum)

    def selects(self, data: bytes) -> bool:
        return SELECTORS[self.message](data)

    @property
    def fragment_payload(self) -> int | None:
        """The data bytes per fragment: what the MTU leaves after the IP header, a multiple of 8 (RFC 791)."""
        return None if self.mtu is None else (self.mtu - IP_HEADER) // 8 * 8


@dataclass(frozen=True)
class Shipment:
    """What left for one copy of one datagram: the packets, how many the datagram was cut into, and why some
    did not leave (empty: it left whole)."""

    packets: list[bytes]  # IP packets, header included, in the order they leave
    fragments: int  # 1: not fragmented
    sent: int  # packets that left (a duplicate counts), after losses and routers
    copy: int
    lost: str = ""  # "fragment 2 of 3 lost", "TTL 1 expired at router 1 of 1"
    checksum: str = ""  # "wrong UDP checksum" when the copy carries one
    order: str = ""  # "reversed", "one duplicated" (in order: nothing to say)
    remark: str = ""  # what the plan asked that this datagram could not give ("no fragment 9 to lose ...")

    @property
    def whole(self) -> bool:
        """The receiver's kernel can deliver this copy (every fragment came, the checksum holds)."""
        return not self.lost and not self.checksum

    def note(self) -> str:
        """One line for a ladder arrow or a log: ``3 IP fragments, reversed`` / ``2 of 3 IP fragments ...``."""
        parts = [f"{self.fragments} IP fragments" if self.fragments > 1 else "1 packet"]
        parts += [p for p in (self.order, self.lost, self.checksum, self.remark) if p]
        return f"copy {self.copy}: " + ", ".join(parts)


@dataclass
class Shaper:
    """Applies a plan to the datagrams of one sender, counting the copies of each (a retransmission has the
    same bytes) and giving each datagram its own IP identification, so a lost fragment of one copy never
    joins the reassembly of the next."""

    plan: WirePlan | None = None
    ident: int = field(default_factory=_fresh_ident)
    _copies: dict[bytes, int] = field(default_factory=dict)

    def shape(self, data: bytes, src: tuple[str, int], dst: tuple[str, int]) -> Shipment:
        self.ident = (self.ident + 1) & 0xFFFF
        plan = self.plan if self.plan is not None and self.plan.selects(data) else None
        if plan is None:  # the plain path, packed directly: a flood's answers cannot wait a millisecond each
            return Shipment([plain_packet(data, src, dst, self.ident)], 1, 1, 1)
        ttl = plan.ttl
        pkt = IP(src=src[0], dst=dst[0], ttl=ttl, id=self.ident) / UDP(sport=src[1], dport=dst[1]) / Raw(data)
        copy = self._copies[data] = self._copies.get(data, 0) + 1
        checksum = ""
        if plan.bad_checksum == "every" or (plan.bad_checksum == "first" and copy == 1):
            pkt = IP(bytes(pkt))  # the checksum as computed, then spoiled
            pkt[UDP].chksum ^= 0x5A5A
            checksum = "wrong UDP checksum"
        size = plan.fragment_payload
        packets = fragment(pkt, size) if size and len(pkt) > (plan.mtu or 0) else [pkt]
        count = len(packets)
        lost, remark = "", ""
        order = plan.order if count > 1 and plan.order != "in order" else ""
        if plan.lose is not None and (plan.lose_in == "every" or copy == 1):
            if plan.lose > count:  # said on the copy (the scenario's Then shows it), never raised in the send path
                remark = f"no fragment {plan.lose} to lose at MTU {plan.mtu}: {count} in all"
            else:
                packets = packets[: plan.lose - 1] + packets[plan.lose :]
                lost = f"fragment {plan.lose} of {count} lost"
        if order == "reversed":
            packets = packets[::-1]
        elif order == "one duplicated":
            packets = [*packets, packets[0]]
        if plan.hops and ttl <= plan.hops:
            lost = f"TTL {ttl} expired at router {max(ttl, 1)} of {plan.hops}"
            return Shipment([], count, 0, copy, lost, checksum, order, remark)
        return Shipment([bytes(p) for p in packets], count, len(packets), copy, lost, checksum, order, remark)


def plain_packet(data: bytes, src: tuple[str, int], dst: tuple[str, int], ident: int, ttl: int = 64) -> bytes:
    """One unfragmented IPv4/UDP packet with correct checksums, packed with ``struct``: what scapy builds for a
    plain datagram, at a fraction of its cost (scapy takes about a millisecond a packet)."""
    saddr, daddr = socket.inet_aton(src[0]), socket.inet_aton(dst[0])
    length = 8 + len(data)
    pseudo = saddr + daddr + struct.pack("!BBH", 0, socket.IPPROTO_UDP, length)
    udp = struct.pack("!HHHH", src[1], dst[1], length, 0) + data
    checksum = 0xFFFF - sum16(pseudo + udp) or 0xFFFF  # 0 would mean "no checksum" (RFC 768)
    udp = udp[:6] + struct.pack("!H", checksum) + udp[8:]
    return ipv4_header(length, ident, ttl, socket.IPPROTO_UDP, saddr, daddr) + udp
