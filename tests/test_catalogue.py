"""The rule objects against CONFORMANCE.md: same IDs, same sources, no verdict the catalogue does not allow."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analyzer.rules import CATALOGUE, Rule
from analyzer.verdicts import Verdict

SPEC = Path(__file__).resolve().parents[2] / "shared" / "CONFORMANCE.md"
_ROW = re.compile(r"^\| (FKS-[A-Z]+-\d+) \| (.+) \| ([a-z_/]+) \| ([A-Z0-9, ]+) \|$")

# The catalogue's general rule ("when the trigger occurs but the capture ends before the expected answer
# could arrive, it is inconclusive"; "when the traffic that triggers a rule never occurs ... not_applicable")
# applies to every rule, whatever its verdict column lists.
GENERAL = {Verdict.INCONCLUSIVE, Verdict.NOT_APPLICABLE}


def catalogue_rows() -> dict[str, tuple[set[str], set[str]]]:
    if not SPEC.exists():
        pytest.skip(f"{SPEC} not found beside the project")
    rows = {}
    for line in SPEC.read_text().splitlines():
        m = _ROW.match(line.strip())
        if m:
            rows[m.group(1)] = (set(m.group(3).split("/")), {s.strip() for s in m.group(4).split(",")})
    return rows


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
    assert rule.title and rule.expectation and rule.idle
