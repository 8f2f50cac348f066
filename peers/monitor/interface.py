"""Live capture from an interface: dumpcap writes a ring buffer of short files (``-b duration`` and ``-b files``,
so the disk use is bounded); each file, once dumpcap has moved on to the next, is read by the audit's own
reader (``analyzer.sources.FieldsReader``: tshark dissects, reassembles and applies decode-as) and its SIP
messages go to ``on_batch``. A file dumpcap recycled before it was read is counted as lost.

TCP messages split across two ring files are not reassembled (each file is read on its own); keep
``duration`` well above a message's transmission time.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from analyzer.observation import Observation
from analyzer.sources import CaptureError, FieldsReader

BatchSink = Callable[[list[Observation]], None]
STARTUP_LINES = 20  # dumpcap says "Capturing on ..." first, or why it cannot


class InterfaceCapture:
    """dumpcap on ``iface`` with a BPF ``capture_filter``, read file by file in a thread."""

    def __init__(
        self,
        iface: str,
        capture_filter: str | None,
        on_batch: BatchSink,
        on_error: Callable[[str], None],
        decode_as: Sequence[str] = (),
        duration: int = 2,
        files: int = 10,
    ) -> None:
        self.iface, self.capture_filter = iface, capture_filter
        self.on_batch, self.on_error = on_batch, on_error
        self.decode_as = tuple(decode_as)
        self.duration, self.files = duration, files
        self.lost_files = 0
        self._dir = Path(tempfile.mkdtemp(prefix="fks-monitor-ring-"))
        self._proc: subprocess.Popen[str] | None = None
        self._thread: threading.Thread | None = None
        self._offset = 0

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        dumpcap = shutil.which("dumpcap")
        if dumpcap is None:
            raise OSError("dumpcap is not installed (Debian: apt-get install tshark)")
        command = [dumpcap, "-i", self.iface, "-q", "-w", str(self._dir / "ring.pcapng")]
        command += ["-b", f"duration:{self.duration}", "-b", f"files:{self.files}", "-b", "printname:stdout"]
        if self.capture_filter:
            command += ["-f", self.capture_filter]
        self._proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._started()
        self._thread = threading.Thread(target=self._pump, args=(loop,), name="fks-monitor-ring", daemon=True)
        self._thread.start()

    def _started(self) -> None:
        """Wait until dumpcap says it captures (what comes before is not missed), or say why it stopped."""
        proc = self._proc
        assert proc is not None and proc.stderr is not None
        said = []
        for _ in range(STARTUP_LINES):
            line = proc.stderr.readline()
            if not line:
                break
            if line.startswith("Capturing on"):
                return
            said.append(line.strip())
        proc.wait()
        raise OSError(f"dumpcap did not start: {next((x for x in said if x), 'no reason given')}")

    def _pump(self, loop: asyncio.AbstractEventLoop) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        previous: Path | None = None
        for line in proc.stdout:
            name = Path(line.strip())
            if previous is not None:
                self._read(previous, loop)
            previous = name
        if previous is not None:
            self._read(previous, loop)  # dumpcap has stopped: its last file is complete
        if proc.wait() not in (0, -15) and proc.stderr is not None:
            reason = next((x for x in proc.stderr.read().splitlines() if x and not x.startswith("Capturing")), "")
            loop.call_soon_threadsafe(self.on_error, f"dumpcap stopped: {reason or proc.returncode}")

    def _read(self, path: Path, loop: asyncio.AbstractEventLoop) -> None:
        if not path.exists():
            self.lost_files += 1
            return
        reader = FieldsReader(path, decode_as=self.decode_as, jobs=1)
        try:
            batch = [Observation(self._offset + o.index, o.time, o.src, o.dst, o.transport, o.data) for o in reader]
        except CaptureError as exc:
            loop.call_soon_threadsafe(self.on_error, f"{path.name}: {str(exc).splitlines()[0] if str(exc) else exc}")
            return
        self._offset += reader.packets
        if batch:
            loop.call_soon_threadsafe(self.on_batch, batch)

    def stop(self) -> None:
        """Stop dumpcap (its last file is still read), then wait for the reader."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._thread is not None:
            self._thread.join(timeout=30)
        shutil.rmtree(self._dir, ignore_errors=True)
