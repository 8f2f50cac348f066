"""One ``fks audit`` writes every report (``--report FORMAT=PATH``, what ``make audit`` runs): the text, JSON
and JUnit reports are those of an audit per format, byte for byte, and the HTML page and the Allure results
are written beside them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CAPTURES = [ROOT / "captures" / n for n in ("conforming_broadworks.pcap", "notify_dialog_faults.pcap")]

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def fks(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analyzer.cli", "audit", *map(str, CAPTURES), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def test_one_audit_writes_the_reports_of_one_audit_per_format(tmp_path: Path) -> None:
    one = fks(
        "--output",
        tmp_path / "audit.txt",
        "--report",
        f"json={tmp_path / 'audit.json'}",
        "--report",
        f"junit={tmp_path / 'audit.junit.xml'}",
        "--report",
        f"html={tmp_path / 'audit.html'}",
        "--report",
        f"allure={tmp_path / 'allure'}",
    )
    assert one.returncode == 1, one.stderr  # notify_dialog_faults fails rules on purpose
    assert one.stdout == ""
    for fmt, name in (("text", "audit.txt"), ("json", "audit.json"), ("junit", "audit.junit.xml")):
        alone = fks("--format", fmt)
        assert alone.returncode == 1
        assert (tmp_path / name).read_text(encoding="utf-8") == alone.stdout, fmt
    assert json.loads((tmp_path / "audit.json").read_text())["summary"]["fail"] > 0
    page = (tmp_path / "audit.html").read_text(encoding="utf-8")
    assert "<svg" in page and "FKS-NTF" in page
    results = list((tmp_path / "allure").glob("*-result.json"))
    assert len(results) >= 2


@pytest.mark.parametrize("spec", ["json", "pdf=out.pdf", "json="])
def test_a_report_spec_that_is_not_format_equals_path_is_a_usage_error(spec: str) -> None:
    run = fks("--report", spec)
    assert run.returncode == 2
    assert run.stderr.startswith("fks: error:") and "Traceback" not in run.stderr
