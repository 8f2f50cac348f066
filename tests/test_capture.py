"""The capture reader on crafted captures: every framing tshark must undo, and damaged or foreign files.

Captures are written with scapy (``peers/craft/wire.py``) into a temporary folder and read back through pyshark
and tshark, the real parts; assertions are on exact bytes, frame numbers, addresses and transports.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from analyzer.observation import Endpoint
from analyzer.sip import build_message, parse_message
from analyzer.sources import CaptureError, CaptureReader, FieldsReader
from peers.craft.wire import WireMessage, corrupt, truncate, write_capture

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")

BASE, AS = ("192.0.2.10", 5060), ("198.51.100.20", 5060)


def sip(n: int, body: bytes = b"", transport: str = "UDP") -> bytes:
    return build_message(
        "NOTIFY sip:1001@192.0.2.10 SIP/2.0",
        [
            ("Via", f"SIP/2.0/{transport} 198.51.100.20:5060;branch=z9hG4bK-{n}"),
            ("Max-Forwards", "70"),
            ("From", "<sip:1001@example.test>;tag=as"),
            ("To", "<sip:1001@example.test>;tag=base"),
            ("Call-ID", f"c{n}"),
            ("CSeq", f"{n} NOTIFY"),
            ("Event", "as-feature-event"),
        ],
        body,
    )


# Both readers must give the same observations: pyshark's JSON objects, and tshark's fields (the fast one).
READERS = pytest.mark.parametrize("reader_cls", [CaptureReader, FieldsReader], ids=["pyshark", "fields"])


def read(reader_cls: type, path: Path, **kwargs: object) -> tuple[list, CaptureReader]:
    reader = reader_cls(path, **kwargs)
    return list(reader), reader


@READERS
def test_udp_pcap_and_pcapng(reader_cls: type, tmp_path: Path) -> None:
    for name in ("a.pcap", "a.pcapng"):
        msgs = [WireMessage(10.0 + i, AS, BASE, sip(i)) for i in range(3)]
        obs, reader = read(reader_cls, write_capture(tmp_path / name, msgs))
        assert [o.data for o in obs] == [m.data for m in msgs]
        assert [o.index for o in obs] == [1, 2, 3]
        assert obs[0].src == Endpoint(*AS) and obs[0].dst == Endpoint(*BASE) and obs[0].transport == "udp"
        assert obs[1].time == pytest.approx(11.0)
        assert (reader.packets, reader.sip_messages, reader.errors) == (3, 3, [])


@READERS
def test_tcp_several_messages_in_one_segment_and_one_message_over_segments(reader_cls: type, tmp_path: Path) -> None:
    big = sip(3, b"x" * 2500, "TCP")
    msgs = [
        WireMessage(1.0, AS, BASE, sip(1, transport="TCP"), "tcp"),
        WireMessage(1.0, AS, BASE, sip(2, transport="TCP"), "tcp", coalesce=True),
        WireMessage(2.0, AS, BASE, big, "tcp", segments=3),
    ]
    obs, reader = read(reader_cls, write_capture(tmp_path / "tcp.pcap", msgs))
    assert [o.data for o in obs] == [msgs[0].data, msgs[1].data, big]
    assert obs[0].index == obs[1].index == 4  # handshake is frames 1-3; both messages ride frame 4
    assert obs[2].index == 7  # the frame completing the reassembly
    assert {o.transport for o in obs} == {"tcp"}
    assert reader.packets == 7


@READERS
def test_ipv4_fragments_are_reassembled(reader_cls: type, tmp_path: Path) -> None:
    big = sip(1, b"y" * 4000)
    obs, reader = read(
        reader_cls, write_capture(tmp_path / "frag.pcap", [WireMessage(1.0, AS, BASE, big)], fragsize=1000)
    )
    assert [o.data for o in obs] == [big]
    assert reader.packets > 3 and obs[0].index == reader.packets


@READERS
def test_ipv6_vlan_and_gre(reader_cls: type, tmp_path: Path) -> None:
    v6 = [WireMessage(1.0, ("2001:db8::20", 5060), ("2001:db8::10", 5060), sip(1))]
    (obs,), _ = read(reader_cls, write_capture(tmp_path / "v6.pcap", v6))
    assert obs.src == Endpoint("2001:db8::20", 5060) and str(obs.src) == "[2001:db8::20]:5060"
    (obs,), _ = read(reader_cls, write_capture(tmp_path / "vlan.pcap", [WireMessage(1.0, AS, BASE, sip(1))], vlan=42))
    assert obs.data == sip(1)
    (obs,), _ = read(reader_cls, write_capture(tmp_path / "gre.pcap", [WireMessage(1.0, AS, BASE, sip(1))], gre=True))
    assert obs.src == Endpoint(*AS) and obs.data == sip(1)  # the inner addresses, not the tunnel's


@READERS
@pytest.mark.parametrize("port", [5072, 44818, 34962], ids=["ayiya", "enip", "pn_rt"])
def test_sip_on_a_port_registered_to_another_protocol_is_found(reader_cls: type, tmp_path: Path, port: int) -> None:
    """44818 and 34962 lie in the ephemeral range, where a base or a relay may bind: tshark's default order (the
    port's dissector before the heuristics) shows SIP there as EtherNet/IP or PROFINET, and the message is lost."""
    path = write_capture(
        tmp_path / "odd.pcap", [WireMessage(1.0, ("198.51.100.20", port), ("192.0.2.10", port), sip(1))]
    )
    default = subprocess.run(["tshark", "-r", str(path), "-Y", "sip"], capture_output=True, text=True, check=True)
    assert default.stdout == ""  # the trap is real: tshark with its defaults does not see SIP here
    obs, reader = read(reader_cls, path)
    assert [o.data for o in obs] == [sip(1)] and reader.errors == []


