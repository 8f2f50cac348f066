"""Read SIP messages out of a pcap/pcapng capture with pyshark (the project's only pyshark module).

tshark does the dissection (TCP reassembly, IPv4 fragments, IPv6, VLAN/GRE/ERSPAN, decode-as, TLS with a
key log); this module asks it for SIP frames only (display filter ``sip``, JSON restricted to the layers
used) and takes each SIP message's raw bytes from the ``sip_raw`` field, which tshark fills from the
reassembled data when a message spans segments or fragments. The core re-parses those bytes, so a live run
and a capture are judged by the same code. Packets are streamed, never kept (``keep_packets=False``).

pyshark detail that matters: with ``--no-duplicate-keys`` a frame holding several SIP messages (one TCP
segment) gives ``sip_raw`` as a list of ``[hex, offset, length, ...]`` lists, which pyshark's ``JsonLayer``
spreads over ``value`` and ``duplicate_layers``; a frame holding one gives ``value`` = the hex itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mmap
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from analyzer import slices
from analyzer.observation import Endpoint, Observation
from analyzer.sip import is_number

# Magic numbers of the formats tshark reads that people hand us: pcap (both byte orders, micro and nano
# seconds), pcapng, and gzip-compressed captures.
_MAGICS = (
    b"\xd4\xc3\xb2\xa1",
    b"\xa1\xb2\xc3\xd4",
    b"\x4d\x3c\xb2\xa1",
    b"\xa1\xb2\x3c\x4d",
    b"\x0a\x0d\x0d\x0a",
    b"\x1f\x8b",
)
_LAYERS = "frame ip ipv6 udp tcp tls sip"
# SIP over UDP is found by tshark's heuristic, tried before the dissector registered for a port: otherwise SIP
# on a port another protocol registered (AYIYA's 5072; EtherNet/IP's 44818, PROFINET's 34962 and a few more
# in the ephemeral range, where a base or a relay may bind) is dissected as that protocol and lost. A datagram
# holds whole messages, so the heuristic sees what a receiver sees. TCP keeps tshark's order: SIP's port
# dissector frames the stream as a receiving stack does, losing step at garbage (a fault to report), where
# the TCP heuristic would pick up again at any segment that starts with a SIP line. A stream between two
# ports that other protocols registered needs --decode-as.
_PREFS = {"udp.try_heuristic_first": "TRUE"}

# pyshark's tshark subprocess is sometimes reaped twice; asyncio then logs a harmless warning on stderr.
logging.getLogger("asyncio").setLevel(logging.ERROR)


class CaptureError(Exception):
    """The input is unusable (not a capture, unreadable, tshark missing); ``str()`` is one line."""


def _check_file(path: Path) -> None:
    if not path.exists():
        raise CaptureError("no such file")
    if not path.is_file():
        raise CaptureError("not a regular file")
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise CaptureError(f"cannot read: {exc.strerror}") from None
    if not head:
        raise CaptureError("empty file, not a capture")
    if not any(head.startswith(m) for m in _MAGICS):
        raise CaptureError("not a pcap or pcapng capture (unknown file format)")


def _decode_as(specs: Sequence[str]) -> dict[str, str]:
    out = {}
    for spec in specs:
        selector, comma, protocol = spec.rpartition(",")
        if not comma or "==" not in selector or not protocol:
            raise CaptureError(f"bad decode-as {spec!r}: expected e.g. udp.port==5072,sip")
        out[selector.strip()] = protocol.strip()
    return out


def _innermost(pkt: Any, name: str) -> Any:
    """The innermost layer of a kind (ERSPAN/GRE captures carry an outer and an inner IP header)."""
    layer = getattr(pkt, name, None) if name in pkt else None
    if layer is None:
        return None
    return layer.duplicate_layers[-1] if layer.duplicate_layers else layer


def _raw_messages(pkt: Any) -> list[bytes]:
    layer = getattr(pkt, "sip_raw", None) if "sip_raw" in pkt else None
    if layer is None:
        return []
    if isinstance(layer.value, str):
        return [bytes.fromhex(layer.value)]
    # Several messages: value is the first [hex, offset, ...] list; pyshark splits each further list
    # again, so a duplicate layer's value is the next message's hex string itself.
    out = []
    for item in [layer.value, *(d.value for d in layer.duplicate_layers)]:
        if isinstance(item, list) and item and isinstance(item[0], str):
            out.append(bytes.fromhex(item[0]))
        elif isinstance(item, str):
            out.append(bytes.fromhex(item))
    return out


class _FrameCount:
    """All frames of the file (not only SIP) and the damage capinfos reports, reading without dissecting.

    capinfos is the deterministic judge of a damaged file: pyshark notices tshark's failure only when it
    reaps the process in time, which depends on the event loop. It runs beside tshark (``start`` before
    reading, ``result`` after), so the count costs no wall time on a multi-core machine.
    """

    def __init__(self, path: Path, tshark: str) -> None:
        capinfos = shutil.which("capinfos") or str(Path(tshark).with_name("capinfos"))
        try:
            self._proc: subprocess.Popen[str] | None = subprocess.Popen(
                [capinfos, "-c", "-M", "-T", "-r", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        except OSError:
            self._proc = None

    def result(self) -> tuple[int | None, str | None]:
        if self._proc is None:
            return None, None
        try:
            out, err = self._proc.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            return None, None
        count = None
        for line in out.splitlines():
            fields = line.split("\t")
            if len(fields) >= 2 and is_number(fields[-1].strip()):
                count = int(fields[-1])
        problems = [ln.split("capinfos: ", 1)[-1].strip() for ln in err.splitlines() if "capinfos:" in ln]
        problems = [p for p in problems if not p.startswith("An error occurred after reading")]
        return count, (problems[0][:200] if self._proc.returncode and problems else None)


def _count_frames(path: Path, tshark: str) -> tuple[int | None, str | None]:
    return _FrameCount(path, tshark).result()


_FIELDS = (
    "frame.number",
    "frame.time_epoch",
    "frame.protocols",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "udp.srcport",
    "udp.dstport",
    "tcp.srcport",
    "tcp.dstport",
    "udp.payload",
    "tcp.reassembled.data",
    "tcp.payload",
    "sip.Method",
    "sip.Status-Code",
)


# tshark dissects SIP bodies (SDP, XML, multipart) and RTP for nothing here: the analyzer parses the body
# bytes itself. Turning those dissectors off makes tshark about a third faster on a site's capture.
_UNUSED_DISSECTORS = ("sdp", "xml", "mime_multipart", "rtp", "rtcp")


def _last(value: bytes) -> str:
    """The innermost occurrence of a field (tunnels carry an outer and an inner one), as text."""
    return value.rsplit(b",", 1)[-1].decode("ascii", "replace")


def _stream_messages(data: bytes) -> list[bytes]:
    from analyzer.sip import SipError, StreamFramer

    try:
        return StreamFramer().feed(data)
    except SipError:
        return [data]  # cannot be framed (oversized, a broken Content-Length): the parser will say why


def _tcp_messages(reassembled: bytes, payload: bytes, count: int) -> list[bytes]:
    """The SIP messages a TCP frame completes: the reassembled PDU (a message that spanned segments), then
    whole messages in the rest of this segment. ``count`` is how many tshark dissected in the frame."""
    messages = _stream_messages(reassembled) if reassembled else []
    if len(messages) < count and payload:
        rest = payload
        if reassembled:  # this segment starts with the PDU's last piece: skip it
            for k in range(min(len(payload), len(reassembled)), 0, -1):
                if reassembled.endswith(payload[:k]):
                    rest = payload[k:]
                    break
        messages += _stream_messages(rest)
    return messages[:count] if count else messages


# Records per tshark: about 200 MB of tshark memory each (160 MB of it tshark's own start), whatever the
# capture's size (``slices``). The lead of each slice (its overlap) is long enough for any message a SIP peer
# sends in segments or fragments.
SLICE_SIZE = 100_000
SLICE_OVERLAP = 2_000


class _Outcome:
    """What the tshark runs of one file ended with: the last frame read, the worst exit status, the
    complaints on stderr (the first ones)."""

    def __init__(self) -> None:
        self.last_frame = 0
        self.returncode: int | None = 0
        self.complaint = ""

    def add(self, returncode: int | None, stderr: bytes) -> None:
        if returncode:
            self.returncode = returncode
        if stderr.strip() and not self.complaint:
            self.complaint = stderr.decode("utf-8", "replace")


def _map(fh: BinaryIO) -> mmap.mmap | None:
    """The file as a read-only buffer (for slicing), or None when it cannot be mapped (a pipe, a FIFO)."""
    try:
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None


def _forget(buffer: mmap.mmap) -> None:
    """Let go of the mapped pages read so far: they would count in this process's resident memory."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        buffer.madvise(mmap.MADV_DONTNEED)


