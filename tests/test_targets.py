"""The conformance suite against stand-ins for real devices: each target of DESIGN.md run for real.

- target ``as``: our base against ``fks as`` started as its own process (portal through its Xsi-style URL),
  and against SIPp playing the AS (``tests/sipp/as.xml``);
- target ``base``: our AS against ``fks base`` started as its own process, the operator's handset-menu
  actions written to its ``--menu`` FIFO by ``--fks-operator-cmd``;
- target ``pcap``: the scenarios judged on a recorded reference capture.
Scenarios a target cannot perform must skip with their reason, never pass silently or fail.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from analyzer.provisioning import build_provisioning
from tests.test_live import _start, _stop, read_until

ROOT = Path(__file__).resolve().parents[1]


def suite(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The conformance suite in its own pytest process (no xdist: one target, one set of ports)."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "steps", "-q", "-rs", "-p", "no:cacheprovider", "-p", "no:xdist", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def counts(run: subprocess.CompletedProcess[str]) -> dict[str, int]:
    tail = run.stdout.strip().splitlines()[-1]
    return {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped|error)", tail)}


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def fks_as_with_portal() -> Iterator[tuple[str, str]]:
    proc = _start("as", "--listen", "127.0.0.1:0", "--portal", "127.0.0.1:0")
    try:
        lines = read_until(proc, "portal on")
        server = re.search(r"udp ([\d.]+:\d+)", lines[0]).group(1)  # type: ignore[union-attr]
        url = re.search(r"(http://\S+)", lines[-1]).group(1)  # type: ignore[union-attr]
        yield server, url
    finally:
        _stop(proc)


def test_target_as_against_fks_as(fks_as_with_portal: tuple[str, str], tmp_path: Path) -> None:
    server, url = fks_as_with_portal
    run = suite(
        "--fks-target=as",
        f"--fks-as={server}",
        f"--fks-portal-url={url}",
        f"--fks-reports={tmp_path}",
        "-k",
        "subscription or handset or portal or fac",
    )
    got = counts(run)
    assert run.returncode == 0 and got.get("passed", 0) >= 15, run.stdout[-4000:]
    # what our side cannot make a real AS do is skipped with the reason, visibly
    assert got.get("skipped", 0) >= 3 and "the AS under test cannot be made to" in run.stdout
    assert len(list((tmp_path / "captures").glob("*.pcapng"))) >= got["passed"] - 5


@pytest.mark.skipif(shutil.which("sipp") is None, reason="SIPp (Debian package sip-tester) is not installed")
def test_target_as_against_sipp(tmp_path: Path) -> None:
    port = free_port()
    sipp = subprocess.Popen(
        [
            "sipp",
            "-sf",
            str(ROOT / "tests" / "sipp" / "as.xml"),
            "-m",
            "1",
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "-timeout",
            "60s",
            "-timeout_error",
            "-nostdin",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        run = suite(
            "--fks-target=as",
            f"--fks-as=127.0.0.1:{port}",
            f"--fks-reports={tmp_path}",
            "-k",
            "ended_before_its_expiry",
        )
        assert run.returncode == 0 and counts(run) == {"passed": 1}, run.stdout[-4000:]
        out, err = sipp.communicate(timeout=60)
        assert sipp.returncode == 0, out[-2000:] + err[-2000:]
    finally:
        if sipp.poll() is None:
            sipp.kill()


def test_target_base_against_fks_base(tmp_path: Path) -> None:
    port = free_port()
    menu = tmp_path / "menu"
    os.mkfifo(menu)
    prov = tmp_path / "n870.xml"
    prov.write_bytes(build_provisioning([("00001", "1001", "1", None), ("00002", "1002", "1", None)]))
    base = _start(
        "base",
        "--as",
        f"127.0.0.1:{port}",
        "--provisioning",
        str(prov),
        "--model",
        "N870",
        "--no-register",
        "--menu",
        str(menu),
    )
    try:
        read_until(base, "fks base:")
        operator = f"printf '%s\\n' {{action}} > {menu}"
        run = suite(
            "--fks-target=base",
            f"--fks-listen=127.0.0.1:{port}",
            f"--fks-operator-cmd={operator}",
            f"--fks-reports={tmp_path}",
            "-k",
            "subscribes_and_the_as_grants or unsubscribing or single_subscription or clean_sip or switches_dnd",
        )
        got = counts(run)
        assert run.returncode == 0 and got.get("passed", 0) >= 3, run.stdout[-4000:]
        assert "OPERATOR" not in run.stderr  # instructions go to the run's output, not to errors
        assert got.get("skipped", 0) >= 1 and "not observable on a real base" in run.stdout
    finally:
        base.send_signal(signal.SIGINT)
        _stop(base, interrupt=False)


def test_target_pcap_judges_a_recorded_capture(tmp_path: Path) -> None:
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")
    pcap = ROOT / "captures" / "recorded_broadworks.pcapng"
    run = suite(
        "--fks-target=pcap",
        f"--fks-pcap={pcap}",
        f"--fks-reports={tmp_path}",
        "-k",
        "subscribes_and_the_as_grants or ended_before_its_expiry or challenge or clean_sip",
    )
    got = counts(run)
    assert run.returncode == 0 and got.get("passed", 0) >= 3, run.stdout[-4000:]
    assert "replays nothing" in run.stdout or "cannot be made to" in run.stdout
