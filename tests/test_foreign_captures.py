"""``fks audit`` on site captures of other software (``../shared/captures/foreign``, INDEX.md there): every one
audits with exit status 0 and zero feature-sync subscriptions, and reads the SIP messages tshark's own SIP
dissector shows (counted here at run time with plain ``tshark -r F -Y sip``), or says under ``errors`` what it
could not read and why. Also: a file that is no capture is exit status 2 with one line on stderr.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from analyzer.observation import Observation
from analyzer.sip import parse_message
from analyzer.sources import CaptureReader, FieldsReader
from analyzer.sources.carried import CarriedReader
from analyzer.sources.tshark import Unread
from tests.commands import fks

FOREIGN = Path(__file__).resolve().parents[2] / "shared" / "captures" / "foreign"
WEBSOCKET = "sipcapture__sip_tcp_websocket.pcap"
SCTP = "sipcapture__sip_sctp.pcap"
NETMON = "NormB__c07-sip-r2.cap"
SNOOP = "sip-auth-failure.snoop"
MODPCAP = "sip-auth-failure.modpcap.pcap"
TLS = "irontec__tlssaved.pcap"

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def foreign(name: str) -> Path:
    path = FOREIGN / name
    if not path.exists():
        pytest.skip(f"../shared/captures/foreign/{name} is absent ({FOREIGN})")
    return path


def tshark_lines(path: Path, *args: str) -> list[list[str]]:
    run = subprocess.run(["tshark", "-r", str(path), *args], capture_output=True, text=True, timeout=120, check=True)
    return [line.split("\t") for line in run.stdout.splitlines()]


def tshark_sip_messages(path: Path) -> int:
    """SIP messages as tshark's SIP dissector shows them: one per request line or status line, so a frame
    that completes several counts each."""
    rows = tshark_lines(
        path, "-Y", "sip", "-T", "fields", "-E", "occurrence=a", "-e", "sip.Method", "-e", "sip.Status-Code"
    )
    return sum(len([v for v in ",".join(row).split(",") if v]) for row in rows)


def audit(path: Path, *options: str | Path) -> dict:
    """The JSON report of one capture, which must audit with exit status 0 and no feature-sync subscription."""
    run = fks("audit", path, "--format", "json", *options)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr
    (capture,) = json.loads(run.stdout)["captures"]
    assert capture["subscriptions"] == []
    assert all(v["verdict"] != "fail" for v in capture["verdicts"])
    return capture


def read(reader_cls: type, path: Path, **kwargs: object) -> tuple[list[Observation], object]:
    reader = reader_cls(path, **kwargs)
    return list(reader), reader


def test_websocket_messages_are_unmasked_and_counted_as_tshark_counts() -> None:
    """SIP over WebSocket (RFC 7118) to FreeSWITCH, a plain call: the client's frames are masked. The package's
    name appears only in Allow-Events, so no message of it is feature sync."""
    path = foreign(WEBSOCKET)
    expected = tshark_sip_messages(path)
    capture = audit(path)
    assert capture["sip_messages"] == expected and capture["errors"] == []
    for reader_cls in (FieldsReader, CaptureReader):
        obs, reader = read(reader_cls, path)
        assert len(obs) == expected and reader.errors == []
        ws = [o for o in obs if o.transport == "ws"]
        websocket_frames = tshark_lines(path, "-Y", "sip && websocket", "-T", "fields", "-e", "frame.number")
        assert [o.index for o in ws] == [int(row[0]) for row in websocket_frames]
        assert ws and all(parse_message(o.data).problems == [] for o in ws), [o.data[:60] for o in ws]
        masked = [
            int(row[0])
            for row in tshark_lines(path, "-Y", "websocket.mask == 1 && sip", "-T", "fields", "-e", "frame.number")
        ]
        assert masked and {o.index for o in ws} >= set(masked)  # the client's frames, unmasked
        assert all(o.data.startswith((b"INVITE ", b"ACK ", b"BYE ", b"SIP/2.0 ")) for o in ws)
    whole = list(FieldsReader(path))
    sliced, reader = read(FieldsReader, path, slice_size=30, overlap=29)  # every slice sees the HTTP upgrade
    assert reader.slices == 2 and sliced == whole


def test_sctp_messages_are_read_with_their_sctp_ports() -> None:
    """INVITE/ACK over SCTP: the INVITE comes in two DATA chunks, which tshark reassembles."""
    path = foreign(SCTP)
    expected = tshark_sip_messages(path)
    capture = audit(path)
    assert capture["sip_messages"] == expected and capture["errors"] == []
    assert audit(path, "--reader", "pyshark")["sip_messages"] == expected  # it once stopped on "No such field"
    rows = tshark_lines(
        path, "-Y", "sip", "-T", "fields", "-e", "frame.number", "-e", "sctp.srcport", "-e", "sctp.dstport"
    )
    for reader_cls in (FieldsReader, CaptureReader):
        obs, _ = read(reader_cls, path)
        assert {o.transport for o in obs} == {"sctp"}
        assert [(o.index, o.src.port, o.dst.port) for o in obs] == [tuple(map(int, row)) for row in rows]
        for o in obs:
            message = parse_message(o.data)
            assert message.problems == [] and len(message.body) == int(message.headers.get("Content-Length") or 0)
    sliced, reader = read(FieldsReader, path, slice_size=2, overlap=1)  # the INVITE's chunks in one slice
    assert reader.slices == 2 and sliced == list(FieldsReader(path))


def test_carried_frames_that_tshark_cannot_print_are_reported(tmp_path: Path) -> None:
    """When the second tshark (the JSON of SCTP and WebSocket frames) fails, the frames give no message and
    the reader says how many SIP messages it lost and why, instead of dropping them in silence."""
    carried = CarriedReader(["tshark", "-r", str(tmp_path / "gone.pcap"), "-n"])
    try:
        assert carried.messages(1) == [] and carried.messages(2) == []
        assert "gone.pcap" in carried.failure or "doesn't exist" in carried.failure, carried.failure
    finally:
        carried.close()
    unread = Unread()
    unread.missed("sctp", 2, carried.failure)
    unread.missed("sctp", 1)
    (line,) = unread.errors(keylog=False)
    assert line.startswith("3 SIP messages over sctp not read: ") and "\n" not in line


def test_netmon_file_is_audited() -> None:
    """Microsoft NetMon 2.x, PROTOS fuzzed INVITEs: a format tshark reads, so it is audited."""
    path = foreign(NETMON)
    expected = tshark_sip_messages(path)
    capture = audit(path)
    frames = tshark_lines(path, "-T", "fields", "-e", "frame.number")
    assert (capture["packets"], capture["sip_messages"]) == (len(frames), expected)
    assert expected > 0


def test_snoop_file_is_audited_and_sliced_through_pcapng() -> None:
    """Sun snoop: audited like any capture; when large enough to slice, it is copied into pcapng first (forced
    here with a tiny threshold and slices), with the same messages, frames and times as a whole reading."""
    path = foreign(SNOOP)
    expected = tshark_sip_messages(path)
    assert audit(path)["sip_messages"] == expected > 0
    whole, reader = read(FieldsReader, path)
    assert reader.slices == 0 and len(whole) == expected
    sliced, reader = read(FieldsReader, path, convert_bytes=0, slice_size=3, overlap=1)
    assert reader.slices >= 2 and reader.errors == []
    assert sliced == whole


def test_modified_pcap_is_audited_like_its_snoop_twin() -> None:
    """Modified pcap (magic a1b2cd34, 24-byte record headers): the same packets as the snoop file, so the same
    observations."""
    path = foreign(MODPCAP)
    expected = tshark_sip_messages(path)
    assert audit(path)["sip_messages"] == expected > 0
    obs, reader = read(FieldsReader, path, convert_bytes=0, slice_size=3, overlap=1)
    assert reader.slices >= 2 and len(obs) == expected
    twin = FOREIGN / SNOOP
    if twin.exists():
        assert obs == list(FieldsReader(twin))


def test_tls_without_keys_says_why_no_sip_was_read(tmp_path: Path) -> None:
    """SIP over TLS on 5061 with no key log: tshark shows no SIP, and the report says how many records it
    could not decrypt and what would open them."""
    path = foreign(TLS)
    expected = tshark_sip_messages(path)
    rows = tshark_lines(path, "-Y", "tls", "-T", "fields", "-E", "occurrence=a", "-e", "tls.record.content_type")
    records = sum(",".join(row).split(",").count("23") for row in rows)
    assert records > 0
    wanted = f"{records} TLS records on SIP ports (5061) not decrypted; give --keylog"
    for options in ((), ("--reader", "pyshark")):
        capture = audit(path, *options)
        assert capture["sip_messages"] == expected
        assert capture["errors"] == [wanted]
    text = fks("audit", path)
    assert text.returncode == 0 and f"error: {wanted}" in text.stdout
    keys = tmp_path / "other-session.keys"
    keys.write_text("CLIENT_RANDOM " + "00" * 32 + " " + "11" * 48 + "\n")  # a key log of some other session
    capture = audit(path, "--keylog", keys)
    assert capture["errors"] == [wanted.replace("give --keylog", "the key log given does not decrypt them")]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("notes.txt", b"Meeting notes\nbring the base station\n", r"not a capture file"),
        ("report.pcap", bytes(range(256)) * 4, r"not a capture file"),
        ("data.json", b'{"captures": []}\n', r"not a packet capture \(tshark opens it as a json file\)"),
        # Random bytes that tshark 4.0 opens as an IxVeriWave capture of no frame, and as one ASN.1 BER file:
        ("random-vwr.cap", random.Random(115).randbytes(4096), r"not a capture file"),
        ("random-ber.cap", random.Random(1488).randbytes(4096), r"not a (packet )?capture"),
    ],
)
def test_a_file_that_is_no_capture_is_exit_2_with_one_line(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    """tshark decides: what it cannot open, opens as a file of no packets (JSON, BER), or opens in a format
    it merely guessed and then reads no frame from, is not audited."""
    path = tmp_path / name
    path.write_bytes(content)
    for options in ((), ("--reader", "pyshark")):
        run = fks("audit", path, *options)
        assert run.returncode == 2, run.stdout + run.stderr
        lines = run.stderr.splitlines()
        assert len(lines) == 1 and re.search(reason, lines[0]), run.stderr
        assert lines[0].startswith(f"fks: {path}: ") and "Traceback" not in run.stderr + run.stdout
