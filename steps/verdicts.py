"""Then steps: the verdicts of the catalogue on what the scenario exchanged, and what the handset shows."""

from __future__ import annotations

from typing import Any

from pytest_bdd import parsers, then

from analyzer.audit import verdicts_of, worst_by_rule
from analyzer.report.evidence import from_log
from analyzer.rules import BY_ID
from analyzer.rules.base import PHONE, SERVER
from analyzer.verdicts import Verdict
from peers.targets.outcomes import check, emulated
from peers.targets.records import (
    digest_algorithms,
    multipart_mismatch,
    one_subscription,
    state_answering_last_subscribe,
)
from peers.targets.scenario import Scenario

VERDICT = r"(?P<verdict>pass|warn|fail|inconclusive|not_applicable)"


def _judged(world: Scenario) -> dict[str, Any]:
    return from_log(world.observations(), world.settings()).log


def verdict_mismatch(
    audit: dict[str, Any], rule: str, verdict: str, text: str | None = None, frame: int | None = None
) -> str | None:
    """How the rule's worst verdict differs from the expected one, with its evidence; None when it does not."""
    got = worst_by_rule(audit)[rule]
    fired = verdicts_of(audit)
    mine = [v for v in fired if v["rule"] == rule]
    why = "; ".join(f"{v['verdict']}: {v['detail']} {v['frames']}" for v in mine) or "rule did not fire"
    if got != verdict:
        return f"{rule}: expected {verdict}, observed {got} ({why})"
    worst = [v for v in mine if v["verdict"] == verdict]
    if text is not None and not any(text in v["detail"] for v in worst):
        return f"{rule} {verdict}: no detail mentions {text!r} ({why})"
    if frame is not None and not any(frame in v["frames"] for v in worst):
        return f"{rule} {verdict}: frame {frame} not named ({why})"
    return None


def assert_verdict(
    audit: dict[str, Any], rule: str, verdict: str, text: str | None = None, frame: int | None = None
) -> None:
    """The kit's own expectation of a verdict (a pinned capture): a mismatch is an error of the kit."""
    mismatch = verdict_mismatch(audit, rule, verdict, text, frame)
    assert mismatch is None, mismatch


@then(parsers.re(rf'(?P<rule>FKS-[A-Z]+-\d+) is {VERDICT}(?: with "(?P<text>[^"]*)")?$'))
def rule_verdict(world: Scenario, rule: str, verdict: str, text: str | None) -> None:
    """A verdict about the product under test; about our own emulator, when it plays the party the rule
    judges (the base on target as, the AS on target base), a mismatch is our error, never the product's."""
    mismatch = verdict_mismatch(_judged(world), rule, verdict, text)
    check(world.target, BY_ID[rule].judges, mismatch is None, mismatch or "")


@then("the AS sent the initial state in one multipart NOTIFY")
def multipart_initial_state(world: Scenario) -> None:
    """BroadWorks' documented form (an AS under test that uses the other allowed form skips, with why)."""
    mismatch = multipart_mismatch(world.observations(), world.emulates_as)
    check(world.target, SERVER, mismatch is None, mismatch or "")


@then("no rule fails")
def no_rule_fails(world: Scenario) -> None:
    audit = _judged(world)
    failed = [v for v in verdicts_of(audit) if v["verdict"] == Verdict.FAIL.value]
    theirs = [v for v in failed if not emulated(world.target, BY_ID[v["rule"]].judges)]
    ours = [v for v in failed if emulated(world.target, BY_ID[v["rule"]].judges)]
    for group in (theirs, ours):  # the product's failures first: they are what the run is for
        if group:
            text = "failing rules: " + "; ".join(f"{v['rule']} {v['detail']} {v['frames']}" for v in group)
            check(world.target, BY_ID[group[0]["rule"]].judges, False, text)


