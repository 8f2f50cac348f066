"""The rule catalogue: every requirement of the conformance catalogue as one object, in its order.

``CATALOGUE`` is the single list every report iterates; ``evaluate`` judges a trace against all of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.dialogs import Subscription
from analyzer.rules import grant, handset, hygiene, notify, provisioning, server, subscription, termination
from analyzer.rules.base import Context, Options, Rule, RuleError
from analyzer.verdicts import Result

CATALOGUE: tuple[Rule, ...] = (
    *subscription.RULES,
    *grant.RULES,
    *notify.RULES,
    *handset.RULES,
    *server.RULES,
    *termination.RULES,
    *provisioning.RULES,
    *hygiene.RULES,
)

BY_ID: dict[str, Rule] = {r.id: r for r in CATALOGUE}


@dataclass(frozen=True, slots=True)
class Judgement:
    """Verdicts of one trace: a ``Result`` per rule and subscription, plus the capture-scope ones."""

    subscriptions: tuple[tuple[Subscription, tuple[Result, ...]], ...]
    capture: tuple[Result, ...]

    def results(self) -> list[Result]:
        return [r for _, results in self.subscriptions for r in results] + list(self.capture)


def judge_subscription(sub: Subscription, ctx: Context, rules: tuple[Rule, ...] = CATALOGUE) -> tuple[Result, ...]:
    """One subscription's results, a rule at a time."""
    return tuple(r for rule in rules if (r := rule.judge_subscription(sub, ctx)) is not None)


def judge_capture(ctx: Context, rules: tuple[Rule, ...] = CATALOGUE) -> tuple[Result, ...]:
    """The capture-scope results (PRV rules, messages no dialog owns)."""
    return tuple(r for rule in rules if (r := rule.judge_capture(ctx)) is not None)


def evaluate(ctx: Context, rules: tuple[Rule, ...] = CATALOGUE) -> Judgement:
    """Judge every subscription of ``ctx.trace`` and the capture as a whole."""
    subs = sorted(ctx.trace.subscriptions, key=lambda s: s.first_index)
    per_sub = [(sub, judge_subscription(sub, ctx, rules)) for sub in subs]
    return Judgement(tuple(per_sub), judge_capture(ctx, rules))


__all__ = [
    "BY_ID",
    "CATALOGUE",
    "Context",
    "Judgement",
    "Options",
    "Rule",
    "RuleError",
    "evaluate",
    "judge_capture",
    "judge_subscription",
]
