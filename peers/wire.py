"""Write SIP messages to a capture file with scapy, exactly as they would appear on the wire.

Used to craft the reference captures of ``captures/`` from SIP text (until the live peers record them) and
the hostile captures of the tests. ``write_capture`` is the stable entry point; options select how each
message is framed (UDP, TCP segments, IP fragments, IPv6, VLAN, GRE/ERSPAN).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import wrpcap


@dataclass(frozen=True, slots=True)
class WireMessage:
    """One SIP message to put on the wire: when, from where, to where, how."""

    time: float
    src: tuple[str, int]
    dst: tuple[str, int]
    data: bytes
    transport: str = "udp"


# Fixed, locally administered MAC addresses: a bare Ether() would make scapy resolve (ARP) the IP addresses.
MAC_SRC, MAC_DST = "02:00:00:00:00:01", "02:00:00:00:00:02"


def _udp_packets(msg: WireMessage) -> list[Packet]:
    eth = Ether(src=MAC_SRC, dst=MAC_DST)
    pkt = eth / IP(src=msg.src[0], dst=msg.dst[0]) / UDP(sport=msg.src[1], dport=msg.dst[1]) / Raw(msg.data)
    pkt.time = msg.time
    return [pkt]


def write_capture(path: str | Path, messages: Iterable[WireMessage]) -> Path:
    """Write ``messages`` (in the given order) to ``path`` (pcap, or pcapng when the suffix says so)."""
    packets: list[Packet] = []
    for msg in messages:
        if msg.transport != "udp":
            raise ValueError(f"transport {msg.transport!r} not supported")
        packets.extend(_udp_packets(msg))
    path = Path(path)
    wrpcap(str(path), packets)
    return path
