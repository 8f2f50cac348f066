"""Where the monitor's JSON lines go: stdout, or a file rotated by size (``FILE`` -> ``FILE.1`` ... ``FILE.N``,
the oldest dropped), so a monitor left running never fills a disk."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any


class Lines:
    """Write records as JSON lines, flushed per batch (a reader tailing the file sees them at once)."""

    def __init__(self, path: str | None = None, max_bytes: int = 50 << 20, keep: int = 5) -> None:
        self.path = Path(path) if path else None
        self.max_bytes, self.keep = max_bytes, keep
        self._stream: IO[str] = sys.stdout if self.path is None else self.path.open("a", encoding="utf-8")
        self._size = 0 if self.path is None else self.path.stat().st_size

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        wrote = False
        for record in records:
            line = json.dumps(record, separators=(",", ":")) + "\n"
            if self.path is not None and self._size and self._size + len(line) > self.max_bytes:
                self._rotate()
            self._stream.write(line)
            self._size += len(line)
            wrote = True
        if wrote:
            self._stream.flush()

    def _rotate(self) -> None:
        assert self.path is not None
        self._stream.close()
        for n in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{n + 1}"))
        if self.keep > 0:
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        self._stream = self.path.open("w", encoding="utf-8")
        self._size = 0

    def close(self) -> None:
        if self.path is not None:
            self._stream.close()
        else:
            self._stream.flush()
