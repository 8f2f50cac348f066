"""The rulebook ships with the kit: every rule carries its requirement in full, ``fks rules`` prints it, and
``docs/rules.md`` is the generated form of the rule objects (this test fails when it is out of date)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from lxml import html as lxml_html

from analyzer.report import rulebook
from analyzer.report.html import render_html
from analyzer.rules import CATALOGUE, Rule
from analyzer.rules.base import CATALOGUE_VERSION, GENERAL
from tests.commands import fks

ROOT = Path(__file__).resolve().parents[1]
# Each source code of the catalogue and the words a reference to it starts with.
SOURCE_LABELS = {"GS": "Gigaset", "BW": "BroadWorks", "6665": "RFC 6665", "3261": "RFC 3261"}


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


CAPTURES = ROOT / "captures"
# Three reference captures whose expected verdicts (captures/*.expected.json, each citing the catalogue)
# hold fails and warns of six different rules between them, and a conforming one.
REPORTED = ("grant_deviations", "handset_change_faults", "conforming_tcp")


def expected_flags(names: tuple[str, ...]) -> dict[str, set[str]]:
    flags: dict[str, set[str]] = {}
    for name in names:
        spec = json.loads((CAPTURES / f"{name}.expected.json").read_text())
        for rule, verdict in spec["verdicts"].items():
            if verdict in ("fail", "warn"):
                flags.setdefault(rule, set()).add(verdict)
    return flags


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_the_text_report_ends_with_what_each_failed_or_warned_rule_requires_once() -> None:
    run = fks("audit", *(str(CAPTURES / f"{name}.pcap") for name in REPORTED))
    assert run.returncode == 1, run.stderr
    _, summary, tail = run.stdout.partition("\nsummary: ")
    assert summary, "a summary line"
    headings = [line.split()[0] for line in tail.splitlines() if line.startswith("FKS-")]
    flags = expected_flags(REPORTED)
    assert sorted(flags) == sorted(headings), "every rule that failed or warned, and only those"
    assert headings == [r.id for r in CATALOGUE if r.id in flags], "once each, in catalogue order"
    blocks = {b.split()[0]: b for b in tail.split("\n\n") if b.startswith("FKS-")}
    for rule, verdicts in flags.items():
        for verdict in verdicts:
            assert f"\n  {verdict}: " in blocks[rule], f"{rule}: what {verdict} means for it"
        assert "pass:" not in blocks[rule]


def test_the_html_page_puts_the_requirement_under_each_fail_and_warn() -> None:
    verdicts = [
        {"rule": "FKS-NTF-2", "verdict": "fail", "frames": [3], "detail": "initial NOTIFY without a body"},
        {"rule": "FKS-NTF-3", "verdict": "pass", "frames": [3], "detail": "fine"},
        {"rule": "FKS-XYZ-9", "verdict": "warn", "frames": [], "detail": "a rule this kit does not know"},
    ]
    sub = {"aor": "sip:1001@example.test", "call_id": "c1", "client": "192.0.2.1:5060", "server": "192.0.2.2:5060"}
    cap = {"file": "x.pcap", "packets": 4, "sip_messages": 4, "errors": [], "verdicts": []}
    summary = {"pass": 1, "warn": 1, "fail": 1, "inconclusive": 0, "not_applicable": 0}
    doc = {"captures": [{**cap, "subscriptions": [{**sub, "verdicts": verdicts}]}], "summary": summary}
    page = lxml_html.fromstring(render_html(doc))
    rows = page.xpath("//table[@class='verdicts']/tbody/tr")
    kinds = [(r.get("class") or r.xpath("string(td[1])")) for r in rows]
    assert kinds == ["FKS-NTF-2", "requirement", "FKS-NTF-3", "FKS-XYZ-9"]
    under = rows[1].text_content()
    assert under.startswith("FKS-NTF-2 requires: ") and "fail here: " in under and "DoNotDisturbEvent" in under
    link = rows[0].xpath(".//a")[0]
    target = page.get_element_by_id(link.get("href")[1:])
    assert target.tag == "pre" and target.text_content().startswith("FKS-NTF-2  ")
    assert page.xpath("//pre[@id='rule-FKS-NTF-3']") and not page.xpath("//pre[@id='rule-FKS-XYZ-9']")
