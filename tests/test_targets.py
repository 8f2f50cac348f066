"""The conformance suite against stand-ins for real devices: each target of DESIGN.md run for real.

- target ``as``: our base against ``fks as`` started as its own process (portal through its Xsi-style URL),
  and against SIPp playing the AS (``tests/sipp/as.xml``);
- target ``base``: our AS against ``fks base`` started as its own process, the operator's handset-menu
  actions written to its ``--menu`` FIFO by ``--fks-operator-cmd``;
- target ``pcap``: the scenarios judged on a recorded reference capture.
Scenarios a target cannot perform must skip with their reason, never pass silently or fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from analyzer.provisioning import build_provisioning
from tests.sipp_peer import free_port, needs_sipp, sipp_command
from tests.test_live import _start, _stop, read_until

ROOT = Path(__file__).resolve().parents[1]


def suite(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The conformance suite in its own pytest process (no xdist: one target, one set of ports)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "steps",
            "-q",
            "-rs",
            "-o",
            "console_output_style=classic",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def counts(run: subprocess.CompletedProcess[str]) -> dict[str, int]:
    tail = run.stdout.strip().splitlines()[-1]
    return {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped|error)", tail)}


def start_as(*args: str) -> tuple[subprocess.Popen[str], str, str]:
    """``fks as --portal`` as its own long-running process: its SIP address and its portal URL."""
    proc = _start("as", "--listen", "127.0.0.1:0", "--portal", "127.0.0.1:0", *args)
    lines = read_until(proc, "portal on")
    server = re.search(r"udp ([\d.]+:\d+)", lines[0]).group(1)  # type: ignore[union-attr]
    url = re.search(r"(http://\S+)", lines[-1]).group(1)  # type: ignore[union-attr]
    return proc, server, url


@pytest.fixture(scope="module")
def fks_as_with_portal() -> Iterator[tuple[str, str]]:
    proc, server, url = start_as()
    try:
        yield server, url
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def two_accounts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The base's provisioning file: two enabled handset accounts, their passwords, the provider's domain."""
    path = tmp_path_factory.mktemp("prov") / "two-accounts.xml"
    path.write_bytes(build_provisioning([("00001", "1001", "1", "pw-1001"), ("00002", "1002", "1", "pw-1002")]))
    return path


PREMISE = "kept one from before this scenario"  # a real base's subscription older than the scenario's


def skips(run: subprocess.CompletedProcess[str], but: str = "\0") -> list[str]:
    """The skip lines of ``-rs`` (each must carry its reason), but those saying ``but``."""
    return sorted(line for line in run.stdout.splitlines() if line.startswith("SKIPPED") and but not in line)


def test_target_as_in_shuffled_order_against_one_stateful_as(
    fks_as_with_portal: tuple[str, str], two_accounts: Path, tmp_path: Path
) -> None:
    """One long-running AS keeps each user's features between scenarios, as a real one does: every scenario
    (robustness aside) in two shuffled orders, 0 failed in both, the same skips, each with its reason. Each
    scenario sets its users' baseline through the portal, so none depends on what ran before."""
    server, url = fks_as_with_portal
    runs = [
        suite(
            "--fks-target=as",
            f"--fks-as={server}",
            f"--fks-portal-url={url}",
            f"--fks-provisioning={two_accounts}",
            "--fks-notify-timeout=1",
            f"--fks-shuffle={seed}",
            f"--fks-reports={tmp_path / seed}",
            "-m",
            "not robustness",
            timeout=600,
        )
        for seed in ("7", "8")
    ]
    for run in runs:
        got = counts(run)
        assert run.returncode == 0 and "failed" not in got and got.get("passed", 0) >= 60, run.stdout[-4000:]
    assert skips(runs[0]) == skips(runs[1])
    assert all(re.match(r"SKIPPED \[\d+\] \S+: \S.{20,}", line) for line in skips(runs[0])), skips(runs[0])
    # what our own base emulator does is not judged here: the provisioning scenarios say why they skip
    assert "the provisioning rules (FKS-PRV-*) would judge it" in runs[0].stdout


