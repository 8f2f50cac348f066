"""SIPp as the independent peer of the live tests: one call of a scenario of ``tests/sipp/`` on 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

SCENARIOS = Path(__file__).parent / "sipp"

needs_sipp = pytest.mark.skipif(
    shutil.which("sipp") is None, reason="SIPp (Debian package sip-tester) is not installed"
)


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port free on 127.0.0.1 right now (for a peer that must be told its port before it starts)."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sipp_command(scenario: str, port: int, *extra: str, timeout: str = "30s") -> list[str]:
    """One call of ``tests/sipp/<scenario>``; the whole run fails (exit != 0) when it overruns ``timeout``."""
    return [
        "sipp",
        "-sf",
        str(SCENARIOS / scenario),
        "-m",
        "1",
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "-timeout",
        timeout,
        "-timeout_error",
        "-nostdin",
        *extra,
    ]
