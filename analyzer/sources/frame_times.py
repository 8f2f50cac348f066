"""When a capture starts and ends: its first and last frame times, as epoch milliseconds.

A report that places an audit in time (Allure's timeline and duration) needs the capture's own clock, not
the moment the audit ran. capinfos reads the frame headers without dissecting (every format tshark reads,
compressed ones too); the audit's reader keeps only SIP messages, and a capture may begin or end with
other frames. Milliseconds are truncated from the decimal text, never rounded through a float.
"""

from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal, InvalidOperation
from pathlib import Path

TIMEOUT = 600  # seconds: capinfos reads a multi-gigabyte capture at disk speed


def epoch_ms(seconds: str | float) -> int:
    """Seconds since the epoch (text as capinfos or tshark print it, or a float) -> whole milliseconds."""
    if isinstance(seconds, float):
        return round(seconds * 1_000_000) // 1000  # the microseconds a capture stores, then truncated
    return int(Decimal(seconds.strip()) * 1000)


def frame_span(path: str | Path) -> tuple[int, int] | None:
    """(first, last) frame time in epoch ms; None without capinfos, or for a file it cannot read or holds
    no frames."""
    capinfos = shutil.which("capinfos")
    if capinfos is None:
        return None
    try:
        run = subprocess.run(
            [capinfos, "-T", "-r", "-a", "-e", "-S", str(Path(path).resolve())],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    fields = run.stdout.rstrip("\n").split("\t")
    if run.returncode != 0 or len(fields) < 3:
        return None
    try:
        first, last = epoch_ms(fields[-2]), epoch_ms(fields[-1])
    except (InvalidOperation, ValueError):  # "n/a": a capture without frames
        return None
    return first, max(first, last)
