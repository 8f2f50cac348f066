"""Every reference capture of ``captures/`` is audited and compared with its ``NAME.expected.json``.

The expected verdicts were written from CONFORMANCE.md, independently of the analyzer: a difference is
either an analyzer defect or a judgement call to settle in the catalogue, never a baseline to regenerate.
"""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import pytest

from analyzer.audit import AuditSettings, audit_file, expected_settings, worst_by_rule
from analyzer.rules import CATALOGUE

CAPTURES = Path(__file__).resolve().parents[1] / "captures"
EXPECTED = sorted(CAPTURES.glob("*.expected.json"))

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def capture_for(expected: Path) -> Path:
    stem = expected.name.removesuffix(".expected.json")
    for suffix in (".pcap", ".pcapng"):
        if (CAPTURES / f"{stem}{suffix}").exists():
            return CAPTURES / f"{stem}{suffix}"
    raise AssertionError(f"{expected.name} has no capture beside it")


def settings_for(spec: dict) -> AuditSettings:
    return expected_settings(spec, CAPTURES)


@functools.cache
def audited(expected: Path) -> tuple[dict, dict]:
    """The capture's spec and its audit (once per test session: several tests read it)."""
    spec = json.loads(expected.read_text())
    return spec, audit_file(capture_for(expected), settings_for(spec))


def test_the_corpus_exists_and_covers_every_rule_both_ways() -> None:
    assert len(EXPECTED) >= 10, "captures/ holds too few reference captures"
    seen: dict[str, set[str]] = {r.id: set() for r in CATALOGUE}
    for path in EXPECTED:
        for rule, verdict in json.loads(path.read_text())["verdicts"].items():
            seen[rule].add(verdict)
    for rule, verdicts in seen.items():
        assert "pass" in verdicts, f"{rule}: no capture where it passes"
        assert verdicts & {"fail", "warn"}, f"{rule}: no capture where it fails or warns"


@pytest.mark.parametrize("expected", EXPECTED, ids=lambda p: p.name.removesuffix(".expected.json"))
def test_capture_gets_its_expected_verdicts(expected: Path) -> None:
    spec, audit = audited(expected)
    assert set(spec["verdicts"]) == {r.id for r in CATALOGUE}, "expected.json must name every rule"
    assert audit["errors"] == []
    assert len(audit["subscriptions"]) == spec["subscriptions"]
    got = worst_by_rule(audit)
    diff = {rule: (want, got[rule]) for rule, want in spec["verdicts"].items() if got[rule] != want}
    details = {
        v["rule"]: v["detail"]
        for s in audit["subscriptions"]
        for v in s["verdicts"] + audit["verdicts"]
        if v["rule"] in diff
    }
    assert not diff, f"(expected, got): {diff}\nanalyzer said: {details}"


# Capture-level rules about configuration (the provisioning file itself) have no frames to point at.
_CONFIGURATION_RULES = ("FKS-PRV-3", "FKS-PRV-4")


@pytest.mark.parametrize("expected", EXPECTED, ids=lambda p: p.name.removesuffix(".expected.json"))
def test_every_fail_and_warn_names_its_evidence(expected: Path) -> None:
    _, audit = audited(expected)
    verdicts = [v for s in audit["subscriptions"] for v in s["verdicts"]] + audit["verdicts"]
    for v in verdicts:
        if v["verdict"] in ("fail", "warn"):
            assert v["detail"] and "\n" not in v["detail"]
            assert v["frames"] or v["rule"] in _CONFIGURATION_RULES, v
