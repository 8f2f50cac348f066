"""The rulebook ships with the kit: every rule carries its requirement in full, ``fks rules`` prints it, and
``docs/rules.md`` is the generated form of the rule objects (this test fails when it is out of date)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer import rulebook
from analyzer.rules import CATALOGUE, Rule
from analyzer.rules.base import CATALOGUE_VERSION, GENERAL

ROOT = Path(__file__).resolve().parents[1]
# Each source code of the catalogue and the words a reference to it starts with.
SOURCE_LABELS = {"GS": "Gigaset", "BW": "BroadWorks", "6665": "RFC 6665", "3261": "RFC 3261"}


def fks(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analyzer.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def test_docs_rules_md_is_generated_from_the_rule_objects() -> None:
    committed = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert committed == rulebook.markdown(), "docs/rules.md is out of date: run fks rules --markdown > docs/rules.md"


def test_fks_rules_markdown_prints_the_rulebook() -> None:
    run = fks("rules", "--markdown")
    assert run.returncode == 0, run.stderr
    assert run.stdout == rulebook.markdown()
    for rule in CATALOGUE:
        assert f"### {rule.id}\n" in run.stdout


@pytest.mark.parametrize("rule", CATALOGUE, ids=lambda r: r.id)
def test_every_rule_carries_its_requirement_in_full(rule: Rule) -> None:
    assert rule.catalogue == CATALOGUE_VERSION == "1.1"
    assert len(rule.requirement) > 60, "the requirement says what is checked"
    own = dict(rule.meanings)
    assert set(own) <= rule.verdicts | GENERAL, f"meanings for verdicts it never gives: {set(own) - rule.verdicts}"
    missing = {v.value for v in rule.verdicts} - {v.value for v in own}
    assert not missing, f"{rule.id} declares {missing} without saying what they mean for it"
    assert all(text.strip() for text in own.values())
    for code in rule.sources:
        label = SOURCE_LABELS[code]
        assert any(ref.startswith(label) for ref in rule.references), f"{rule.id}: no reference to {label}"
    for ref in rule.references:
        assert any(ref.startswith(label) for label in SOURCE_LABELS.values()), f"{rule.id}: {ref!r} names no source"


def test_fks_rules_lists_the_catalogue_in_order() -> None:
    run = fks("rules")
    assert run.returncode == 0, run.stderr
    assert "catalogue 1.1" in run.stdout
    listed = [line.split()[0] for line in run.stdout.splitlines() if line.startswith("  FKS-")]
    assert listed == [r.id for r in CATALOGUE]
    ntf2 = next(line for line in run.stdout.splitlines() if "FKS-NTF-2 " in line)
    assert "pass/warn/fail" in ntf2 and "DND, CFA, CFB and CFNA" in ntf2


def test_fks_rules_prints_one_rule_with_its_verdict_meanings() -> None:
    run = fks("rules", "fks-hs-2")  # IDs are read in any case
    assert run.returncode == 0, run.stderr
    text = run.stdout
    assert text.startswith("FKS-HS-2  ") and "catalogue 1.1" in text
    # Catalogue 1.1, FKS-HS-2: verdicts pass/warn/fail; a refused valid request is a warn when the unchanged
    # state is then notified within T_notify, a fail otherwise.
    for word in ("pass", "warn", "fail", "inconclusive", "not_applicable"):
        assert f"\n  {word}:" in text
    warn = text.split("\n  warn:")[1].split("\n  fail:")[0]
    assert "4xx" in warn and "unchanged" in warn and "T_notify" in warn
    assert "RFC 6665" in text and "BroadWorks" in text


@pytest.mark.parametrize("args", [("rules", "FKS-NOPE-9"), ("rules", "--markdown", "FKS-NTF-2")])
def test_fks_rules_bad_arguments_are_one_line_and_exit_2(args: tuple[str, ...]) -> None:
    run = fks(*args)
    assert run.returncode == 2
    assert run.stdout == ""
    assert len(run.stderr.strip().splitlines()) == 1 and run.stderr.startswith("fks: error:")
    assert "Traceback" not in run.stderr


def test_requirement_text_is_what_a_report_can_attach() -> None:
    text = rulebook.requirement_text("FKS-NTF-2")
    assert "forwardImmediate" in text and "forwardBusy" in text and "forwardNoAns" in text
    with pytest.raises(rulebook.UnknownRule):
        rulebook.requirement_text("FKS-XYZ-1")
