"""What both capture readers share about running tshark: the input check, options, frame counting, and the
notes on SIP they could not read (encrypted, or carried where tshark's fields cannot print it).

Whether a file is a capture is tshark's decision, never a list of magic numbers: anything tshark and
capinfos open (pcap and its variants, pcapng, snoop, NetMon, gzip ...) is audited, and their own refusal
becomes the one-line reason of exit status 2.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from analyzer.sip import is_number

# SIP over UDP is found by tshark's heuristic, tried before the dissector registered for a port: otherwise SIP
# on a port another protocol registered (AYIYA's 5072; EtherNet/IP's 44818, PROFINET's 34962 and a few more
# in the ephemeral range, where a base or a relay may bind) is dissected as that protocol and lost. A datagram
# holds whole messages, so the heuristic sees what a receiver sees. TCP keeps tshark's order: SIP's port
# dissector frames the stream as a receiving stack does, losing step at garbage (a fault to report), where
# the TCP heuristic would pick up again at any segment that starts with a SIP line. A stream between two
# ports that other protocols registered needs --decode-as.
PREFS = {"udp.try_heuristic_first": "TRUE"}

# TLS on these ports is taken for SIP over TLS (5061 and its neighbours, where SIP servers listen): without a
# key log tshark sees only records, which the readers count so that the report says why no SIP was read.
SIP_TLS_PORTS = (5060, 5099)
APPLICATION_DATA = "23"  # the TLS record content type that carries the SIP messages
# TLS 1.3 shows every encrypted record as application data in its outer (opaque) type; the real type is inside
_SIP_TLS = f"tcp.port in {{{SIP_TLS_PORTS[0]}..{SIP_TLS_PORTS[1]}}}"
TLS_FILTER = (
    f"((tls.record.content_type == {APPLICATION_DATA} || tls.record.opaque_type == {APPLICATION_DATA}) && {_SIP_TLS})"
)
DISPLAY_FILTER = f"sip || {TLS_FILTER}"


class CaptureError(Exception):
    """The input is unusable (not a capture, unreadable, tshark missing); ``str()`` is one line."""


def check_file(path: Path) -> None:
    """What can be said before tshark runs: the file is there, readable and not empty. Its format is
    judged by tshark and capinfos themselves (``FrameCount``)."""
    if not path.exists():
        raise CaptureError("no such file")
    if not path.is_file():
        raise CaptureError("not a regular file")
    try:
        with path.open("rb") as fh:
            head = fh.read(1)
    except OSError as exc:
        raise CaptureError(f"cannot read: {exc.strerror}") from None
    if not head:
        raise CaptureError("empty file, not a capture")


def decode_as(specs: Sequence[str]) -> dict[str, str]:
    out = {}
    for spec in specs:
        selector, comma, protocol = spec.rpartition(",")
        if not comma or "==" not in selector or not protocol:
            raise CaptureError(f"bad decode-as {spec!r}: expected e.g. udp.port==5072,sip")
        out[selector.strip()] = protocol.strip()
    return out


_UNKNOWN_FORMAT = re.compile(r"isn't a capture file in a format \w+ understands")
NOT_A_CAPTURE = "not a capture file (no format tshark reads)"
# Encapsulations of the files tshark opens that hold no packets (images and other MIME files, MP4, JSON, PEM):
# reading one as a capture would report "1 packet, 0 SIP messages" on a text file that happens to parse.
_NOT_PACKETS = {"mime", "mp4", "json", "rfc7468", "ber"}
# Formats whose empty file is a capture of nothing. Any other format tshark guesses for a file it then reads
# no frame from is a guess about something else: one random file in about three hundred opens as IxVeriWave.
_EMPTY_OK = {"pcap", "pcapng", "nsecpcap", "modpcap"}
_HEADER_ROOM = 64  # bytes: more than any of their headers


def plain(problem: str) -> str:
    """tshark's or capinfos' complaint, without the file name that the report already gives."""
    if _UNKNOWN_FORMAT.search(problem):
        return NOT_A_CAPTURE
    return re.sub(r'The file "[^"]*"', "The file", problem).strip()[:200]


class FrameCount:
    """All frames of the file (not only SIP) and the damage capinfos reports, reading without dissecting.

    capinfos is the deterministic judge of a damaged file (and of one that is no capture at all): pyshark
    notices tshark's failure only when it reaps the process in time, which depends on the event loop. It runs
    beside tshark (``start`` before reading, ``result`` after), so the count costs no wall time on a
    multi-core machine.
    """

    def __init__(self, path: Path, tshark: str) -> None:
        self.path = path
        capinfos = shutil.which("capinfos") or str(Path(tshark).with_name("capinfos"))
        try:
            self._proc: subprocess.Popen[str] | None = subprocess.Popen(
                [capinfos, "-c", "-M", "-T", "-t", "-E", "-r", str(path)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        except OSError:
            self._proc = None

    def result(self) -> tuple[int | None, str | None]:
        """The frame count and the damage; ``CaptureError`` when the file holds no packets at all."""
        if self._proc is None:
            return None, None
        try:
            out, err = self._proc.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            return None, None
        count = None
        for line in out.splitlines():
            fields = [f.strip() for f in line.split("\t")]
            if len(fields) >= 2 and is_number(fields[-1]):
                count = int(fields[-1])
            if len(fields) >= 4:
                self._judge(fields[-3], fields[-2], count)
        problems = [ln.split("capinfos: ", 1)[-1].strip() for ln in err.splitlines() if "capinfos:" in ln]
        problems = [p for p in problems if not p.startswith("An error occurred after reading")]
        return count, (plain(problems[0]) if self._proc.returncode and problems else None)

    def _judge(self, kind: str, encapsulation: str, count: int | None) -> None:
        """``CaptureError`` for a file tshark opens that is no capture of packets."""
        if encapsulation in _NOT_PACKETS:
            raise CaptureError(f"not a packet capture (tshark opens it as a {kind} file)")
        if count == 0 and kind not in _EMPTY_OK and self.path.stat().st_size > _HEADER_ROOM:
            raise CaptureError(f"not a capture file (read as {kind}, it holds no frame)")


def count_frames(path: Path, tshark: str) -> tuple[int | None, str | None]:
    return FrameCount(path, tshark).result()


def tshark_reason(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip() and "Running as user" not in line]
    interesting = [line for line in lines if "tshark:" in line or "cut short" in line or "isn't" in line]
    line = (interesting or lines or ["tshark failed"])[0]
    return plain(line.split("tshark: ", 1)[-1])


def to_pcapng(path: Path, folder: Path, tshark: str) -> Path | None:
    """A pcapng copy of a capture in a format the slicer does not follow (snoop, NetMon, modified pcap,
    gzip ...), made by editcap with every frame in its place; None when editcap cannot."""
    editcap = shutil.which("editcap") or str(Path(tshark).with_name("editcap"))
    out = folder / "converted.pcapng"
    try:
        done = subprocess.run([editcap, "-F", "pcapng", str(path), str(out)], capture_output=True, timeout=3600)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out if done.returncode == 0 and out.exists() else None


class Unread:
    """SIP the reader saw but could not read: TLS records on SIP ports without keys, SIP messages whose
    carrier gave no bytes. Each becomes one line of the report's ``errors``."""

    def __init__(self) -> None:
        self.tls_records = 0
        self.tls_ports: set[int] = set()
        self.carried: dict[str, int] = {}  # carrier ("sctp", "ws") -> SIP messages that gave no bytes
        self.carried_reason = ""

    def tls(self, records: int, sport: int, dport: int) -> None:
        """``records`` application-data records in one frame between these ports."""
        if not records:
            return
        self.tls_records += records
        low, high = SIP_TLS_PORTS
        sip_ports = [p for p in (sport, dport) if low <= p <= high]
        self.tls_ports.add(5061 if 5061 in sip_ports else min(sip_ports or [min(sport, dport)]))

    def missed(self, carrier: str, count: int, reason: str = "") -> None:
        self.carried[carrier] = self.carried.get(carrier, 0) + count
        self.carried_reason = self.carried_reason or reason

    def merge(self, other: Unread) -> None:
        """Add the notes of another reading of the same capture (a slice read elsewhere)."""
        self.tls_records += other.tls_records
        self.tls_ports |= other.tls_ports
        for carrier, count in other.carried.items():
            self.carried[carrier] = self.carried.get(carrier, 0) + count
        self.carried_reason = self.carried_reason or other.carried_reason

    def errors(self, keylog: bool) -> list[str]:
        out = []
        if self.tls_records:
            ports = ", ".join(str(p) for p in sorted(self.tls_ports))
            hint = "the key log given does not decrypt them" if keylog else "give --keylog"
            out.append(f"{self.tls_records} TLS records on SIP ports ({ports}) not decrypted; {hint}")
        for carrier, count in sorted(self.carried.items()):
            why = f": {self.carried_reason}" if self.carried_reason else ""
            out.append(f"{count} SIP messages over {carrier} not read{why}")
        return out
