"""The per-message log of ``fks as`` / ``fks base``: lines are kept and written together, none lost at a stop."""

from __future__ import annotations

import asyncio
import io

import pytest

from peers.io import serve


class _Counting(io.StringIO):
    """A stdout that counts its ``write`` calls (an unbuffered stdout makes each one a system call)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@pytest.fixture
def stdout(monkeypatch: pytest.MonkeyPatch) -> _Counting:
    """The log's stream, and the log the module writes to (its timer set to the next turn of the loop)."""
    out = _Counting()
    monkeypatch.setattr(serve, "_LOG", serve._Lines(lambda: out, delay=0.0))
    return out


def test_lines_written_in_a_loop_reach_stdout_in_one_write(stdout: _Counting) -> None:
    async def burst() -> tuple[str, str]:
        for n in range(500):
            serve._LOG.write(f"line {n}\n")
        held = stdout.getvalue()
        for _ in range(10):  # turns of the loop (no clock): the timer's callback runs in one of the next two
            if stdout.getvalue():
                break
            await asyncio.sleep(0)
        return held, stdout.getvalue()

    held, written = asyncio.run(burst())
    assert held == ""  # nothing written line by line
    assert written == "".join(f"line {n}\n" for n in range(500))
    assert stdout.writes == 1


def test_a_stop_writes_the_kept_lines_before_its_own(stdout: _Counting) -> None:
    async def stop() -> None:
        serve._LOG.write("last message\n")
        serve.flush_log()  # what serve_as / serve_base do before "stopped", the loop still running

    asyncio.run(stop())
    stdout.write("fks as: stopped\n")
    assert stdout.getvalue() == "last message\nfks as: stopped\n"


def test_without_a_loop_a_line_is_written_at_once(stdout: _Counting) -> None:
    serve._LOG.write("direct\n")
    assert stdout.getvalue() == "direct\n"