_AHEAD = 2  # finished slices that may wait on disk for the reading to catch up
_POLL = 0.005  # seconds between looks at a slice tshark is still writing
_COPY = 4 << 20


class _Run:
    """One slice's tshark: its input pcap, its output file (read while written) and its complaints."""

    def __init__(self, part: slices.Slice, folder: Path) -> None:
        self.part = part
        self.source = folder / f"{part.base}.pcap"
        self.output = folder / f"{part.base}.out"
        self.errors = folder / f"{part.base}.err"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, buffer: mmap.mmap, command: list[str]) -> None:
        with self.source.open("wb") as out:
            out.write(buffer[: self.part.header])
            for offset in range(self.part.start, self.part.end, _COPY):  # a few MB at a time, not the slice
                out.write(buffer[offset : min(offset + _COPY, self.part.end)])
        with self.output.open("wb") as out, self.errors.open("wb") as err:
            self.proc = subprocess.Popen(command, stdout=out, stderr=err)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def follow(self, idle: Callable[[], None]) -> Iterator[bytes]:
        """The output's lines as tshark writes them; ``idle`` runs while waiting for more, and now and then."""
        assert self.proc is not None
        partial = b""
        count = 0
        with self.output.open("rb") as fh:
            while True:
                line = fh.readline()
                if line.endswith(b"\n"):
                    yield partial + line
                    partial = b""
                    count += 1
                    if count % 1024 == 0:
                        idle()  # the other slices' tsharks may have finished: start the next ones
                    continue
                partial += line
                if self.proc.poll() is not None:
                    rest = partial + fh.read()
                    yield from rest.splitlines(keepends=True)
                    return
                idle()
                time.sleep(_POLL)

    def returncode(self) -> int | None:
        return self.proc.wait() if self.proc is not None else None

    def complaint(self) -> bytes:
        with contextlib.suppress(OSError), self.errors.open("rb") as fh:
            return fh.read(65536)
        return b""

    def remove(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for path in (self.source, self.output, self.errors):
            path.unlink(missing_ok=True)


class FieldsReader:
    """Like ``CaptureReader`` (same ``Observation``s, counters and errors), but tshark prints only the fields
    the analyzer needs (``-T fields``): the payload bytes and addresses of SIP frames, which this reader cuts
    into messages (TCP: tshark's reassembled PDU, then Content-Length framing of the segment). tshark still
    dissects: reassembly, IP fragments, tunnels, decode-as. About ten times faster than going through pyshark's
    JSON objects; SIP over TLS (decrypted data is not a payload field) needs ``CaptureReader``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        decode_as: Sequence[str] = (),
        tshark_path: str | None = None,
        slice_size: int = SLICE_SIZE,
        overlap: int = SLICE_OVERLAP,
        jobs: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.decode_as = _decode_as(decode_as)
        self.tshark_path = tshark_path or shutil.which("tshark")
        self.slice_size, self.overlap = slice_size, overlap
        self.jobs = max(1, jobs if jobs is not None else min(4, os.cpu_count() or 1))
        self.packets = 0
        self.sip_messages = 0
        self.errors: list[str] = []
        self._endpoints: dict[tuple[str, str], Endpoint] = {}

    def _endpoint(self, host: str, port: str) -> Endpoint:
        """One ``Endpoint`` object per address: a site has few, and its messages are many."""
        found = self._endpoints.get((host, port))
        if found is None:
            if len(self._endpoints) > 65536:  # a scan of many addresses: stop remembering them
                self._endpoints.clear()
            found = self._endpoints[(host, port)] = Endpoint(host, int(port))
        return found

    def _command(self, source: Path) -> list[str]:
        assert self.tshark_path is not None
        command = [self.tshark_path, "-r", str(source), "-n", "-Y", "sip", "-T", "fields"]
        command += ["-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"]
        for selector, protocol in self.decode_as.items():
            command += ["-d", f"{selector},{protocol}"]
        for pref, value in _PREFS.items():
            command += ["-o", f"{pref}:{value}"]
        for name in _UNUSED_DISSECTORS:
            command += ["--disable-protocol", name]
        for name in _FIELDS:
            command += ["-e", name]
        return command

    def __iter__(self) -> Iterator[Observation]:
        if not self.tshark_path:
            raise CaptureError("tshark not found (install the tshark package)")
        _check_file(self.path)
        counter = _FrameCount(self.path, self.tshark_path)
        outcome = _Outcome()
        with self.path.open("rb") as fh:
            buffer = _map(fh)
            try:
                plan = slices.plan(buffer, self.slice_size, self.overlap, lambda _: _forget(buffer)) if buffer else None
                if buffer is None or plan is None:
                    yield from self._whole(outcome)
                else:
                    yield from self._sliced(buffer, plan, outcome)
            finally:
                if buffer is not None:
                    buffer.close()
        self._finish(outcome.last_frame, outcome.returncode, outcome.complaint, counter.result())

    def _whole(self, outcome: _Outcome) -> Iterator[Observation]:
        """One tshark over the whole file, streamed through a pipe."""
        with (
            tempfile.TemporaryFile() as errors,
            subprocess.Popen(self._command(self.path), stdout=subprocess.PIPE, stderr=errors) as proc,
        ):
            assert proc.stdout is not None
            try:
                yield from self._lines(proc.stdout, outcome)
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
                errors.seek(0)
                outcome.add(proc.returncode, errors.read(65536))  # a file: tshark can never block on it

    def _sliced(self, buffer: mmap.mmap, plan: list[slices.Slice], outcome: _Outcome) -> Iterator[Observation]:
        """A tshark per slice, ``jobs`` of them running at a time, each writing its lines to a file. The
        slices are read back in order, the first one while tshark still writes it, so reading starts at
        once; a tshark that finishes makes room for the next slice at once, whatever the reading's pace (at
        most ``jobs`` + ``_AHEAD`` slices wait on disk)."""
        with tempfile.TemporaryDirectory(prefix="fks-slices-") as folder:
            runs = [_Run(part, Path(folder)) for part in plan]
            started = 0

            def refill(head: int) -> None:
                nonlocal started
                while started < len(runs) and started - head < self.jobs + _AHEAD:
                    if sum(1 for run in runs[head:started] if run.running()) >= self.jobs:
                        return
                    runs[started].start(buffer, self._command(runs[started].source))
                    _forget(buffer)
                    started += 1

            try:
                for head, run in enumerate(runs):
                    refill(head)
                    yield from self._lines(run.follow(lambda head=head: refill(head)), outcome, run.part)
                    outcome.add(run.returncode(), run.complaint())
                    run.remove()
            finally:
                for run in runs:
                    run.remove()

    def _lines(
        self, lines: Iterable[bytes], outcome: _Outcome, part: slices.Slice | None = None
    ) -> Iterator[Observation]:
        base = part.base if part is not None else 0
        for line in lines:
            fields = line.rstrip(b"\n").split(b"\t")
            if len(fields) != len(_FIELDS):
                continue
            number = int(fields[0]) + base
            if part is not None and (number < part.first or (part.last is not None and number > part.last)):
                continue  # the slice's lead, or a message the next slice answers for
            outcome.last_frame = number
            yield from self._observations(fields, number)

    def _observations(self, f: list[bytes], number: int) -> Iterator[Observation]:
        when, protocols = float(f[1]), f[2].decode("ascii", "replace").split(":")
        inner_v6 = "ipv6" in protocols and (
            "ip" not in protocols
            or len(protocols) - protocols[::-1].index("ipv6") > len(protocols) - protocols[::-1].index("ip")
        )
        src_host, dst_host = (_last(f[5]), _last(f[6])) if inner_v6 else (_last(f[3]), _last(f[4]))
        if "tcp" in protocols and f[9]:
            transport, sport, dport = "tcp", _last(f[9]), _last(f[10])
            count = (len(f[14].split(b",")) if f[14] else 0) + (len(f[15].split(b",")) if f[15] else 0)
            reassembled = bytes.fromhex(_last(f[12])) if f[12] else b""
            messages = _tcp_messages(reassembled, bytes.fromhex(_last(f[13])) if f[13] else b"", count)
        elif f[7]:
            transport, sport, dport = "udp", _last(f[7]), _last(f[8])
            messages = [bytes.fromhex(_last(f[11]))] if f[11] else []
        else:
            return
        if not src_host or not sport:
            return
        src, dst = self._endpoint(src_host, sport), self._endpoint(dst_host, dport)
        for data in messages:
            self.sip_messages += 1
            yield Observation(number, when, src, dst, transport, data)

    def _finish(
        self, last_frame: int, returncode: int | None, complaint: str, count: tuple[int | None, str | None]
    ) -> None:
        counted, damage = count
        if last_frame == 0 and not counted and damage:
            raise CaptureError(damage)
        if last_frame == 0 and returncode and not damage:
            raise CaptureError(_tshark_reason(complaint))  # tshark refused the options (a bad decode-as ...)
        self.packets = counted if counted is not None else last_frame
        if damage:
            self.errors.append(f"capture damaged after frame {self.packets}: {damage}")
        elif returncode and "cut short" in complaint:
            self.errors.append(f"capture damaged: {_tshark_reason(complaint)}")
        if counted is None and not self.errors:
            self.errors.append("could not count the frames of the capture (capinfos failed)")
        if not self.errors and last_frame == 0 and self.packets == 0 and self.path.stat().st_size > 64:
            self.errors.append("capture holds no readable frame")


class CaptureReader:
    """Iterate the SIP messages of a capture as ``Observation``s, in capture order.

    After iteration, ``packets`` is the number of frames in the file, ``sip_messages`` the number of
    messages yielded and ``errors`` the non-fatal damage found (a truncated or corrupt capture still yields
    everything read before the damage).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        decode_as: Sequence[str] = (),
        keylog: str | None = None,
        tshark_path: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.decode_as = _decode_as(decode_as)
        self.keylog = keylog
        self.tshark_path = tshark_path or shutil.which("tshark")
        self.packets = 0
        self.sip_messages = 0
        self.errors: list[str] = []

    def _open(self) -> Any:
        import pyshark

        prefs = dict(_PREFS)
        if self.keylog:
            prefs["tls.keylog_file"] = str(Path(self.keylog).resolve())
        return pyshark.FileCapture(
            str(self.path),
            display_filter="sip",
            use_json=True,
            include_raw=True,
            keep_packets=False,
            decode_as=self.decode_as or None,
            override_prefs=prefs,
            tshark_path=self.tshark_path,
            custom_parameters=["-J", _LAYERS],
            eventloop=asyncio.new_event_loop(),
        )

    def __iter__(self) -> Iterator[Observation]:
        if not self.tshark_path:
            raise CaptureError("tshark not found (install the tshark package)")
        _check_file(self.path)
        if self.keylog and not Path(self.keylog).is_file():
            raise CaptureError(f"key log file {self.keylog} not found")
        capture = self._open()
        last_frame = 0
        try:
            for pkt in _packets(capture, self):
                last_frame = int(pkt.frame_info.number)
                yield from self._observations(pkt)
        finally:
            with contextlib.suppress(Exception):  # a dead tshark must not hide the real outcome
                capture.close()
            capture.close = lambda: None  # pyshark's __del__ closes again, on a loop that may be gone
        counted, damage = _count_frames(self.path, self.tshark_path)
        if last_frame == 0 and not counted and damage:
            raise CaptureError(damage)  # nothing was yielded and no frame is readable: not a usable capture
        self.packets = counted if counted is not None else last_frame
        if damage and not self.errors:
            self.errors.append(f"capture damaged after frame {self.packets}: {damage}")
        if counted is None and not self.errors:
            self.errors.append("could not count the frames of the capture (capinfos failed)")
        if not self.errors and last_frame == 0 and self.packets == 0 and self.path.stat().st_size > 64:
            self.errors.append("capture holds no readable frame")

    def _observations(self, pkt: Any) -> Iterator[Observation]:
        ip = _innermost(pkt, "ip") or _innermost(pkt, "ipv6")
        protocols = str(pkt.frame_info.protocols).split(":")
        transport = "tcp" if "tcp" in protocols else "udp" if "udp" in protocols else "sctp"
        if "tls" in protocols:
            transport = "tls"
        layer = _innermost(pkt, transport if transport != "tls" else "tcp")
        if ip is None or layer is None:
            return
        src = Endpoint(str(ip.src), int(layer.srcport))
        dst = Endpoint(str(ip.dst), int(layer.dstport))
        number = int(pkt.frame_info.number)
        when = float(pkt.frame_info.time_epoch)
        for data in _raw_messages(pkt):
            self.sip_messages += 1
            yield Observation(number, when, src, dst, transport, data)


def _packets(capture: Any, reader: CaptureReader) -> Iterator[Any]:
    """pyshark's iteration, with tshark's complaints turned into one-line errors or ``CaptureError``."""
    from pyshark.capture.capture import TSharkCrashException

    iterator = iter(capture)
    count = 0
    while True:
        try:
            pkt = next(iterator)
        except StopIteration:
            return
        except TSharkCrashException as exc:
            reason = _tshark_reason(str(exc))
            if count == 0 and "cut short" not in reason and "corrupt" not in reason.lower():
                raise CaptureError(_count_frames(reader.path, reader.tshark_path or "tshark")[1] or reason) from None
            reader.errors.append(f"capture damaged after {count} SIP frame(s): {reason}")
            return
        except (OSError, ValueError, EOFError) as exc:
            reader.errors.append(f"reading stopped after {count} SIP frame(s): {type(exc).__name__}: {exc}")
            return
        count += 1
        yield pkt


def _tshark_reason(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip() and "Running as user" not in line]
    interesting = [line for line in lines if "tshark:" in line or "cut short" in line or "isn't" in line]
    line = (interesting or lines or ["tshark failed"])[0]
    return line.split("tshark: ", 1)[-1][:200]
