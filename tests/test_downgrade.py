"""No silent downgrade: without tshark a CI run fails in one line, a laptop run goes on and says what it dropped.

A real pytest run of one scenario in a subprocess whose PATH holds every command of ours but tshark (a folder
of symlinks), with and without ``CI=true``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from peers.io.downgrade import TSHARK

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = "test_the_handset_subscribes_and_the_as_grants_with_200_ok"


def path_without_tshark(folder: Path) -> str:
    """A PATH of one folder: a symlink to every command on the current PATH except tshark."""
    folder.mkdir()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory or not Path(directory).is_dir():
            continue
        for entry in Path(directory).iterdir():
            link = folder / entry.name
            if entry.name != "tshark" and not link.exists() and os.access(entry, os.X_OK):
                link.symlink_to(entry)
    return str(folder)


def run_scenario(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PATH"] = path_without_tshark(tmp_path / "bin")
    if ci:
        env["CI"] = "true"
    command = [sys.executable, "-m", "pytest", "steps/test_features.py", "-k", SCENARIO, "-p", "no:cacheprovider"]
    command += ["-n", "0", "--alluredir", str(tmp_path / "allure"), "--fks-reports"]
    command += [str(tmp_path / "reports")]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(autouse=True)
def _tshark_installed() -> None:
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed: the run without it is this machine's normal run")


def test_ci_run_without_tshark_fails_with_one_line(tmp_path: Path) -> None:
    run = run_scenario(tmp_path, ci=True)
    assert run.returncode not in (0, 5), run.stdout[-2000:]
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "CI=true" in lines[0] and TSHARK in lines[0], run.stderr
    assert "Traceback" not in run.stdout + run.stderr and not (tmp_path / "allure").exists()


def test_laptop_run_without_tshark_passes_and_says_what_it_dropped(tmp_path: Path) -> None:
    run = run_scenario(tmp_path, ci=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "1 passed" in run.stdout and f"fks: {TSHARK}" in run.stdout.splitlines(), run.stdout[-2000:]
    results = [json.loads(p.read_text()) for p in (tmp_path / "allure").glob("*-result.json")]
    (result,) = [r for r in results if r["name"].startswith("The handset subscribes")]
    (note,) = [a for a in result["attachments"] if a["name"] == "dropped check"]
    assert TSHARK in (tmp_path / "allure" / note["source"]).read_text()
