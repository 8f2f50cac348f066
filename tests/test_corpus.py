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

from analyzer.audit import audit_file, expected_settings, verdicts_of, worst_by_rule
from analyzer.judging import AuditSettings
from analyzer.rules import BY_ID, CATALOGUE

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


def _subscription_maps(audit: dict) -> dict[str, dict[str, str]]:
    return {s["call_id"]: {v["rule"]: v["verdict"] for v in s["verdicts"]} for s in audit["subscriptions"]}


@pytest.mark.parametrize("expected", EXPECTED, ids=lambda p: p.name.removesuffix(".expected.json"))
def test_every_subscription_gets_all_its_expected_verdicts(expected: Path) -> None:
    """Every finding, not only the worst per rule: a lesser verdict under another subscription's fail counts."""
    spec, audit = audited(expected)
    if "per_subscription" not in spec:
        pytest.skip("a recorded capture: its expectations are per rule (record.py)")
    got = _subscription_maps(audit)
    want = spec["per_subscription"]
    if list(want) == ["*"]:
        assert len(got) == 1, list(got)
        want = {next(iter(got)): want["*"]}
    assert set(got) == set(want), {"expected": sorted(want), "audited": sorted(got)}
    for call_id, verdicts in want.items():
        diff = {r: (v, got[call_id].get(r, "not_applicable")) for r, v in verdicts.items()}
        diff = {r: pair for r, pair in diff.items() if pair[0] != pair[1]}
        assert not diff, f"{call_id} (expected, got): {diff}"
    capture = {v["rule"]: v["verdict"] for v in audit["verdicts"]}
    diff = {r: (v, capture.get(r)) for r, v in spec["capture_verdicts"].items() if capture.get(r) != v}
    assert not diff, f"capture-level (expected, got): {diff}"


@pytest.mark.parametrize("expected", EXPECTED, ids=lambda p: p.name.removesuffix(".expected.json"))
def test_pinned_evidence_names_the_frames(expected: Path) -> None:
    """Where a scenario pins the frames of a rule's worst finding, the report names exactly those frames."""
    spec, audit = audited(expected)
    pinned = spec.get("evidence") or {}
    if not pinned:
        pytest.skip("no frames pinned for this capture")
    worst = worst_by_rule(audit)
    for rule, frames in pinned.items():
        named = sorted(
            {n for v in verdicts_of(audit) if v["rule"] == rule and v["verdict"] == worst[rule] for n in v["frames"]}
        )
        assert named == frames, f"{rule} {worst[rule]}: frames {named}, expected {frames}"


@pytest.mark.parametrize("expected", EXPECTED, ids=lambda p: p.name.removesuffix(".expected.json"))
def test_every_fail_and_warn_names_its_evidence(expected: Path) -> None:
    _, audit = audited(expected)
    for v in verdicts_of(audit):
        if v["verdict"] in ("fail", "warn"):
            assert v["detail"] and "\n" not in v["detail"]
            # rules about the provisioning file itself (PRV-3, PRV-4) have no frames to point at
            assert v["frames"] or BY_ID[v["rule"]].configuration, v