@then(parsers.parse("handset {user} shows:"))
def handset_shows(world: Scenario, user: str, datatable: list[list[str]]) -> None:
    """What the AS reported reached the handset. Against a real AS this needs the user's baseline state to be
    known (set through the portal before the scenario); the handset's own display of a real base is not
    observable, so that target skips."""
    world.needs_known_state(user)
    view = world.lab.handset(user).screen.view
    head, *rows = datatable
    for row in (dict(zip(head, r, strict=True)) for r in rows):
        feature, on = row["feature"], row["state"] == "on"
        if feature == "DND":
            check(world.target, SERVER, view.dnd is on, f"handset {user} shows DND {'on' if view.dnd else 'off'}")
            continue
        fwd = view.forwards[feature]
        shown = f"{feature} {'on' if fwd.active else 'off'} -> {fwd.target!r} after {fwd.rings} rings"
        ok = fwd.active is on
        if on and row.get("target"):
            ok = ok and fwd.target == row["target"]
        if on and row.get("rings", "").strip() not in ("", "0"):
            ok = ok and fwd.rings == int(row["rings"])
        check(world.target, SERVER, ok, f"handset {user} shows {shown}, expected {feature} {row['state']}")


@then(parsers.parse("handset {user} is told the subscription is terminated"))
def told_terminated(world: Scenario, user: str) -> None:
    check(world.target, SERVER, world.lab.handset(user).dialog.terminated, f"handset {user} got no terminated NOTIFY")


@then(parsers.parse("handset {user} subscribed to the AS"))
def did_subscribe(world: Scenario, user: str) -> None:
    check(world.target, PHONE, world.subscribed(user), f"handset {user} sent no as-feature-event SUBSCRIBE")


@then(parsers.parse("handset {user} did not subscribe"))
def did_not_subscribe(world: Scenario, user: str) -> None:
    check(world.target, PHONE, not world.subscribed(user), f"handset {user} subscribed although it should not")


@then(parsers.parse("the digest algorithm used is {algorithm}"))
def digest_used(world: Scenario, algorithm: str) -> None:
    """The base answered the challenge with this algorithm (RFC 8760: the first offered that it supports)."""
    used = digest_algorithms(world.observations())
    ok = bool(used) and all(a == algorithm.upper() for a in used)
    check(world.target, PHONE, ok, f"the SUBSCRIBE credentials use {', '.join(used) or 'no digest'}, not {algorithm}")


@then(parsers.parse("the NOTIFY answering handset {user}'s last SUBSCRIBE reports:"))
def subscribe_answered_with(world: Scenario, user: str, datatable: list[list[str]]) -> None:
    """The state carried by the NOTIFYs of the dialog of the handset's last SUBSCRIBE (a refresh, a fetch),
    sent after its grant: every feature of the table reported, as the table has it."""
    world.needs_known_state(user)
    hs = world.handsets.get(user)
    state, reported = state_answering_last_subscribe(world.observations(), hs.user if hs else user)
    head, *rows = datatable
    for row in (dict(zip(head, r, strict=True)) for r in rows):
        feature, on = row["feature"], row["state"] == "on"
        if feature not in reported:
            check(world.target, SERVER, False, f"no NOTIFY answering {user}'s last SUBSCRIBE reports {feature}")
        if feature == "DND":
            check(world.target, SERVER, state.dnd is on, f"the NOTIFY reports DND {'on' if state.dnd else 'off'}")
            continue
        fwd = state.forwards[feature]
        ok = fwd.active is on
        if on and row.get("target"):
            ok = ok and fwd.target == row["target"]
        if on and row.get("rings", "").strip() not in ("", "0"):
            ok = ok and fwd.rings == int(row["rings"])
        shown = f"{feature} {'on' if fwd.active else 'off'} -> {fwd.target!r} after {fwd.rings} rings"
        check(world.target, SERVER, ok, f"the NOTIFY reports {shown}, expected {feature} {row['state']}")


@then(parsers.parse("the record holds one subscription of user {user}"))
def one_subscription_of(world: Scenario, user: str) -> None:
    one_subscription(world.judge(), user, world.target, world.emulates_base)
