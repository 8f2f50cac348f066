"""The rule objects and the reference corpus against CONFORMANCE.md, both ways: same IDs and sources; a rule
gives no verdict the catalogue does not allow, and every verdict the catalogue lists for a rule is declared by
the rule and produced by at least one reference capture; every expectation's citation is the catalogue's text.
The rulebook the kit ships (each rule's requirement in the project's words) says what each verdict the
catalogue lists means for the rule, and names every term the catalogue's requirement quotes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from analyzer.report.rulebook import requirement_text
from analyzer.rules import CATALOGUE, Rule
from analyzer.verdicts import Verdict

SPEC = Path(__file__).resolve().parents[2] / "shared" / "CONFORMANCE.md"
CAPTURES = Path(__file__).resolve().parents[1] / "captures"
_ROW = re.compile(r"^\| (FKS-[A-Z]+-\d+) \| (.+) \| ([a-z_/]+) \| ([A-Z0-9, ]+) \|$")

# The catalogue's general rule ("when the trigger occurs but the capture ends before the expected answer
# could arrive, it is inconclusive"; "when the traffic that triggers a rule never occurs ... not_applicable")
# applies to every rule, whatever its verdict column lists.
GENERAL = {Verdict.INCONCLUSIVE, Verdict.NOT_APPLICABLE}


def catalogue_table() -> list[re.Match[str]]:
    """The rows of the catalogue's rule table: ID, requirement, verdicts, sources."""
    if not SPEC.exists():
        pytest.skip(f"{SPEC} not found beside the project")
    return [m for line in SPEC.read_text().splitlines() if (m := _ROW.match(line.strip()))]


def catalogue_rows() -> dict[str, tuple[set[str], set[str]]]:
    """Rule -> (the verdicts it lists, its sources)."""
    return {m[1]: (set(m[3].split("/")), {s.strip() for s in m[4].split(",")}) for m in catalogue_table()}


def test_every_catalogue_rule_has_exactly_one_rule_object() -> None:
    rows = catalogue_rows()
    ids = [r.id for r in CATALOGUE]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(rows), {"missing": set(rows) - set(ids), "unknown": set(ids) - set(rows)}
    assert ids == list(rows), "the catalogue order is the report order"


@pytest.mark.parametrize("rule", CATALOGUE, ids=lambda r: r.id)
def test_rule_sources_and_verdicts_match_the_catalogue(rule: Rule) -> None:
    verdicts, sources = catalogue_rows()[rule.id]
    assert set(rule.sources) == sources
    extra = {v.value for v in rule.verdicts - GENERAL} - verdicts
    assert not extra, f"{rule.id} may give {extra}, which the catalogue does not list"
    missing = verdicts - {v.value for v in rule.verdicts}
    assert not missing, f"the catalogue gives {rule.id} {missing}, which the rule does not declare"
    assert rule.title and rule.expectation and rule.idle


def catalogue_terms() -> dict[str, set[str]]:
    """Rule -> the terms its catalogue requirement quotes (in backticks): headers, values, element names."""
    return {m[1]: set(re.findall(r"`([^`]+)`", m[2])) for m in catalogue_table()}


@pytest.mark.parametrize("rule", CATALOGUE, ids=lambda r: r.id)
def test_the_rulebook_explains_every_verdict_and_term_the_catalogue_gives(rule: Rule) -> None:
    verdicts, _ = catalogue_rows()[rule.id]
    explained = {v.value for v, text in rule.meanings if text.strip()}
    assert verdicts <= explained, f"{rule.id}: no meaning for {sorted(verdicts - explained)}"
    text = requirement_text(rule.id)
    for verdict in verdicts:
        assert f"\n  {verdict}:" in text
    words = _plain(text)
    missing = sorted(t for t in catalogue_terms()[rule.id] if _plain(t) not in words)
    assert not missing, f"{rule.id}: the requirement text never mentions {missing}"


def corpus_verdicts() -> dict[str, set[str]]:
    """Rule -> every verdict some reference capture expects of it, in any subscription or at capture level
    (``tests/test_corpus.py`` holds the analyzer to each of them)."""
    seen: dict[str, set[str]] = {r.id: set() for r in CATALOGUE}
    for path in sorted(CAPTURES.glob("*.expected.json")):
        spec = json.loads(path.read_text())
        maps = [spec["verdicts"], *spec.get("per_subscription", {}).values(), spec.get("capture_verdicts", {})]
        for verdicts in maps:
            for rule, verdict in verdicts.items():
                seen[rule].add(verdict)
    return seen


@pytest.mark.parametrize("rule", CATALOGUE, ids=lambda r: r.id)
def test_every_verdict_the_catalogue_lists_is_produced_by_a_reference_capture(rule: Rule) -> None:
    verdicts, _ = catalogue_rows()[rule.id]
    missing = verdicts - corpus_verdicts()[rule.id]
    assert not missing, f"no reference capture where {rule.id} is {sorted(missing)}"


def _plain(text: str) -> str:
    return " ".join(text.split())


def test_every_expectation_cites_the_catalogue_word_for_word() -> None:
    """A non-default expectation (fail, warn, inconclusive) of a crafted capture quotes the sentence it follows."""
    if not SPEC.exists():
        pytest.skip(f"{SPEC} not found beside the project")
    spec_text = _plain(SPEC.read_text())
    checked = 0
    for path in sorted(CAPTURES.glob("*.expected.json")):
        spec = json.loads(path.read_text())
        maps = [spec["verdicts"], *spec.get("per_subscription", {}).values()]
        notable = {f"{r} {v}" for m in maps for r, v in m.items() if v in ("fail", "warn", "inconclusive")}
        assert notable <= set(spec["because"]), f"{path.name}: no citation for {notable - set(spec['because'])}"
        for key, quote in spec["because"].items():
            assert _plain(quote) in spec_text, f"{path.name} {key}: not the catalogue's words: {quote!r}"
            checked += 1
    assert checked >= 40
