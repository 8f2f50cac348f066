"""Every ``@FKS-...`` tag of a scenario is judged by a Then step of that scenario.

A tag says which rule a scenario covers (the report files it there); a scenario that never judges the rule
would count as coverage it does not give. The .feature files are read with the Gherkin parser pytest-bdd uses;
a Scenario Outline is checked per Examples block, whose rows together must judge the block's tags.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pytest_bdd.parser import FeatureParser, ScenarioTemplate

ROOT = Path(__file__).resolve().parents[1]
FEATURES = sorted((ROOT / "features").glob("*.feature"))
RULE_TAG = re.compile(r"FKS-[A-Z]+-\d+")
VERDICT = r"(?:pass|warn|fail|inconclusive|not_applicable)"
# The Then steps that judge a rule (steps/verdicts.py, steps/audits.py, steps/robustness.py, steps/wire.py)
JUDGES = [
    re.compile(rf"^(?P<rule>FKS-[A-Z]+-\d+) is {VERDICT}\b"),  # ... is pass [with "..."] [at frame N]
    re.compile(rf"^on what the AS sent, (?P<rule>FKS-[A-Z]+-\d+) is {VERDICT}\b"),
    re.compile(rf"^the audit gives (?P<rule>FKS-[A-Z]+-\d+) {VERDICT}$"),
]


def judged(steps: list[str]) -> set[str]:
    return {m["rule"] for text in steps for p in JUDGES if (m := p.match(text))}


def cases(path: Path) -> list[tuple[str, set[str], set[str]]]:
    """(where, rule tags, rules its Then steps judge) for each scenario or Examples block of a feature file."""
    feature = FeatureParser(str(path.parent), path.name).parse()
    out = []
    for template in feature.scenarios.values():
        tags = set(feature.tags) | set(template.tags) | (set(template.rule.tags) if template.rule else set())
        blocks = [(e.tags, list(e.as_contexts())) for e in template.examples] or [(set(), [{}])]
        for extra, contexts in blocks:
            rules = judged([s.name for ctx in contexts for s in _then(template, ctx)])
            where = f"{path.name}:{template.line_number} {template.name}"
            out.append((where, {t for t in tags | set(extra) if RULE_TAG.fullmatch(t)}, rules))
    return out


def _then(template: ScenarioTemplate, context: dict[str, str]) -> list:
    return [s for s in template.render(context).steps if s.type == "then"]


def test_the_features_are_found() -> None:
    assert len(FEATURES) >= 10


@pytest.mark.parametrize("path", FEATURES, ids=[p.stem for p in FEATURES])
def test_every_rule_tag_has_a_then_step_judging_it(path: Path) -> None:
    missing = [(where, sorted(tags - rules)) for where, tags, rules in cases(path) if tags - rules]
    assert not missing, missing


def test_the_check_sees_a_tag_without_its_then_step(tmp_path: Path) -> None:
    """The check itself can fail: a tagged scenario whose Then steps judge another rule."""
    bad = tmp_path / "bad.feature"
    bad.write_text(
        "Feature: x\n\n  @FKS-HS-4\n  Scenario: y\n    When handset 1001 subscribes\n    Then FKS-AS-1 is pass\n"
    )
    assert [(tags, rules) for _, tags, rules in cases(bad)] == [({"FKS-HS-4"}, {"FKS-AS-1"})]
