"""HEP decoding (``analyzer.sources.hep``), sans-IO: the packets a capture agent sends, built by
``peers.craft.hep`` from the HEP specification's chunk table, and the damaged ones a receiver meets."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.observation import Endpoint, Observation
from analyzer.sources.hep import HepError, HepStream, decode
from peers.craft.hep import hep2, hep3

SIP = b"OPTIONS sip:1001@example.test SIP/2.0\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n"
OBS = Observation(7, 1796000000.25, Endpoint("192.0.2.10", 5060), Endpoint("198.51.100.20", 5070), "udp", SIP)
OBS6 = Observation(8, 1796000001.5, Endpoint("2001:db8::1", 5060), Endpoint("2001:db8::2", 5062), "tcp", SIP)


@pytest.mark.parametrize("obs", [OBS, OBS6], ids=["ipv4-udp", "ipv6-tcp"])
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_hep3_gives_back_the_original_packet(obs: Observation, compress: bool) -> None:
    packet = decode(hep3(obs, capture_id=42, compress=compress))
    assert (packet.src, packet.dst, packet.transport) == (obs.src, obs.dst, obs.transport)
    assert packet.time == pytest.approx(obs.time, abs=1e-6)
    assert packet.payload == SIP and packet.payload_type == 1 and packet.capture_id == 42
    assert packet.observation(99, 0.0) == Observation(99, packet.time, obs.src, obs.dst, obs.transport, SIP)


def test_hep3_skips_chunks_of_other_vendors_and_unknown_types() -> None:
    vendor = struct.pack("!HHH", 0x0025, 1, 10) + b"abcd"  # a vendor's chunk
    unknown = struct.pack("!HHH", 0, 0x00FE, 8) + b"zz"
    assert decode(hep3(OBS, extra=vendor + unknown)).payload == SIP


@pytest.mark.parametrize("padded", [True, False], ids=["struct-padding", "packed"])
def test_hep2_with_either_time_header_layout(padded: bool) -> None:
    packet = decode(hep2(OBS, capture_id=7, padded=padded))
    assert (packet.src, packet.dst, packet.payload, packet.capture_id) == (OBS.src, OBS.dst, SIP, 7)
    assert packet.time == pytest.approx(OBS.time, abs=1e-6)


def test_hep1_has_no_time_so_the_receiver_clock_stands_in() -> None:
    raw = bytearray(hep2(OBS, padded=False))
    raw[0] = 1
    v1 = bytes(raw[:16]) + SIP  # v1: no time header at all
    packet = decode(v1)
    assert packet.time is None and packet.payload == SIP
    assert packet.observation(1, 123.0).time == 123.0


def _without_chunk(data: bytes, kind: int) -> bytes:
    out, pos = bytearray(data[:6]), 6
    while pos < len(data):
        _, chunk_kind, length = struct.unpack_from("!HHH", data, pos)
        if chunk_kind != kind:
            out += data[pos : pos + length]
        pos += length
    out[4:6] = struct.pack("!H", len(out))
    return bytes(out)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda b: b[:-3], "length says"),
        (lambda b: b[:4] + struct.pack("!H", len(b)) + b[6:10] + b"\x00\x02" + b[12:], "chunk"),
        (lambda b: _without_chunk(b, 15), "payload chunk"),
        (lambda b: _without_chunk(b, 3), "addresses"),
        (lambda b: _without_chunk(b, 9), "timestamp"),
        (lambda b: b"XXXX" + b[4:], "not HEP"),
        (lambda b: b"HEP3\x00", "shorter"),
        (lambda b: b"\x02\x08\x02", "shorter"),
    ],
    ids=["truncated", "bad-chunk-length", "no-payload", "no-address", "no-time", "not-hep", "tiny-v3", "tiny-v2"],
)
def test_damaged_packets_raise_one_line_errors(damage, reason: str) -> None:
    with pytest.raises(HepError, match=reason) as caught:
        decode(damage(hep3(OBS)))
    assert "\n" not in str(caught.value)


def test_a_compression_bomb_is_refused() -> None:
    big = Observation(1, 1.0, OBS.src, OBS.dst, "udp", b"A" * 200_000)
    with pytest.raises(HepError, match="beyond"):
        decode(hep3(big, compress=True))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_raise_hep_error(data: bytes) -> None:
    for raw in (data, b"HEP3" + struct.pack("!H", len(data) + 6) + data, b"\x02\x10" + data):
        try:
            packet = decode(raw)
        except HepError as exc:
            assert "\n" not in str(exc)
        else:
            assert isinstance(packet.payload, bytes) and packet.src.port >= 0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=20), st.binary(max_size=40))
def test_a_tcp_stream_in_any_pieces_gives_every_packet_and_resyncs_after_garbage(cuts: list[int], junk: bytes) -> None:
    packets = [hep3(OBS), hep3(OBS6, compress=True), hep3(OBS)]
    junk = junk.replace(b"H", b"h")  # junk that cannot hide a packet start
    stream_bytes = packets[0] + junk + packets[1] + packets[2]
    stream, got, errors, pos = HepStream(), [], [], 0
    for cut in [*cuts, len(stream_bytes)]:
        decoded, problems = stream.feed(stream_bytes[pos : pos + cut])
        got += decoded
        errors += problems
        pos += cut
        if pos >= len(stream_bytes):
            break
    assert [p.src for p in got] == [OBS.src, OBS6.src, OBS.src]
    assert bool(errors) == bool(junk)
