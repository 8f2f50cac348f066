"""HEP packets built from observations, as a capture agent (Kamailio's ``siptrace``, heplify) sends them:
for tests of the decoder and the receiver, and the monitor's benchmark."""

from __future__ import annotations

import ipaddress
import struct
import zlib

from analyzer.observation import Observation

_PROTO = {"udp": 17, "tcp": 6, "sctp": 132}


def _chunk(kind: int, value: bytes) -> bytes:
    return struct.pack("!HHH", 0, kind, 6 + len(value)) + value


def hep3(obs: Observation, capture_id: int = 2001, compress: bool = False, extra: bytes = b"") -> bytes:
    """A HEPv3 packet carrying ``obs`` (``extra``: chunks appended as they are, e.g. a vendor's)."""
    src, dst = ipaddress.ip_address(obs.src.host), ipaddress.ip_address(obs.dst.host)
    v6 = src.version == 6
    seconds = int(obs.time)
    micros = round((obs.time - seconds) * 1e6)
    if micros >= 1_000_000:
        seconds, micros = seconds + 1, micros - 1_000_000
    body = b"".join(
        (
            _chunk(1, struct.pack("!B", 10 if v6 else 2)),
            _chunk(2, struct.pack("!B", _PROTO.get(obs.transport, 17))),
            _chunk(5 if v6 else 3, src.packed),
            _chunk(6 if v6 else 4, dst.packed),
            _chunk(7, struct.pack("!H", obs.src.port)),
            _chunk(8, struct.pack("!H", obs.dst.port)),
            _chunk(9, struct.pack("!I", seconds)),
            _chunk(10, struct.pack("!I", micros)),
            _chunk(11, struct.pack("!B", 1)),
            _chunk(12, struct.pack("!I", capture_id)),
            _chunk(16, zlib.compress(obs.data)) if compress else _chunk(15, obs.data),
            extra,
        )
    )
    return b"HEP3" + struct.pack("!H", 6 + len(body)) + body


def hep2(obs: Observation, capture_id: int = 2001, padded: bool = True) -> bytes:
    """A HEPv2 packet carrying ``obs`` (IPv4; ``padded``: the 12-byte time header of the C struct)."""
    src, dst = ipaddress.ip_address(obs.src.host), ipaddress.ip_address(obs.dst.host)
    seconds = int(obs.time)
    micros = round((obs.time - seconds) * 1e6) % 1_000_000
    head = struct.pack("!BBBBHH", 2, 8, 2, _PROTO.get(obs.transport, 17), obs.src.port, obs.dst.port)
    time_header = struct.pack("<IIH", seconds, micros, capture_id) + (b"\0\0" if padded else b"")
    return head + src.packed + dst.packed + time_header + obs.data
