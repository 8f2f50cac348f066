"""The progress line: only on a terminal, only after a moment, and wiped when done."""

from __future__ import annotations

import io
import time

from analyzer.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Reader:
    sip_messages = 1234


def test_silent_when_stderr_is_not_a_terminal() -> None:
    stream = io.StringIO()
    with Progress(3, stream=stream, delay=0.0, interval=0.01) as progress:
        progress.watch(Reader())
        deadline = time.monotonic() + 0.2
        while time.monotonic() < deadline:  # give the (absent) display thread every chance to write
            time.sleep(0.01)
    assert stream.getvalue() == ""


def test_on_a_terminal_it_shows_files_and_messages_then_wipes_itself() -> None:
    stream = Terminal()
    with Progress(3, stream=stream, delay=0.0, interval=0.01) as progress:
        progress.file_done()
        progress.watch(Reader())
        deadline = time.monotonic() + 5
        while "1,234 SIP messages" not in stream.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
    text = stream.getvalue()
    assert "fks audit: 1/3 file(s) done, 1,234 SIP messages in this file" in text
    assert text.endswith("\r")  # the line is blanked at the end, so the report below starts clean


def test_on_a_dask_cluster_it_counts_the_slices_done_too() -> None:
    progress = Progress(2, stream=Terminal())
    assert "slice" not in progress.line()  # nothing sliced: the line of a single machine
    progress.add_slices(3)
    progress.add_slices(2)
    progress.slice_done()
    progress.file_done()
    assert progress.line().startswith("fks audit: 1/2 file(s) done, 1/5 slice(s) done, ")
