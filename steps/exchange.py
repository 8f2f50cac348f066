"""Given/When steps of the live exchange: configure the emulators, then act as the handset, portal or AS."""

from __future__ import annotations

import dataclasses

from pytest_bdd import given, parsers, when

from peers.craft.hostile import hostile_change
from peers.sansio.features import FORWARDING, change_request
from peers.targets.scenario import Scenario
from steps.words import WORDS, on_off, rings


# -- Given: the configuration of the exchange ------------------------------------------------------------------
@given(parsers.parse("handset {user} with feature key synchronization"))
def handset_with_fks(world: Scenario, user: str) -> None:
    world.add_handset(user)


@given(parsers.parse("handset {label} is a second handset of user {user}"))
def second_handset(world: Scenario, label: str, user: str) -> None:
    world.add_handset(label, user)


@given(parsers.parse("handset {user} subscribed"))
def subscribed(world: Scenario, user: str) -> None:
    world.lab.subscribe(user)


@given(parsers.parse('the AS emulator plays the "{profile}" profile'))
def plays_profile(world: Scenario, profile: str) -> None:
    world.play_profile(profile)


@given(parsers.parse("the AS challenges with digest {algorithms}"))
def challenges(world: Scenario, algorithms: str) -> None:
    world.challenge(tuple(a.strip() for a in algorithms.split(",")))


@given(parsers.parse("the AS grants at most {seconds:d} seconds"))
def grants_at_most(world: Scenario, seconds: int) -> None:
    world.cap_expires(seconds)


@given(parsers.parse("the transport is {transport}"))
def transport(world: Scenario, transport: str) -> None:
    world.use_transport(transport)


@given(parsers.parse("the AS refuses handset changes with {status:d}"))
def refuses(world: Scenario, status: int) -> None:
    world.set_policy("refuse handset changes", lambda user, doc: status)


@given(parsers.parse("the AS forwards to {target} whatever the handset asks"))
def overrides(world: Scenario, target: str) -> None:
    world.set_policy("override handset changes", lambda user, doc: dataclasses.replace(doc, target=target))


@given(parsers.parse("user {user} has this feature state:"))
def feature_state(world: Scenario, user: str, datatable: list[list[str]]) -> None:
    for row in _rows(datatable):
        world.set_state(user, row["feature"], on_off(row["state"]), row.get("target", ""), rings(row.get("rings", "")))


def _rows(datatable: list[list[str]]) -> list[dict[str, str]]:
    head, *rows = datatable
    return [dict(zip(head, row, strict=True)) for row in rows]


# -- When: the handset ----------------------------------------------------------------------------------------
@when(parsers.parse("handset {user} subscribes"))
def subscribes(world: Scenario, user: str) -> None:
    world.act(f"SUBSCRIBE by {user}", lambda lab: lab.subscribe(user), method="SUBSCRIBE", user=user)


@when(parsers.parse("handset {user} refreshes its subscription"))
def refreshes(world: Scenario, user: str) -> None:
    world.refresh(user)


@when(parsers.parse("handset {user} switches DND {state:OnOff}", extra_types=WORDS))
def switches_dnd(world: Scenario, user: str, state: bool) -> None:
    world.act(
        f"DND change by {user}",
        lambda lab: lab.set_dnd(user, state),
        method="SUBSCRIBE",
        user=user,
        body=b"SetDoNotDisturb",
    )


@when(
    parsers.re(
        r"handset (?P<user>\S+) switches (?P<feature>CFA|CFB|CFNA) on to (?P<target>\S+) after (?P<count>\d+) rings$"
    ),
    converters={"count": rings},
)
def switches_forward_on(world: Scenario, user: str, feature: str, target: str, count: int | None) -> None:
    world.act(
        f"{feature} change by {user}",
        lambda lab: lab.set_forward(user, feature, True, target, count),
        method="SUBSCRIBE",
        user=user,
        body=FORWARDING[feature].encode(),
    )


@when(parsers.re(r"handset (?P<user>\S+) switches (?P<feature>CFA|CFB|CFNA) off$"))
def switches_forward_off(world: Scenario, user: str, feature: str) -> None:
    world.act(
        f"{feature} change by {user}",
        lambda lab: lab.set_forward(user, feature, False),
        method="SUBSCRIBE",
        user=user,
        body=FORWARDING[feature].encode(),
    )


@when(parsers.parse("handset {user} dials {code}"))
def dials(world: Scenario, user: str, code: str) -> None:
    world.act(f"call from {user} to {code}", lambda lab: lab.dial(user, code), method="INVITE", user=user)


@when(parsers.parse("handset {user} unsubscribes"))
def unsubscribes(world: Scenario, user: str) -> None:
    world.act(f"unsubscribe by {user}", lambda lab: lab.unsubscribe(user), method="SUBSCRIBE", user=user, expires=False)


@when(parsers.parse("handset {user} fetches the state once"))
def fetches(world: Scenario, user: str) -> None:
    world.act(f"fetch by {user}", lambda lab: lab.unsubscribe(user), method="SUBSCRIBE", user=user, expires=False)


@when(parsers.parse('handset {user} sends the change request "{kind}"'))
def sends_hostile(world: Scenario, user: str, kind: str) -> None:
    world.lab.send_change(user, hostile_change(kind, user))


@when(parsers.parse("the subscription of handset {user} expires"))
def expires(world: Scenario, user: str) -> None:
    world.lab.expire(user)


@when("T_notify passes")
def t_notify_passes(world: Scenario) -> None:
    """A missing NOTIFY is a fail only once its window has passed: wait for the owed NOTIFYs, at most T_notify
    (``peers.targets.window``), then the base's OPTIONS ping marks the time in both records."""
    world.let_window_pass()


@when("garbage reaches the AS")
def garbage(world: Scenario) -> None:
    world.send_garbage([b"\x00\xff" * 100, b"NOTIFY\r\n\r\n", b"SIP/2.0 200\r\n", b"x" * 60000])


# -- When: the portal ----------------------------------------------------------------------------------------
@when(
    parsers.re(
        r"the portal switches (?P<feature>DND|CFA|CFB|CFNA) (?P<state>on|off) for user (?P<user>\S+) "
        r'to "(?P<target>[^"]*)" after "(?P<count>[^"]*)" rings$'
    ),
    converters={"state": on_off, "count": rings},
)
def portal_switches(world: Scenario, feature: str, state: bool, user: str, target: str, count: int | None) -> None:
    doc = change_request(feature, state, user, target, count)
    world.act(f"portal change of {user}", lambda lab: lab.portal_change(user, doc), method="NOTIFY", user=user)


# -- Provisioning: the base reads its file and starts ----------------------------------------------------------
@given(parsers.parse("a {model} base provisioned with:"))
def provisioned(world: Scenario, model: str, datatable: list[list[str]]) -> None:
    rows = _rows(datatable)
    world.pending_provisioning = (model, [(r["account"], r["user"], r["FeatureKeySyncActive"]) for r in rows])


@given(parsers.parse("internal telephony is {state:OnOff}", extra_types=WORDS))
def internal_telephony(world: Scenario, state: bool) -> None:
    world.internal_telephony = state


@when("the base starts")
def base_starts(world: Scenario) -> None:
    model, accounts = world.pending_provisioning
    world.provision([(a, u, None if v == "absent" else v) for a, u, v in accounts], model, world.internal_telephony)
    world.lab.boot()
