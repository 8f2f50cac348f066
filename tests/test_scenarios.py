"""The Gherkin of ``features/`` against the catalogue and the kit: nothing documented goes untested.

Every rule ID of CONFORMANCE.md tags at least one scenario; every deviation profile of the AS emulator is
caught in ``deviations.feature`` by the rule its profile names; every reference capture is judged in
``offline_audit.feature``. Tags and examples are read with pytest-bdd's own Gherkin parser.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pytest_bdd.parser import FeatureParser

from analyzer.rules import CATALOGUE
from peers.sansio.profiles import PROFILES

ROOT = Path(__file__).resolve().parents[1]
FEATURES = sorted((ROOT / "features").glob("*.feature"))
CONFORMANCE = ROOT.parent / "shared" / "CONFORMANCE.md"


def parsed():
    return [FeatureParser(str(ROOT / "features"), path.name).parse() for path in FEATURES]


def scenario_tags() -> dict[str, set[str]]:
    """Scenario name -> its tags (its own, its Rule's, its feature's and its Examples')."""
    out: dict[str, set[str]] = {}
    for feature in parsed():
        for name, template in feature.scenarios.items():
            tags = set(template.tags) | set(feature.tags)
            if template.rule is not None:
                tags |= set(template.rule.tags)
            for examples in template.examples:
                tags |= set(examples.tags)
            out[f"{feature.name}: {name}"] = tags
    return out


def test_every_catalogue_rule_has_a_scenario() -> None:
    if not CONFORMANCE.exists():
        pytest.skip("../shared/CONFORMANCE.md is not here")
    ids = set(re.findall(r"^\| (FKS-[A-Z]+-\d+) \|", CONFORMANCE.read_text(), re.M))
    assert ids == {r.id for r in CATALOGUE}
    tagged = set().union(*scenario_tags().values())
    assert not ids - tagged, f"rules without a scenario: {sorted(ids - tagged)}"


def test_tags_name_only_known_rules() -> None:
    known = {r.id for r in CATALOGUE}
    for name, tags in scenario_tags().items():
        unknown = {t for t in tags if t.startswith("FKS-")} - known
        assert not unknown, f"{name}: unknown rule tags {unknown}"


def _examples(feature_file: str, column: str) -> list[dict[str, str]]:
    rows = []
    for feature in parsed():
        if Path(feature.filename).name != feature_file:
            continue
        for template in feature.scenarios.values():
            for examples in template.examples:
                if column in examples.example_params:
                    rows += [dict(zip(examples.example_params, r, strict=True)) for r in examples.examples]
    return rows


def test_every_deviation_profile_is_caught_by_the_rule_it_names() -> None:
    caught = {(r["profile"], r["rule"], r["verdict"]) for r in _examples("deviations.feature", "rule")}
    for profile in PROFILES.values():
        for rule, verdict in profile.catches:
            assert (profile.name, rule, verdict) in caught, f"{profile.name}: no scenario expects {rule} {verdict}"


def test_every_reference_capture_is_audited_by_a_scenario() -> None:
    listed = {r["capture"].strip() for r in _examples("offline_audit.feature", "capture")}
    present = {p.name.removesuffix(".expected.json") for p in (ROOT / "captures").glob("*.expected.json")}
    assert present == listed, f"missing: {sorted(present - listed)}; unknown: {sorted(listed - present)}"
