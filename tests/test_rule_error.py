"""A rule that gives a verdict outside its own list is a bug of the rule: it raises ``RuleError``, a runtime
error, so a test report shows the check as broken, not as a failed assertion about the traffic."""

from __future__ import annotations

import dataclasses

import pytest

from analyzer.dialogs import Trace
from analyzer.rules import BY_ID, RuleError
from analyzer.rules.base import Context, Finding
from analyzer.verdicts import Verdict


def test_a_verdict_outside_the_rules_list_is_a_rule_error_not_an_assertion() -> None:
    rule = BY_ID["FKS-PRV-1"]
    assert Verdict.WARN not in rule.verdicts  # the catalogue lists pass and fail for FKS-PRV-1
    broken = dataclasses.replace(rule, capture_check=lambda ctx: [Finding(Verdict.WARN, "made up")])
    with pytest.raises(RuleError, match="FKS-PRV-1 produced warn") as caught:
        broken.judge_capture(Context(Trace()))
    assert isinstance(caught.value, RuntimeError) and not isinstance(caught.value, AssertionError)


def test_a_verdict_of_the_rules_list_is_judged() -> None:
    rule = BY_ID["FKS-PRV-1"]
    fine = dataclasses.replace(rule, capture_check=lambda ctx: [Finding(Verdict.FAIL, "as listed", (3,))])
    result = fine.judge_capture(Context(Trace()))
    assert result is not None and (result.verdict, result.frames) == (Verdict.FAIL, (3,))
