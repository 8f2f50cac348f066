"""A capture read in slices, each by its own tshark, gives exactly what one tshark over the whole file gives."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from analyzer.sip import build_message
from analyzer.sources import FieldsReader, slices
from peers.craft.synth import SynthOptions, synthesize
from peers.craft.wire import WireMessage, write_capture

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def pcap(lengths: list[int]) -> bytes:
    """A little-endian pcap whose records carry ``lengths`` bytes each."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i, n in enumerate(lengths):
        out.append(struct.pack("<IIII", i, 0, n, n) + bytes([i % 256]) * n)
    return b"".join(out)


def test_slices_answer_for_every_record_once_and_lead_with_the_overlap() -> None:
    data = pcap([60 + i % 7 for i in range(1000)])
    plan = slices.plan(data, 300, 40)
    assert plan is not None
    answered = [n for s in plan for n in range(s.first, (s.last or 1000) + 1)]
    assert answered == list(range(1, 1001))
    assert [s.base for s in plan] == [0, 260, 560]  # 300 - 40, 600 - 40; the last slice takes 900..999
    for s in plan:
        assert data[s.start : s.start + 16][8:12] == struct.pack("<I", 60 + s.base % 7)  # starts on a record
    assert plan[-1].end == len(data) and plan[-1].last is None


def test_small_damaged_or_unknown_files_are_read_whole() -> None:
    assert slices.plan(pcap([60] * 500), 300, 40) is None  # not two slices' worth
    assert slices.plan(b"\x1f\x8b" + bytes(100), 10, 1) is None  # compressed: tshark reads it whole
    truncated = pcap([60] * 1000)[:-30]
    plan = slices.plan(truncated, 300, 40)
    assert plan is not None and plan[-1].end == len(truncated)  # the damage goes to tshark as it is
    with pytest.raises(ValueError):
        slices.plan(pcap([60] * 10), 10, 10)


def pcapng_with_late_interface(tmp: Path, source: Path) -> bytes:
    """A pcapng whose second interface is described after packets: slices could not share a header."""
    ng = tmp / "late.pcapng"
    subprocess.run(["editcap", "-F", "pcapng", str(source), str(ng)], check=True)
    data = ng.read_bytes()
    idb = struct.pack("<IIHHI", 1, 20, 1, 0, 65535) + struct.pack("<I", 20)
    return data + idb


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small site: UDP and TCP bases, calls with RTP, other packages; about 9,000 packets."""
    path = tmp_path_factory.mktemp("slices") / "site.pcap"
    synthesize(path, SynthOptions(subscriptions=60, bases=4, seed=3, tcp_share=0.5, duration=600.0))
    return path


def observations(reader: FieldsReader) -> tuple[list[tuple[object, ...]], int, list[str]]:
    seen = [(o.index, o.time, o.src, o.dst, o.transport, o.data) for o in reader]
    return seen, reader.packets, reader.errors


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_sliced_reading_equals_one_tshark(site: Path, tmp_path: Path, fmt: str) -> None:
    path = site
    if fmt == "pcapng":
        path = tmp_path / "site.pcapng"
        subprocess.run(["editcap", "-F", "pcapng", str(site), str(path)], check=True)
    whole = observations(FieldsReader(path, slice_size=10**9))
    sliced = observations(FieldsReader(path, slice_size=1500, overlap=150, jobs=2))
    assert whole[1] > 6000 and len(whole[0]) > 2000
    assert any(o[4] == "tcp" for o in whole[0]) and any(o[4] == "udp" for o in whole[0])
    assert sliced == whole


def notify(n: int, size: int) -> bytes:
    return build_message(
        "NOTIFY sip:1001@192.0.2.10 SIP/2.0",
        [("Via", f"SIP/2.0/TCP 198.51.100.20:5060;branch=z9hG4bK-{n}"), ("Call-ID", f"c{n}"), ("CSeq", f"{n} NOTIFY")],
        b"x" * size,
    )


def test_messages_in_pieces_across_slice_borders_are_kept_by_the_overlap(tmp_path: Path) -> None:
    """TCP messages in three segments and UDP datagrams in IP fragments, cut by slices of 97 records: each
    message is reassembled by the slice that answers for its last piece, thanks to the lead it carries."""
    messages = []
    for n in range(300):
        src = ("192.0.2.10", 5060) if n % 2 else (f"198.51.100.{20 + n % 3}", 5060 + n % 3)
        transport = "udp" if n % 4 == 1 else "tcp"
        messages.append(WireMessage(1.0 + n / 100, src, ("192.0.2.99", 5060), notify(n, 2500), transport, segments=3))
    path = write_capture(tmp_path / "pieces.pcap", messages, fragsize=1000)
    whole = observations(FieldsReader(path, slice_size=10**9))
    assert len(whole[0]) == 300
    assert observations(FieldsReader(path, slice_size=97, overlap=20)) == whole
    assert observations(FieldsReader(path, slice_size=97, overlap=0)) != whole  # without the lead, pieces are lost


def test_a_truncated_capture_reports_the_same_damage_sliced(site: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(site.read_bytes()[:-100])
    whole = observations(FieldsReader(cut, slice_size=10**9))
    sliced = observations(FieldsReader(cut, slice_size=1500, overlap=150))
    assert whole[2] and sliced == whole


def test_a_pcapng_describing_an_interface_late_is_read_whole(site: Path, tmp_path: Path) -> None:
    data = pcapng_with_late_interface(tmp_path, site)
    assert slices.plan(data, 1500, 150) is None