def test_a_deviating_as_fails_only_its_rule_and_only_as_a_product_defect(two_accounts: Path, tmp_path: Path) -> None:
    """``fks as --profile kamailio`` sends its initial NOTIFY without a body (CONFORMANCE.md FKS-NTF-2: an empty
    body is a fail): the only failures are FKS-NTF-2, each filed by the report under "Product defects"."""
    proc, server, url = start_as("--profile", "kamailio")
    try:
        run = suite(
            "--fks-target=as",
            f"--fks-as={server}",
            f"--fks-portal-url={url}",
            f"--fks-provisioning={two_accounts}",
            "--fks-notify-timeout=1",
            "--fks-shuffle=3",
            f"--fks-reports={tmp_path}",
            f"--alluredir={tmp_path / 'allure'}",
            "-m",
            "not robustness",
            timeout=600,
        )
    finally:
        _stop(proc)
    assert counts(run).get("failed", 0) >= 3, run.stdout[-4000:]
    from steps.conftest import CATEGORIES

    product = CATEGORIES[0]
    assert product["name"].startswith("Product defects")
    failed = [
        result
        for path in (tmp_path / "allure").glob("*-result.json")
        if (result := json.loads(path.read_text()))["status"] in ("failed", "broken")
    ]
    assert len(failed) == counts(run)["failed"]
    for result in failed:
        message = result["statusDetails"]["message"]
        assert result["status"] == "failed" and re.fullmatch(product["messageRegex"], message), message
        assert set(re.findall(r"FKS-[A-Z]+-\d+", message.split("(")[0])) == {"FKS-NTF-2"}, message


@needs_sipp
def test_target_as_against_sipp(tmp_path: Path) -> None:
    port = free_port()
    sipp = subprocess.Popen(
        sipp_command("as.xml", port, timeout="60s"),
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


def test_target_base_in_shuffled_order_against_one_long_running_base(two_accounts: Path, tmp_path: Path) -> None:
    """Our AS against one ``fks base`` process driven through its menu FIFO: every scenario (robustness aside)
    in two shuffled orders, 0 failed, the same skips, each with its reason."""
    port = free_port()
    menu = tmp_path / "menu"
    os.mkfifo(menu)
    base = _start(
        "base",
        "--as",
        f"127.0.0.1:{port}",
        "--provisioning",
        str(two_accounts),
        "--model",
        "N870",
        "--no-register",
        "--menu",
        str(menu),
    )
    try:
        read_until(base, "fks base:")
        operator = f"printf '%s\\n' {{action}} > {menu}"
        runs = [
            suite(
                "--fks-target=base",
                f"--fks-listen=127.0.0.1:{port}",
                f"--fks-operator-cmd={operator}",
                f"--fks-provisioning={two_accounts}",
                f"--fks-shuffle={seed}",
                f"--fks-reports={tmp_path / seed}",
                "-k",
                "subscribes_and_the_as_grants or unsubscribing or single_subscription or clean_sip or switches_dnd",
            )
            for seed in ("7", "8")
        ]
    finally:
        base.send_signal(signal.SIGINT)
        _stop(base, interrupt=False)
    for run in runs:
        got = counts(run)
        # the base's own boot subscription, answered once our AS listened, can precede the first scenario's:
        # the single-subscription scenario then skips, saying so (``records.one_subscription``)
        premise = PREMISE in run.stdout
        passed = got.get("passed", 0) + premise
        assert run.returncode == 0 and "failed" not in got and passed >= 3, run.stdout[-4000:]
        assert "OPERATOR" not in run.stderr  # instructions go to the run's output, not to errors
    assert [skips(run, but=PREMISE) for run in runs] == [skips(runs[0], but=PREMISE)] * 2
    assert "not observable on a real base" in runs[0].stdout


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
