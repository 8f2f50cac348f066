"""Then steps: the verdicts of the catalogue on what the scenario exchanged, and what the handset shows."""

from __future__ import annotations

from typing import Any

from pytest_bdd import parsers, then

from analyzer.audit import verdicts_of, worst_by_rule
from analyzer.evidence import from_log
from analyzer.verdicts import Verdict
from peers.targets import Scenario

VERDICT = r"(?P<verdict>pass|warn|fail|inconclusive|not_applicable)"


def _judged(world: Scenario) -> dict[str, Any]:
    return from_log(world.observations(), world.settings()).log


def assert_verdict(
    audit: dict[str, Any], rule: str, verdict: str, text: str | None = None, frame: int | None = None
) -> None:
    """The rule's worst verdict, with its evidence in the message when it is not the one expected."""
    got = worst_by_rule(audit)[rule]
    fired = [v for s in audit["subscriptions"] for v in s["verdicts"]] + audit["verdicts"]
    mine = [v for v in fired if v["rule"] == rule]
    why = "; ".join(f"{v['verdict']}: {v['detail']} {v['frames']}" for v in mine) or "rule did not fire"
    assert got == verdict, f"{rule}: expected {verdict}, observed {got} ({why})"
    worst = [v for v in mine if v["verdict"] == verdict]
    if text is not None:
        assert any(text in v["detail"] for v in worst), f"{rule} {verdict}: no detail mentions {text!r} ({why})"
    if frame is not None:
        assert any(frame in v["frames"] for v in worst), f"{rule} {verdict}: frame {frame} not named ({why})"


@then(parsers.re(rf'(?P<rule>FKS-[A-Z]+-\d+) is {VERDICT}(?: with "(?P<text>[^"]*)")?$'))
def rule_verdict(world: Scenario, rule: str, verdict: str, text: str | None) -> None:
    assert_verdict(_judged(world), rule, verdict, text)


@then("no rule fails")
def no_rule_fails(world: Scenario) -> None:
    audit = _judged(world)
    failed = [v for v in verdicts_of(audit) if v["verdict"] == Verdict.FAIL.value]
    assert not failed, "failing rules: " + "; ".join(f"{v['rule']} {v['detail']} {v['frames']}" for v in failed)


@then(parsers.parse("handset {user} shows:"))
def handset_shows(world: Scenario, user: str, datatable: list[list[str]]) -> None:
    view = world.lab.handset(user).view
    head, *rows = datatable
    for row in (dict(zip(head, r, strict=True)) for r in rows):
        feature, on = row["feature"], row["state"] == "on"
        if feature == "DND":
            assert view.dnd is on, f"handset {user} shows DND {'on' if view.dnd else 'off'}"
            continue
        fwd = view.forwards[feature]
        shown = f"{feature} {'on' if fwd.active else 'off'} -> {fwd.target!r} after {fwd.rings} rings"
        assert fwd.active is on, f"handset {user} shows {shown}"
        if on and row.get("target"):
            assert fwd.target == row["target"], f"handset {user} shows {shown}"
        if on and row.get("rings", "").strip() not in ("", "0"):
            assert fwd.rings == int(row["rings"]), f"handset {user} shows {shown}"


@then(parsers.parse("handset {user} is told the subscription is terminated"))
def told_terminated(world: Scenario, user: str) -> None:
    assert world.lab.handset(user).terminated, f"handset {user} got no terminated NOTIFY"


@then(parsers.parse("handset {user} subscribed to the AS"))
def did_subscribe(world: Scenario, user: str) -> None:
    assert world.subscribed(user), f"handset {user} sent no as-feature-event SUBSCRIBE"


@then(parsers.parse("handset {user} did not subscribe"))
def did_not_subscribe(world: Scenario, user: str) -> None:
    assert not world.subscribed(user), f"handset {user} subscribed although it should not"
