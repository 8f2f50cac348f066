"""The set-up's OS packages (tools/os-deps.sh): one package per missing command, never npm beside a node from
elsewhere, nothing at all on a machine that has everything. Each case runs the script on a PATH made here
(stub commands), not the machine's, in --dry-run so that nothing is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "os-deps.sh"
BASH = shutil.which("bash") or "/bin/bash"
EVERY = ("tshark", "capinfos", "sipp", "stunnel4", "java", "chromium", "npm", "node")


def machine(tmp_path: Path, commands: tuple[str, ...], venv: bool = True) -> dict[str, str]:
    """A PATH holding exactly ``commands`` (stubs), and a PYTHON that can or cannot make venvs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in commands:
        stub = bin_dir / name
        stub.write_text("#!/bin/sh\necho v20.0.0\n")
        stub.chmod(0o755)
    python = tmp_path / "python"
    python.write_text(f"#!/bin/sh\nexit {0 if venv else 1}\n")
    python.chmod(0o755)
    return {"PATH": str(bin_dir), "PYTHON": str(python), "SUDO": "", "HOME": str(tmp_path)}


def dry_run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BASH, str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=30)


def install_line(run: subprocess.CompletedProcess[str]) -> list[str]:
    lines = [line for line in run.stdout.splitlines() if " install " in line]
    assert len(lines) == 1, run.stdout
    return lines[0].split(" install ", 1)[1].replace("-y", "").replace("-qq", "").split()


def test_node_and_npm_from_elsewhere_and_no_tshark_asks_for_tshark_only(tmp_path: Path) -> None:
    run = dry_run(machine(tmp_path, tuple(c for c in EVERY if c not in ("tshark", "capinfos"))), "--dry-run")
    assert run.returncode == 0, run.stderr
    assert install_line(run) == ["tshark"]
    assert "npm" not in run.stdout
    assert "wireshark-common/install-setuid boolean false" in run.stdout  # the preseed stays with tshark
    assert "apt-get update" in run.stdout


def test_everything_present_asks_for_nothing(tmp_path: Path) -> None:
    run = dry_run(machine(tmp_path, EVERY), "--dry-run")
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")


def test_nothing_present_asks_for_the_whole_list(tmp_path: Path) -> None:
    run = dry_run(machine(tmp_path, (), venv=False), "--dry-run")
    assert run.returncode == 0, run.stderr
    assert install_line(run) == [
        "tshark",
        "sip-tester",
        "stunnel4",
        "default-jre-headless",
        "chromium",
        "python3-venv",
        "npm",
    ]


def test_chromium_browser_counts_as_chromium(tmp_path: Path) -> None:
    present = (*(c for c in EVERY if c != "chromium"), "chromium-browser")
    assert dry_run(machine(tmp_path, present), "--dry-run").stdout == ""


def test_node_without_npm_is_left_to_its_own_source(tmp_path: Path) -> None:
    run = dry_run(machine(tmp_path, tuple(c for c in EVERY if c != "npm")), "--dry-run")
    assert run.returncode == 1
    assert len(run.stderr.strip().splitlines()) == 1 and "npm is missing" in run.stderr, run.stderr
    assert "apt-get" not in run.stdout


def test_without_root_or_sudo_it_prints_the_commands_and_fails(tmp_path: Path) -> None:
    env = {**machine(tmp_path, tuple(c for c in EVERY if c != "sipp")), "SUDO": "sudo"}  # no sudo on PATH
    run = dry_run(env)
    assert run.returncode == 1
    assert (
        "not root and no sudo" in run.stderr and "sudo env DEBIAN_FRONTEND=noninteractive apt-get install" in run.stderr
    )
    assert "sip-tester" in run.stderr


def test_a_bad_argument_is_refused(tmp_path: Path) -> None:
    run = dry_run(machine(tmp_path, EVERY), "--bogus")
    assert run.returncode == 2 and "usage" in run.stderr


@pytest.mark.skipif(
    not (ROOT / ".venv" / ".installed").exists() or not (ROOT / "allure" / "node_modules" / ".bin" / "allure").exists(),
    reason="the set-up has not run in this checkout",
)
def test_a_set_up_checkout_installs_nothing_more() -> None:
    """A second ``make run`` must not touch the network: the venv and the Allure command line are up to date
    (make -q), and the OS packages of this machine are all there."""
    make = subprocess.run(
        ["make", "-q", ".venv/.installed", "allure/node_modules/.bin/allure"], cwd=ROOT, capture_output=True, timeout=30
    )
    assert make.returncode == 0, "make would reinstall the venv or the Allure command line"
    run = subprocess.run(
        [BASH, str(SCRIPT), "--dry-run"], env={**os.environ}, capture_output=True, text=True, timeout=30
    )
    assert (run.returncode, run.stdout) == (0, ""), run.stdout + run.stderr