@READERS
def test_decode_as_is_handed_to_tshark(reader_cls: type, tmp_path: Path) -> None:
    path = write_capture(
        tmp_path / "odd.pcap", [WireMessage(1.0, ("198.51.100.20", 5072), ("192.0.2.10", 5072), sip(1))]
    )
    obs, _ = read(reader_cls, path, decode_as=["udp.port==5072,sip"])
    assert [o.data for o in obs] == [sip(1)]
    with pytest.raises(CaptureError, match="decode-as"):
        reader_cls(path, decode_as=["udp.port5072"])


@READERS
def test_truncated_capture_keeps_what_was_read(reader_cls: type, tmp_path: Path) -> None:
    path = write_capture(tmp_path / "t.pcap", [WireMessage(1.0 + i, AS, BASE, sip(i, b"z" * 200)) for i in range(5)])
    truncate(path, path.stat().st_size - 100)
    obs, reader = read(reader_cls, path)
    assert [o.data for o in obs] == [sip(i, b"z" * 200) for i in range(4)]
    assert len(reader.errors) == 1 and "cut short" in reader.errors[0]


def pcapng_block_of(path: Path, offset: int) -> int:
    """Which packet (1-based) holds byte ``offset`` of a pcapng file: the block walk of the pcapng spec (type,
    total length), independent of tshark; 0 for a byte before the first packet block."""
    data = path.read_bytes()
    order = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    pos, packet = 0, 0
    while pos + 8 <= len(data):
        kind, length = struct.unpack(order + "II", data[pos : pos + 8])
        packet += kind in (3, 6)  # Simple and Enhanced Packet Blocks
        if pos <= offset < pos + length:
            return packet if kind in (3, 6) else 0
        pos += length
    raise ValueError(f"offset {offset} lies beyond the blocks of {path}")


@READERS
def test_corrupt_block_in_the_middle(reader_cls: type, tmp_path: Path) -> None:
    """A damaged block loses nothing before it, and what it cuts off is named in errors: where the reading
    stopped (the count of frames read), so a report never passes over silent loss."""
    sent = [sip(i, b"z" * 200) for i in range(6)]
    path = write_capture(tmp_path / "c.pcapng", [WireMessage(1.0 + i, AS, BASE, data) for i, data in enumerate(sent)])
    offset = path.stat().st_size // 2
    damaged = pcapng_block_of(path, offset)
    assert 1 < damaged < 6  # the noise lands inside a packet in the middle
    corrupt(path, offset, 48)
    obs, reader = read(reader_cls, path)
    got = [o.data for o in obs]
    if got == sent:  # no loss at all: then nothing may be reported either
        assert reader.errors == []
        return
    assert got == sent[: damaged - 1], [o.index for o in obs]  # everything before the damage, nothing garbled
    assert len(reader.errors) == 1, reader.errors
    assert re.search(rf"after (frame )?{damaged - 1}\b", reader.errors[0]), reader.errors


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"root:x:0:0:root:/root:/bin/bash\n", "not a capture file"),
        (bytes(range(256)) * 4, "not a capture file"),
        (b"\xd4\xc3\xb2\xa1" + b"\x00" * 10, "cut short"),
    ],
)
@READERS
def test_not_a_capture(reader_cls: type, tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(content)
    with pytest.raises(CaptureError, match=reason) as info:
        list(reader_cls(path))
    assert "\n" not in str(info.value)


def test_missing_keylog_and_missing_file(tmp_path: Path) -> None:
    path = write_capture(tmp_path / "a.pcap", [WireMessage(1.0, AS, BASE, sip(1))])
    with pytest.raises(CaptureError, match="key log"):
        list(CaptureReader(path, keylog=str(tmp_path / "none.keys")))
    with pytest.raises(CaptureError, match="no such file"):
        list(CaptureReader(tmp_path / "absent.pcap"))


@READERS
def test_garbage_on_the_sip_port_is_not_taken_for_sip(reader_cls: type, tmp_path: Path) -> None:
    msgs = [WireMessage(1.0, AS, BASE, b"\x00\x01garbage" * 20), WireMessage(2.0, AS, BASE, sip(1))]
    obs, reader = read(reader_cls, write_capture(tmp_path / "g.pcap", msgs))
    assert [o.data for o in obs] == [sip(1)] and reader.packets == 2


SHARED = Path(__file__).resolve().parents[2] / "shared" / "captures"


@READERS
def test_opensips_multipart_notify_bytes_are_intact(reader_cls: type) -> None:
    path = SHARED / "opensips-3.6.8_presence_dfks_loopback.pcapng"
    if not path.exists():
        pytest.skip(f"{path.name} not found beside the project")
    obs, reader = read(reader_cls, path)
    assert len(obs) == reader.packets == 12
    notify = parse_message(obs[2].data)
    assert notify.method == "NOTIFY" and notify.problems == []
    assert int(notify.headers.get("Content-Length") or 0) == len(notify.body) > 1000
