"""The per-message log of ``fks as`` / ``fks base``: lines are kept and written together, none lost at a stop."""

from __future__ import annotations

import asyncio
import io
import itertools

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


def test_past_the_rate_messages_are_counted_in_one_line(stdout: _Counting) -> None:
    log = serve._LOG
    log.rate = 3
    assert [log.admit(100.0) for _ in range(8)] == [True] * 3 + [False] * 5  # a burst: the bucket's three lines
    assert log.admit(101.0)  # a second later, the bucket is full again
    serve.flush_log()
    assert stdout.getvalue().splitlines() == [
        "100.000 .. 5 message(s) from here to 100.000 not logged (--log-rate 3 lines a second)"
    ]


def test_a_storm_gets_its_lines_spread_over_each_second(stdout: _Counting) -> None:
    """Not the second's whole share at its start: that would be a stall each second, in the storm's p99."""
    log = serve._LOG
    log.rate = 10
    admitted = [n / 100 for n in range(300) if log.admit(1000.0 + n / 100)]  # 100 messages a second, 3 s
    steady = [t for t in admitted if t >= 1.0]
    assert 19 <= len(steady) <= 21  # 10 lines a second once the first burst is spent
    assert max(b - a for a, b in itertools.pairwise(steady)) < 0.115


def test_the_count_line_comes_without_further_traffic(stdout: _Counting) -> None:
    async def storm_then_quiet() -> None:
        log = serve._LOG
        log.rate, log.every = 1, 0.0
        for _ in range(4):
            log.admit(50.0)
        for _ in range(10):  # turns of the loop (no clock): the count's timer runs in one of them
            if stdout.getvalue():
                return
            await asyncio.sleep(0)

    asyncio.run(storm_then_quiet())
    assert stdout.getvalue().startswith("50.000 .. 3 message(s)")


def test_a_stop_writes_the_count(stdout: _Counting) -> None:
    log = serve._LOG
    log.rate = 2
    for _ in range(5):
        log.admit(7.0)
    serve.flush_log()
    assert stdout.getvalue().startswith("7.000 .. 3 message(s)")
    serve.flush_log()  # said once
    assert stdout.getvalue().count("not logged") == 1


def test_rate_zero_logs_every_message(stdout: _Counting) -> None:
    log = serve._LOG
    log.rate = 0
    assert all(log.admit(9.0) for _ in range(10_000))
    serve.flush_log()
    assert stdout.getvalue() == ""


@pytest.mark.parametrize(
    "argv",
    [["as", "--log-rate", "-1"], ["as", "--log-rate", "many"], ["base", "--as", "127.0.0.1:9", "--log-rate", "-5"]],
    ids=["negative", "not-a-number", "base-negative"],
)
def test_a_bad_log_rate_is_one_line_and_status_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from peers.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fks: error: argument --log-rate:") and "\n" not in err
