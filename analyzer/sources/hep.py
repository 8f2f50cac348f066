"""HEP (HOMER's encapsulation protocol), decoded sans-IO: the bytes of a datagram or a TCP stream in,
``Observation``s out. Proxies and SBCs (Kamailio's ``siptrace``, OpenSIPS's ``proto_hep``, heplify) mirror
every SIP message this way, with the original packet's addresses and capture time.

- HEPv3: ``HEP3``, a total length, then chunks (vendor, type, length, value). Vendor 0's chunks carry the
  family, transport, addresses, ports, seconds and microseconds, payload type (1 = SIP) and the payload
  (chunk 15, or chunk 16 gzip-compressed). Unknown chunks and vendors are skipped.
- HEPv1/v2 (UDP only: they carry no total length): version, header length, family, transport, ports,
  addresses, and for v2 a little-endian time header (seconds, microseconds, capture id; 10 bytes, or 12
  with the C struct's padding, which Kamailio sends), then the payload.

Bad input raises ``HepError`` (one line); this module never reads a socket or a clock.
"""

from __future__ import annotations

import ipaddress
import struct
import zlib
from dataclasses import dataclass

from analyzer.observation import Endpoint, Observation

MAGIC = b"HEP3"
MAX_PAYLOAD = 65535  # a decompressed payload beyond this is refused (no inflating bombs)
PAYLOAD_SIP = 1
_TRANSPORTS = {17: "udp", 6: "tcp", 132: "sctp"}
_FAMILIES = {2: 4, 10: 6}  # AF_INET, AF_INET6 -> IP version


class HepError(ValueError):
    """A packet that is not HEP, or a HEP packet too damaged to yield a message."""


@dataclass(frozen=True, slots=True)
class HepPacket:
    """One decoded HEP packet: the original packet's addresses, transport and time, and its payload."""

    src: Endpoint
    dst: Endpoint
    transport: str
    time: float | None  # None: HEPv1 carries no time (the receiver's clock stands in)
    payload_type: int
    payload: bytes
    capture_id: int | None = None

    def observation(self, index: int, now: float) -> Observation:
        return Observation(
            index, self.time if self.time is not None else now, self.src, self.dst, self.transport, self.payload
        )


def decode(data: bytes) -> HepPacket:
    """One HEP packet (v1, v2 or v3), exactly ``data``."""
    if data[:4] == MAGIC:
        return _decode_v3(data)
    if data[:1] in (b"\x01", b"\x02"):
        return _decode_v2(data)
    raise HepError(f"not HEP: starts with {data[:4]!r}")


def _ip(raw: bytes) -> str:
    return str(ipaddress.ip_address(raw))


def _decode_v3(data: bytes) -> HepPacket:
    if len(data) < 6:
        raise HepError("HEPv3 packet shorter than its header")
    (total,) = struct.unpack_from("!H", data, 4)
    if total != len(data):
        raise HepError(f"HEPv3 length says {total} bytes, packet has {len(data)}")
    chunks: dict[int, bytes] = {}
    pos = 6
    while pos < total:
        if pos + 6 > total:
            raise HepError(f"HEPv3 chunk header cut at byte {pos}")
        vendor, kind, length = struct.unpack_from("!HHH", data, pos)
        if length < 6 or pos + length > total:
            raise HepError(f"HEPv3 chunk {vendor}:{kind} has length {length} at byte {pos}")
        if vendor == 0:
            chunks[kind] = data[pos + 6 : pos + length]
        pos += length

    def number(kind: int, fmt: str, name: str) -> int:
        raw = chunks.get(kind)
        if raw is None or len(raw) != struct.calcsize(fmt):
            raise HepError(f"HEPv3 packet without a valid {name} chunk ({kind})")
        return int(struct.unpack(fmt, raw)[0])

    family = _FAMILIES.get(number(1, "!B", "IP family"))
    if family == 4:
        src_raw, dst_raw = chunks.get(3), chunks.get(4)
        width = 4
    elif family == 6:
        src_raw, dst_raw = chunks.get(5), chunks.get(6)
        width = 16
    else:
        raise HepError("HEPv3 packet of an unknown IP family")
    if src_raw is None or dst_raw is None or len(src_raw) != width or len(dst_raw) != width:
        raise HepError(f"HEPv3 packet without its IPv{family} addresses")
    proto = number(2, "!B", "IP protocol")
    sport, dport = number(7, "!H", "source port"), number(8, "!H", "destination port")
    seconds = number(9, "!I", "timestamp")
    micros = number(10, "!I", "microseconds") if 10 in chunks else 0
    payload_type = number(11, "!B", "payload type") if 11 in chunks else PAYLOAD_SIP
    capture_id = number(12, "!I", "capture agent") if 12 in chunks else None
    if 15 in chunks:
        payload = chunks[15]
    elif 16 in chunks:
        payload = _inflate(chunks[16])
    else:
        raise HepError("HEPv3 packet without a payload chunk (15 or 16)")
    return HepPacket(
        Endpoint(_ip(src_raw), sport),
        Endpoint(_ip(dst_raw), dport),
        _TRANSPORTS.get(proto, f"ip{proto}"),
        seconds + micros / 1e6,
        payload_type,
        payload,
        capture_id,
    )


