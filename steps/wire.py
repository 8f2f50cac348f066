"""Steps of the packet-level scenarios (``features/wire.feature``): how our AS's datagrams leave as crafted
packets (``peers.craft.packets.WirePlan``), and what the wire log and the capture show of them."""

from __future__ import annotations

import contextlib
import dataclasses

from pytest_bdd import given, parsers, then, when
from scapy.layers.inet import IP

from analyzer.audit import verdicts_of
from analyzer.report.evidence import from_log
from analyzer.rules import BY_ID
from peers.craft.packets import WirePlan
from peers.io.rawudp import Shipped
from peers.targets.lab import LabError
from peers.targets.outcomes import check
from peers.targets.scenario import Scenario
from peers.targets.window import grants_without_notify
from steps.verdicts import VERDICT, verdict_mismatch

INITIAL = "initial NOTIFY"


@given(parsers.parse("T_notify is {seconds:g} seconds"))
def t_notify(world: Scenario, seconds: float) -> None:
    """The scenario's T_notify (the catalogue's timers are configurable): a short one keeps absences quick."""
    world.notify_timeout = seconds


@given(parsers.re(r"the initial NOTIFY leaves in IP fragments of (?P<mtu>\d+) bytes, (?P<order>.+)$"))
def fragments(world: Scenario, mtu: str, order: str) -> None:
    world.shape_wire(message=INITIAL, mtu=int(mtu), order=order)


@given(parsers.re(r"fragment (?P<number>\d+) of the initial NOTIFY is lost in (?:the )?(?P<copies>first|every) copy$"))
def fragment_lost(world: Scenario, number: str, copies: str) -> None:
    world.shape_wire(message=INITIAL, lose=int(number), lose_in=copies)


@given(parsers.re(r"the initial NOTIFY leaves with a wrong UDP checksum in (?:the )?(?P<copies>first|every) copy$"))
def bad_checksum(world: Scenario, copies: str) -> None:
    world.shape_wire(message=INITIAL, bad_checksum=copies)


@given(parsers.parse("the initial NOTIFY leaves with TTL {ttl:d} on a path of {hops:d} routers"))
def ttl_on_path(world: Scenario, ttl: int, hops: int) -> None:
    world.shape_wire(message=INITIAL, ttl=ttl, hops=hops)


@when("the window for the NOTIFY passes")
def window_passes(world: Scenario) -> None:
    """T_notify passes as ``When T_notify passes`` lets it (its absence is then a fail, not inconclusive), and
    the time is marked in both records by whichever end we play: against a real base, by our AS's OPTIONS."""
    with contextlib.suppress(LabError):
        world.lab.wait("a NOTIFY after every grant", lambda: grants_without_notify(world.lab.observations) == 0,
                       world.t_notify + 0.1)  # fmt: skip
    world.lab.mark_time()


def _copies(world: Scenario) -> list[Shipped]:
    plan = world.wire or WirePlan()
    return [s for s in world.lab.shipments if plan.selects(s.data)]


def _shown(copies: list[Shipped]) -> str:
    return "; ".join(s.shipment.note() for s in copies) or "no copy sent"


@then(parsers.parse("the initial NOTIFY crossed the wire in IP fragments of at most {mtu:d} bytes"))
def crossed_in_fragments(world: Scenario, mtu: int) -> None:
    """The wire log says so, and the capture holds the fragments (the kernel reassembled them for the base)."""
    copies = _copies(world)
    assert copies and all(s.shipment.fragments > 1 for s in copies), _shown(copies)
    sent = [IP(p) for s in copies for p in s.shipment.packets]
    assert all(len(p) <= mtu for p in sent), [len(p) for p in sent]
    recorder = world.lab.recorder
    assert recorder is not None, "no capture: crafting packets needs the same privilege as capturing them"
    captured = recorder.fragments({p[IP].id for p in sent}, len(sent))
    assert len(captured) >= len(sent) and all(len(p["IP"]) <= mtu for p in captured), (len(captured), len(sent))


@then("the first copy of the initial NOTIFY left incomplete and a retransmission left whole")
def first_copy_incomplete(world: Scenario) -> None:
    copies = _copies(world)
    ok = len(copies) >= 2 and not copies[0].shipment.whole and any(s.shipment.whole for s in copies[1:])
    assert ok, _shown(copies)


@then("every copy of the initial NOTIFY left incomplete")
def every_copy_incomplete(world: Scenario) -> None:
    """Timer E retransmitted it until Timer F, and no copy could be reassembled (or got through the path)."""
    copies = _copies(world)
    assert len(copies) >= 2 and not any(s.shipment.whole for s in copies), _shown(copies)


@then(parsers.re(rf'on what the AS sent, (?P<rule>FKS-[A-Z]+-\d+) is {VERDICT}(?: with "(?P<text>[^"]*)")?$'))
def as_view_verdict(world: Scenario, rule: str, verdict: str, text: str | None) -> None:
    """The AS's own view (``Lab.attempts``: the copies that never left whole too), judged with T_final = our
    AS's Timer F (64*T1): the catalogue's timers are configurable, and that is when our AS gives up."""
    settings = world.settings()
    options = dataclasses.replace(settings.options, final_timeout=64 * world.lab.config.t1)
    judged = from_log(world.lab.attempts(), dataclasses.replace(settings, options=options)).log
    mismatch = verdict_mismatch(judged, rule, verdict, text)
    fired = "; ".join(f"{v['rule']} {v['verdict']}" for v in verdicts_of(judged) if v["rule"] == rule)
    check(world.target, BY_ID[rule].judges, mismatch is None, f"{mismatch} [{fired}] wire: {_shown(_copies(world))}")
