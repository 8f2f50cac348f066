"""Running tshark over a capture cut into slices (``analyzer/sources/slices.py``): each slice's records are copied into
a file of their own, a tshark per slice writes its output to a file that is read while written, a few run
at a time. Also the outcome of all of a file's runs (last frame, exit status, complaints).
"""

from __future__ import annotations

import contextlib
import mmap
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from analyzer.sources import slices

# Records per tshark: about 200 MB of tshark memory each (160 MB of it tshark's own start), whatever the
# capture's size (``slices``). The lead of each slice (its overlap) is long enough for any message a SIP peer
# sends in segments or fragments.
SLICE_SIZE = 100_000
SLICE_OVERLAP = 2_000


class Outcome:
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


def map_file(fh: BinaryIO) -> mmap.mmap | None:
    """The file as a read-only buffer (for slicing), or None when it cannot be mapped (a pipe, a FIFO)."""
    try:
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None


def forget(buffer: mmap.mmap) -> None:
    """Let go of the mapped pages read so far: they would count in this process's resident memory."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        buffer.madvise(mmap.MADV_DONTNEED)


AHEAD = 2  # finished slices that may wait on disk for the reading to catch up
_POLL = 0.005  # seconds between looks at a slice tshark is still writing
_COPY = 4 << 20


class Run:
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
