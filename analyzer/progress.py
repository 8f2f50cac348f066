"""A one-line progress display on stderr for audits that take more than a moment, only on a terminal
(never in a pipe, a log file or CI), so it can never disturb the report on stdout or a parsed stderr."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO


class Progress:
    def __init__(self, files: int, stream: TextIO | None = None, delay: float = 1.0, interval: float = 0.25) -> None:
        self.stream = stream or sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.files, self.done = files, 0
        self.slices, self.slices_done = 0, 0  # a large capture's slices on a Dask cluster
        self.delay, self.interval = delay, interval
        self.reader: Any = None  # the CaptureReader being read (its sip_messages grow as it goes)
        self._stop = threading.Event()
        self._start = time.monotonic()
        self._width = 0
        self._thread = threading.Thread(target=self._run, name="fks-progress", daemon=True)

    def __enter__(self) -> Progress:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self.enabled:
            self._thread.join(1)
            if self._width:
                self.stream.write("\r" + " " * self._width + "\r")
                self.stream.flush()

    def watch(self, reader: Any) -> None:
        self.reader = reader

    def file_done(self) -> None:
        self.done += 1
        self.reader = None

    def add_slices(self, count: int) -> None:
        self.slices += count

    def slice_done(self) -> None:
        self.slices_done += 1

    def line(self) -> str:
        elapsed = time.monotonic() - self._start
        messages = f", {self.reader.sip_messages:,} SIP messages in this file" if self.reader is not None else ""
        sliced = f", {self.slices_done}/{self.slices} slice(s) done" if self.slices else ""
        return f"fks audit: {self.done}/{self.files} file(s) done{sliced}{messages}, {elapsed:.0f} s"

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if time.monotonic() - self._start < self.delay:
                continue
            text = self.line()
            self.stream.write("\r" + text.ljust(self._width))
            self.stream.flush()
            self._width = max(self._width, len(text))
