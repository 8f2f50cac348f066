"""The JSON report has a schema, shipped in the package: every report validates against it, the reference
captures' reports included, and the schema rejects what it does not describe."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from analyzer.rules.base import CATALOGUE_VERSION
from analyzer.schema import SCHEMA_ID, audit_schema, problems
from tests.reports import valid_report

ROOT = Path(__file__).resolve().parents[1]
CAPTURES = ROOT / "captures"
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def reference_captures() -> list[Path]:
    return sorted([*CAPTURES.glob("*.pcap"), *CAPTURES.glob("*.pcapng")])


def test_the_schema_is_json_schema_2020_12_and_names_itself() -> None:
    schema = audit_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["schema"] == {"const": SCHEMA_ID, "description": "the $id of this schema"}


def test_the_schema_ships_in_the_package() -> None:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "schemas/*.json" in project["tool"]["setuptools"]["package-data"]["analyzer"]
    assert any(dep.startswith("jsonschema") for dep in project["project"]["optional-dependencies"]["test"])


@needs_tshark
def test_the_report_of_every_reference_capture_validates(tmp_path: Path) -> None:
    """All of captures/ in one call (as make run does), with an unreadable file among them."""
    captures = reference_captures()
    assert len(captures) >= 40
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"not a capture at all\n")
    out = tmp_path / "audit.json"
    audit = run("-m", "analyzer.cli", "audit", *captures, junk, "--jobs", "2", "--format", "json", "--output", out)
    assert audit.returncode == 2, audit.stderr  # the junk file is unusable; the others are still reported
    doc = valid_report(out.read_text())
    assert doc["catalogue"] == CATALOGUE_VERSION == "1.1" and doc["schema"] == SCHEMA_ID
    assert [c["file"] for c in doc["captures"]] == [str(p) for p in [*captures, junk]]
    assert doc["captures"][-1]["errors"] and not doc["captures"][-1]["subscriptions"]
    check = run("-m", "analyzer.schema", out)
    assert check.returncode == 0 and check.stdout.strip() == f"{out}: valid ({SCHEMA_ID})", check.stderr


def provisioned() -> list[str]:
    """The reference captures that name a provisioning file."""
    specs = {p.name.removesuffix(".expected.json"): json.loads(p.read_text()) for p in CAPTURES.glob("*.expected.json")}
    return sorted(name for name, spec in specs.items() if spec["options"].get("provisioning"))


@needs_tshark
@pytest.mark.parametrize("name", provisioned())
def test_the_report_with_provisioning_rules_validates(name: str) -> None:
    """The reference captures judged against their provisioning file: capture-level FKS-PRV-* verdicts."""
    options = json.loads((CAPTURES / f"{name}.expected.json").read_text())["options"]
    args: list[str | Path] = ["--provisioning", CAPTURES / options["provisioning"]]
    if options.get("model"):
        args += ["--model", options["model"]]
    if options.get("internal_telephony") is not None:
        args += ["--internal-telephony", "on" if options["internal_telephony"] else "off"]
    pcap = next(p for p in reference_captures() if p.name.split(".")[0] == name)
    audit = run("-m", "analyzer.cli", "audit", pcap, *args, "--format", "json")
    assert audit.returncode in (0, 1), audit.stderr
    doc = valid_report(audit.stdout)
    assert {v["rule"] for v in doc["captures"][0]["verdicts"]} >= {"FKS-PRV-1", "FKS-PRV-4"}


def a_report() -> dict[str, Any]:
    verdict = {"rule": "FKS-NTF-2", "verdict": "fail", "frames": [3], "detail": "no body", "observed": "no body"}
    sub = {"aor": "sip:1001@example.test", "call_id": "c1", "client": "192.0.2.1:5060", "server": "[2001:db8::1]:5060"}
    capture = {"file": "x.pcap", "packets": 4, "sip_messages": 4, "errors": [], "verdicts": []}
    return {
        "tool": "fks",
        "version": "0.1.0",
        "catalogue": "1.1",
        "schema": SCHEMA_ID,
        "captures": [{**capture, "subscriptions": [{**sub, "verdicts": [verdict]}]}],
        "summary": {"pass": 0, "warn": 0, "fail": 1, "inconclusive": 0, "not_applicable": 0},
    }


def _verdict(doc: dict[str, Any]) -> dict[str, Any]:
    verdict: dict[str, Any] = doc["captures"][0]["subscriptions"][0]["verdicts"][0]
    return verdict


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: _verdict(d).update(verdict="failed"), "verdicts/0/verdict"),
        (lambda d: _verdict(d).update(rule="NTF-2"), "verdicts/0/rule"),
        (lambda d: _verdict(d).pop("frames"), "verdicts/0"),
        (lambda d: _verdict(d).update(frames=["3"]), "frames/0"),
        (lambda d: _verdict(d).update(note="x"), "verdicts/0"),
        (lambda d: d["summary"].pop("inconclusive"), "summary"),
        (lambda d: d.update(schema="urn:fks-conformance:schema:audit:0"), "schema"),
        (lambda d: d.pop("catalogue"), "(top)"),
        (lambda d: d["captures"][0].update(packets=-1), "captures/0/packets"),
    ],
)
def test_the_schema_rejects_what_it_does_not_describe(change: Any, where: str) -> None:
    doc = a_report()
    assert problems(doc) == []
    broken = copy.deepcopy(doc)
    change(broken)
    found = problems(broken)
    assert found and any(where in line for line in found), found


def test_the_checker_is_a_command_with_an_exit_status(tmp_path: Path) -> None:
    good, bad, unreadable = tmp_path / "good.json", tmp_path / "bad.json", tmp_path / "none.json"
    good.write_text(json.dumps(a_report()))
    broken = a_report()
    _verdict(broken)["verdict"] = "maybe"
    bad.write_text(json.dumps(broken))
    assert run("-m", "analyzer.schema", good).returncode == 0
    checked = run("-m", "analyzer.schema", good, bad)
    assert checked.returncode == 1 and "verdicts/0/verdict" in checked.stderr
    missing = run("-m", "analyzer.schema", unreadable)
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
