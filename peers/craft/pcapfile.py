"""Ethernet/IPv4/UDP|TCP frames written straight into a pcap with ``struct`` (scapy would take minutes for a
million packets): what ``synth`` and ``hostile`` write their captures with."""

from __future__ import annotations

import struct
from typing import BinaryIO


def sum16(data: bytes) -> int:
    """The ones' complement sum of 16-bit words (RFC 1071), folded, before the final inversion."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def ipv4_header(payload: int, ident: int, ttl: int, proto: int, saddr: bytes, daddr: bytes) -> bytes:
    """A 20-byte IPv4 header (no options, not fragmented) with its checksum, for ``payload`` bytes after it."""
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload, ident, 0, ttl, proto, 0, saddr, daddr)
    return header[:10] + struct.pack("!H", 0xFFFF - sum16(header)) + header[12:]


class PcapWriter:
    """Ethernet/IPv4/UDP|TCP frames straight into a pcap; TCP streams numbered, one handshake each."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.ip_id = 0
        self.tcp: dict[tuple[tuple[str, int], tuple[str, int]], int] = {}
        self.packets = 0

    def write(self, when: float, src: tuple[str, int], dst: tuple[str, int], proto: str, payload: bytes) -> None:
        if proto == "tcp":
            key = (src, dst)
            if key not in self.tcp and (dst, src) not in self.tcp:
                self._handshake(when - 0.001, src, dst)
            seq = self.tcp[key]
            ack = self.tcp[(dst, src)]
            self._frame(
                when,
                src,
                dst,
                6,
                struct.pack("!HHIIBBHHH", src[1], dst[1], seq, ack, 0x50, 0x18, 65535, 0, 0) + payload,
            )
            self.tcp[key] = (seq + len(payload)) & 0xFFFFFFFF
        else:
            self._frame(when, src, dst, 17, struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload)

    def _handshake(self, when: float, a: tuple[str, int], b: tuple[str, int]) -> None:
        self.tcp[(a, b)], self.tcp[(b, a)] = 1000, 5000
        for src, dst, seq, ack, flags in ((a, b, 999, 0, 0x02), (b, a, 4999, 1000, 0x12), (a, b, 1000, 5000, 0x10)):
            self._frame(
                when, src, dst, 6, struct.pack("!HHIIBBHHH", src[1], dst[1], seq, ack, 0x50, flags, 65535, 0, 0)
            )

    def _frame(self, when: float, src: tuple[str, int], dst: tuple[str, int], proto: int, l4: bytes) -> None:
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        s, d = bytes(map(int, src[0].split("."))), bytes(map(int, dst[0].split(".")))
        header = ipv4_header(len(l4), self.ip_id, 64, proto, s, d)
        frame = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + header + l4
        sec = int(when)
        self.fh.write(struct.pack("<IIII", sec, int((when - sec) * 1_000_000), len(frame), len(frame)) + frame)
        self.packets += 1