def _inflate(raw: bytes) -> bytes:
    try:
        inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
        out = inflater.decompress(raw, MAX_PAYLOAD + 1)
    except zlib.error as exc:
        raise HepError(f"HEPv3 compressed payload does not inflate: {exc}") from None
    if len(out) > MAX_PAYLOAD:
        raise HepError(f"HEPv3 compressed payload inflates beyond {MAX_PAYLOAD} bytes")
    return out


def _decode_v2(data: bytes) -> HepPacket:
    if len(data) < 8:
        raise HepError("HEPv1/v2 packet shorter than its header")
    version, header_len, af, proto, sport, dport = struct.unpack_from("!BBBBHH", data, 0)
    family = _FAMILIES.get(af)
    if family is None or header_len < 8:
        raise HepError(f"HEPv{version} packet of unknown family {af} or header length {header_len}")
    width = 4 if family == 4 else 16
    pos = 8
    if len(data) < pos + 2 * width:
        raise HepError(f"HEPv{version} packet cut inside its addresses")
    src, dst = _ip(data[pos : pos + width]), _ip(data[pos + width : pos + 2 * width])
    pos += 2 * width
    when: float | None = None
    capture_id = None
    if version == 2:
        if len(data) < pos + 10:
            raise HepError("HEPv2 packet cut inside its time header")
        seconds, micros, capture_id = struct.unpack_from("<IIH", data, pos)
        when = seconds + micros / 1e6
        pos += 12 if data[pos + 10 : pos + 12] == b"\0\0" else 10  # the C struct's padding, when sent
    return HepPacket(
        Endpoint(src, sport),
        Endpoint(dst, dport),
        _TRANSPORTS.get(proto, f"ip{proto}"),
        when,
        PAYLOAD_SIP,
        data[pos:],
        capture_id,
    )


class HepStream:
    """HEPv3 packets cut from a TCP byte stream. Garbage is skipped up to the next ``HEP3`` (and counted),
    so one bad packet does not lose the connection; ``feed`` returns decoded packets and the errors met."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> tuple[list[HepPacket], list[str]]:
        buf = self._buffer
        buf += data
        packets: list[HepPacket] = []
        errors: list[str] = []
        while buf:
            if not buf.startswith(MAGIC[: min(4, len(buf))]):
                start = buf.find(MAGIC, 1)
                if start < 0:  # keep a tail that may begin the next packet
                    keep = next((k for k in (3, 2, 1) if len(buf) > k and buf[-k:] == MAGIC[:k]), 0)
                    start = len(buf) - keep
                errors.append("HEP stream out of step: skipped to the next HEP3")
                del buf[:start]
                continue
            if len(buf) < 6:
                break
            (total,) = struct.unpack_from("!H", buf, 4)
            if total < 6:
                errors.append(f"HEPv3 length {total} shorter than its header")
                del buf[:4]
                continue
            if len(buf) < total:
                break
            raw = bytes(buf[:total])
            del buf[:total]
            try:
                packets.append(decode(raw))
            except HepError as exc:
                errors.append(str(exc))
        return packets, errors
