"""The default capture reader: tshark prints only the fields the analyzer needs (``-T fields``), about ten
times faster than pyshark's JSON objects (``analyzer/sources/pyshark.py``), with the same ``Observation``s.

tshark dissects (reassembly, IP fragments, tunnels, decode-as); this reader cuts the payload bytes of SIP
frames into messages (TCP: tshark's reassembled PDU, then Content-Length framing of the segment). SIP inside
SCTP chunks, WebSocket frames or decrypted TLS records has no payload field: those frames come from
``carried``. TLS is decrypted with a key log (``keylog``, tshark's ``tls.keylog_file``) or with the secrets a
pcapng carries (a Decryption Secrets Block, as ``editcap --inject-secrets`` writes); TLS on SIP ports without
keys is counted, so the report says why its SIP is missing. A long capture is read in slices
(``tshark_runs``); one in a format the slicer does not follow is first copied into pcapng by editcap.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from analyzer.observation import Endpoint, Observation
from analyzer.sources import slices
from analyzer.sources.carried import CarriedReader, carrier
from analyzer.sources.tshark import (
    APPLICATION_DATA,
    DISPLAY_FILTER,
    PREFS,
    CaptureError,
    FrameCount,
    Unread,
    check_file,
    to_pcapng,
    tshark_reason,
)
from analyzer.sources.tshark import decode_as as parse_decode_as
from analyzer.sources.tshark_runs import AHEAD, SLICE_OVERLAP, SLICE_SIZE, Outcome, Run, forget, map_file

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
    "sctp.srcport",
    "sctp.dstport",
    "tls.record.content_type",
    "tls.record.opaque_type",
    "tls.record.length",
)

# tshark dissects SIP bodies (SDP, XML, multipart) and RTP for nothing here: the analyzer parses the body
# bytes itself. Turning those dissectors off makes tshark about a third faster on a site's capture.
_UNUSED_DISSECTORS = ("sdp", "xml", "mime_multipart", "rtp", "rtcp")

# From this size on, a capture the slicer cannot follow is copied into pcapng first (editcap reads such a
# file at disk speed), so that one tshark never holds the state of all its frames.
CONVERT_BYTES = 16 << 20


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


def _count(value: bytes) -> int:
    return len(value.split(b",")) if value else 0


def _undecrypted(types: bytes, opaque: bytes, lengths: bytes) -> int:
    """The encrypted TLS records of a frame that no key opened. TLS 1.2: application data records. TLS 1.3:
    encrypted records show an outer (opaque) type, and a content type only once decrypted; the plaintext
    ones before them (hellos, change cipher spec) show a content type and no opaque type."""
    wrapped = _count(opaque)
    if not wrapped:
        return sum(1 for t in types.split(b",") if t.decode("ascii", "replace") == APPLICATION_DATA)
    plaintext = _count(lengths) - wrapped
    return max(0, wrapped - (_count(types) - plaintext))


class FieldsReader:
    """Iterate the SIP messages of a capture as ``Observation``s, in capture order, like ``CaptureReader``
    (same counters and errors). ``slices``: how many slices the file was read in (0: read whole)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        decode_as: Sequence[str] = (),
        tshark_path: str | None = None,
        slice_size: int = SLICE_SIZE,
        overlap: int = SLICE_OVERLAP,
        jobs: int | None = None,
        convert_bytes: int = CONVERT_BYTES,
        keylog: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.keylog = keylog
        self.decode_as = parse_decode_as(decode_as)
        self.tshark_path = tshark_path or shutil.which("tshark")
        self.slice_size, self.overlap, self.convert_bytes = slice_size, overlap, convert_bytes
        self.jobs = max(1, jobs if jobs is not None else min(4, os.cpu_count() or 1))
        self.packets = 0
        self.sip_messages = 0
        self.slices = 0
        self.errors: list[str] = []
        self._unread = Unread()
        self._endpoints: dict[tuple[str, str], Endpoint] = {}

    def _endpoint(self, host: str, port: str) -> Endpoint:
        """One ``Endpoint`` object per address: a site has few, and its messages are many."""
        found = self._endpoints.get((host, port))
        if found is None:
            if len(self._endpoints) > 65536:  # a scan of many addresses: stop remembering them
                self._endpoints.clear()
            found = self._endpoints[(host, port)] = Endpoint(host, int(port))
        return found

    def _options(self, source: Path) -> list[str]:
        """tshark reading ``source`` as every run of this reader must (the carried frames' too)."""
        assert self.tshark_path is not None
        command = [self.tshark_path, "-r", str(source), "-n"]
        for selector, protocol in self.decode_as.items():
            command += ["-d", f"{selector},{protocol}"]
        for pref, value in PREFS.items():
            command += ["-o", f"{pref}:{value}"]
        if self.keylog:
            command += ["-o", f"tls.keylog_file:{Path(self.keylog).resolve()}"]
        for name in _UNUSED_DISSECTORS:
            command += ["--disable-protocol", name]
        return command

    def _command(self, source: Path) -> list[str]:
        command = [*self._options(source), "-Y", DISPLAY_FILTER, "-T", "fields"]
        command += ["-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"]
        for name in _FIELDS:
            command += ["-e", name]
        return command

    def __iter__(self) -> Iterator[Observation]:
        if not self.tshark_path:
            raise CaptureError("tshark not found (install the tshark package)")
        check_file(self.path)
        if self.keylog and not Path(self.keylog).is_file():
            raise CaptureError(f"key log file {self.keylog} not found")
        counter = FrameCount(self.path, self.tshark_path)
        outcome = Outcome()
        with contextlib.ExitStack() as stack:
            source = self._sliceable(stack)
            buffer = map_file(stack.enter_context(source.open("rb")))
            if buffer is not None:
                stack.callback(buffer.close)
            # a TLS record is decrypted only by a tshark that saw its connection's handshake: not sliced
            whole = self.keylog is not None or (buffer is not None and slices.holds_secrets(buffer))
            plan = (
                slices.plan(buffer, self.slice_size, self.overlap, lambda _: forget(buffer))
                if buffer and not whole
                else None
            )
            if buffer is None or plan is None:
                yield from self._whole(source, outcome)
            else:
                self.slices = len(plan)
                yield from self._sliced(buffer, plan, outcome)
        self._finish(outcome.last_frame, outcome.returncode, outcome.complaint, counter.result())

    def _sliceable(self, stack: contextlib.ExitStack) -> Path:
        """The file, or a pcapng copy of a large one in a format the slicer does not follow."""
        try:
            if self.path.stat().st_size < self.convert_bytes:
                return self.path
            with self.path.open("rb") as fh:
                if slices.follows(fh.read(4)):
                    return self.path
        except OSError:
            return self.path  # tshark says what is wrong with it
        assert self.tshark_path is not None
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fks-convert-")))
        return to_pcapng(self.path, folder, self.tshark_path) or self.path

    def read_slice(self, source: Path, part: slices.Slice, outcome: Outcome) -> Iterator[Observation]:
        """The messages one slice answers for, its records copied into ``source`` elsewhere (a Dask worker's
        task, ``analyzer/fleet``), with the frame numbers of the whole capture; ``outcome`` and this reader's
        counters collect what ``conclude`` needs."""
        if not self.tshark_path:
            raise CaptureError("tshark not found (install the tshark package)")
        yield from self._whole(source, outcome, part)

    @property
    def unread(self) -> Unread:
        return self._unread

    def conclude(self, outcome: Outcome, count: tuple[int | None, str | None], unread: Unread) -> None:
        """The packet count and errors of a capture whose slices were read by ``read_slice`` (their outcomes
        and ``Unread`` notes merged): what iterating the whole file here would have set."""
        self._unread = unread
        self._finish(outcome.last_frame, outcome.returncode, outcome.complaint, count)

    def _whole(self, source: Path, outcome: Outcome, part: slices.Slice | None = None) -> Iterator[Observation]:
        """One tshark over the whole file (or one slice's file), streamed through a pipe."""
        with (
            tempfile.TemporaryFile() as errors,
            subprocess.Popen(self._command(source), stdout=subprocess.PIPE, stderr=errors) as proc,
        ):
            assert proc.stdout is not None
            try:
                yield from self._lines(proc.stdout, outcome, source, part)
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
                errors.seek(0)
                outcome.add(proc.returncode, errors.read(65536))  # a file: tshark can never block on it

    def _sliced(self, buffer: mmap.mmap, plan: list[slices.Slice], outcome: Outcome) -> Iterator[Observation]:
        """A tshark per slice, ``jobs`` of them running at a time, each writing its lines to a file. The
        slices are read back in order, the first one while tshark still writes it, so reading starts at
        once; a tshark that finishes makes room for the next slice at once, whatever the reading's pace (at
        most ``jobs`` + ``AHEAD`` slices wait on disk)."""
        with tempfile.TemporaryDirectory(prefix="fks-slices-") as folder:
            runs = [Run(part, Path(folder)) for part in plan]
            started = 0

            def refill(head: int) -> None:
                nonlocal started
                while started < len(runs) and started - head < self.jobs + AHEAD:
                    if sum(1 for run in runs[head:started] if run.running()) >= self.jobs:
                        return
                    runs[started].start(buffer, self._command(runs[started].source))
                    forget(buffer)
                    started += 1

            try:
                for head, run in enumerate(runs):
                    refill(head)
                    lines = run.follow(lambda head=head: refill(head))
                    yield from self._lines(lines, outcome, run.source, run.part)
                    outcome.add(run.returncode(), run.complaint())
                    run.remove()
            finally:
                for run in runs:
                    run.remove()

    def _lines(
        self, lines: Iterable[bytes], outcome: Outcome, source: Path, part: slices.Slice | None = None
    ) -> Iterator[Observation]:
        base = part.base if part is not None else 0
        carried = CarriedReader(self._options(source))  # starts its tshark only when a frame needs it
        try:
            for line in lines:
                fields = line.rstrip(b"\n").split(b"\t")
                if len(fields) != len(_FIELDS):
                    continue
                relative = int(fields[0])
                number = relative + base
                if part is not None and (number < part.first or (part.last is not None and number > part.last)):
                    continue  # the slice's lead, or a message the next slice answers for
                outcome.last_frame = number
                yield from self._observations(fields, number, relative, carried)
        finally:
            carried.close()

    def _observations(
        self, f: list[bytes], number: int, relative: int, carried: CarriedReader
    ) -> Iterator[Observation]:
        when, protocols = float(f[1]), f[2].decode("ascii", "replace").split(":")
        inner_v6 = "ipv6" in protocols and (
            "ip" not in protocols
            or len(protocols) - protocols[::-1].index("ipv6") > len(protocols) - protocols[::-1].index("ip")
        )
        src_host, dst_host = (_last(f[5]), _last(f[6])) if inner_v6 else (_last(f[3]), _last(f[4]))
        count = _count(f[14]) + _count(f[15])
        if "sip" not in protocols:  # TLS on a SIP port, not decrypted
            if f[9]:
                self._unread.tls(_undecrypted(f[18], f[19], f[20]), int(_last(f[9])), int(_last(f[10])))
            return
        transport = carrier(protocols)
        if transport is not None:
            sport, dport = (_last(f[16]), _last(f[17])) if transport == "sctp" else (_last(f[9]), _last(f[10]))
            messages = carried.messages(relative)
            if len(messages) < count:
                self._unread.missed(transport, count - len(messages), carried.failure)
        elif "tcp" in protocols and f[9]:
            transport, sport, dport = "tcp", _last(f[9]), _last(f[10])
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
            raise CaptureError(tshark_reason(complaint))  # tshark refused the options (a bad decode-as ...)
        self.packets = counted if counted is not None else last_frame
        if damage:
            self.errors.append(f"capture damaged after frame {self.packets}: {damage}")
        elif returncode and "cut short" in complaint:
            self.errors.append(f"capture damaged: {tshark_reason(complaint)}")
        if counted is None and not self.errors:
            self.errors.append("could not count the frames of the capture (capinfos failed)")
        if not self.errors and last_frame == 0 and self.packets == 0 and self.path.stat().st_size > 64:
            self.errors.append("capture holds no readable frame")
        self.errors += self._unread.errors(keylog=self.keylog is not None)
