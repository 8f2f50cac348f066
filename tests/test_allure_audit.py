"""``fks audit --format allure`` places each test in the capture's own time and names the rules it judged.

The times expected here are read from the capture by tshark (each frame's epoch time), never from the
audit; the Allure command line then builds the report, whose overview must show the capture's duration
(with every result at 0 it read "unknown" and a duration of about 20789 days: the epoch to today).
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from analyzer.report.allure import write_allure
from analyzer.rules import CATALOGUE
from tests.test_html_report import fks, hostile_document
from tests.test_report import ALLURE

ROOT = Path(__file__).resolve().parents[1]
CAPTURE = ROOT / "captures" / "recorded_kamailio.pcapng"  # recorded on loopback: real epoch times, a failure
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
DAY_MS = 86_400_000


def ms(text: str) -> int:
    """tshark's ``frame.time_epoch`` text -> whole milliseconds (truncated)."""
    return int(Decimal(text) * 1000)


def frame_times(capture: Path, display_filter: str | None = None) -> list[int]:
    """Epoch ms of every frame of ``capture`` (that ``display_filter`` keeps), in frame order."""
    command = ["tshark", "-r", str(capture), "-T", "fields", "-e", "frame.time_epoch"]
    if display_filter:
        command += ["-Y", display_filter]
    run = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return [ms(line) for line in run.stdout.split()]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")
    out = tmp_path_factory.mktemp("allure") / "results"
    run = fks("audit", str(CAPTURE), "--format", "allure", "--output", str(out))
    assert run.returncode == 1, run.stderr  # the capture holds a failure
    return out


def written(results: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(results.glob("*-result.json"))]


@needs_tshark
def test_each_result_lasts_as_its_part_of_the_capture(results: Path) -> None:
    everything = frame_times(CAPTURE)
    tests = written(results)
    capture = next(t for t in tests if t["name"] == "capture-level rules")
    assert (capture["start"], capture["stop"]) == (everything[0], everything[-1])
    subs = [t for t in tests if t is not capture]
    assert len(subs) == 2
    for sub in subs:
        call_id = re.fullmatch(r".* \((.+)\)", sub["name"]).group(1)  # type: ignore[union-attr]
        own = frame_times(CAPTURE, f'sip.Call-ID == "{call_id}"')
        assert (sub["start"], sub["stop"]) == (min(own), max(own)), sub["name"]
        assert everything[0] <= sub["start"] <= sub["stop"] <= everything[-1]
        for step in sub["steps"]:
            assert sub["start"] <= step["start"] <= step["stop"] <= sub["stop"], step["name"]


@needs_tshark
def test_results_carry_the_rules_they_judged_as_labels(results: Path) -> None:
    known = {r.id for r in CATALOGUE}
    for test in written(results):
        tags = {label["value"] for label in test["labels"] if label["name"] == "tag"}
        rules = {label["value"] for label in test["labels"] if label["name"] == "rule"}
        stepped = {step["name"].split()[0] for step in test["steps"]}
        assert tags == rules == stepped and rules <= known, test["name"]
    failed = [t for t in written(results) if t["status"] == "failed"]
    assert failed
    for test in failed:  # the report's category regex files it under product defects
        message = test["statusDetails"]["message"]
        assert message.startswith("ProductDefect: ")
        named = set(re.findall(r"(FKS-[A-Z]+-\d+) fail", message))
        assert named and named <= {label["value"] for label in test["labels"] if label["name"] == "rule"}


def test_without_the_capture_file_the_messages_give_the_times(tmp_path: Path) -> None:
    """A document whose capture is gone: the kept messages' times, and never zero for a test without any."""
    doc = hostile_document()
    doc["captures"].append({**doc["captures"][0], "file": "gone.pcap", "subscriptions": [], "verdicts": []})
    before = int(time.time() * 1000)
    assert write_allure(doc, tmp_path) == 2
    tests = {t["name"]: t for t in written(tmp_path)}
    sub = tests["sip:<b>1001</b>@x (a)"]
    assert (sub["start"], sub["stop"]) == (1000, 1000)  # its one message, at 1.0 s
    empty = tests["capture-level rules"]
    assert before <= empty["start"] == empty["stop"] <= int(time.time() * 1000)


@needs_tshark
@pytest.mark.skipif(not ALLURE.exists(), reason="the Allure command line is not installed (make setup)")
@pytest.mark.skipif(shutil.which("java") is None, reason="the Allure command line needs Java")
def test_the_allure_report_shows_the_capture_duration(results: Path, tmp_path: Path) -> None:
    html = tmp_path / "html"
    generate = subprocess.run(
        [str(ALLURE), "generate", "--single-file", "--clean", str(results), "-o", str(html)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert generate.returncode == 0, generate.stderr
    page = (html / "index.html").read_text(encoding="utf-8")
    found = re.search(r"d\('widgets/summary\.json','([A-Za-z0-9+/=]*)'\)", page)
    assert found, "the single-file report embeds its summary widget"
    summary = json.loads(base64.b64decode(found.group(1)))["time"]
    everything = frame_times(CAPTURE)
    assert (summary["start"], summary["stop"]) == (everything[0], everything[-1])
    assert summary["duration"] == everything[-1] - everything[0] < DAY_MS  # seconds, not 20789 days


def test_a_failed_rule_shows_its_requirement_beside_the_verdict(tmp_path: Path) -> None:
    """Catalogue 1.1 is in the kit: the Allure result of a capture whose FKS-NTF-6 fails carries that rule's
    requirement (description and the failed step's details), as ``fks rules FKS-NTF-6`` prints it."""
    from analyzer.report.rulebook import requirement_text

    capture = Path(__file__).resolve().parents[1] / "captures" / "notify_dialog_faults.pcap"
    out = tmp_path / "allure"
    run = subprocess.run(
        [sys.executable, "-m", "analyzer.cli", "audit", str(capture), "--format", "allure", "--output", str(out)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1, run.stderr
    results = [json.loads(p.read_text()) for p in out.glob("*-result.json")]
    (sub,) = [r for r in results if any(label["value"] == "FKS-NTF-6" for label in r["labels"])]
    assert requirement_text("FKS-NTF-6") in sub["description"]
    (step,) = [s for s in sub["steps"] if s["name"].startswith("FKS-NTF-6 FAIL")]
    assert step["statusDetails"]["trace"] == requirement_text("FKS-NTF-6")
    passed = [s for s in sub["steps"] if s["status"] == "passed"]
    assert passed and all(not s["statusDetails"]["trace"] for s in passed)
