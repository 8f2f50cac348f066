"""Judging as the capture goes (``judge_stream``): the verdicts of a whole-capture judgement, with dialogs
settled and forgotten on the way, so a site's capture is audited in memory that follows its open dialogs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from analyzer.audit import audit_file, judgement_json, subscription_json
from analyzer.dialogs import Engine, Subscription
from analyzer.judging import AuditSettings, horizon, judge, judge_stream
from analyzer.observation import Observation
from analyzer.sources import FieldsReader
from analyzer.verdicts import Result, Verdict
from peers.craft.flows import Flow, dnd_event, merge, one_change_two_dialogs
from peers.craft.synth import SynthOptions, synthesize

SETTINGS = AuditSettings()
HORIZON = horizon(SETTINGS.options)


def streamed(observations: list[Observation]) -> tuple[list[tuple[int, Subscription]], list[dict], list[dict]]:
    """Judge as a stream: (messages fed when each dialog was judged, the dialog), its JSON, the capture's."""
    fed = 0
    order: list[tuple[int, Subscription]] = []
    entries: list[tuple[int, dict]] = []

    def counting() -> Iterator[Observation]:
        nonlocal fed
        for obs in observations:
            fed += 1
            yield obs

    def keep(sub: Subscription, results: tuple[Result, ...]) -> None:
        order.append((fed, sub))
        entries.append((sub.first_index, subscription_json(sub, results)))

    capture, _ = judge_stream(counting(), SETTINGS, keep)
    return order, [e for _, e in sorted(entries, key=lambda e: e[0])], [r.to_json() for r in capture]


def whole(observations: list[Observation]) -> tuple[list[dict], list[dict]]:
    judgement, _ = judge(observations, SETTINGS)
    return judgement_json(judgement)


def user_flow(user: str, clock: float, lifetime: float) -> Flow:
    """A handset that subscribes, is notified, and unsubscribes ``lifetime`` seconds later."""
    f = Flow(user=user, call_id=f"{user}-{clock}@x", sub_tag=f"t{user}", clock=clock)
    f.establish()
    f.at(lifetime).subscribe(expires=0)
    f.respond(expires=0)
    f.notify([dnd_event(False)], state="terminated;reason=noresource")
    f.respond()
    return f


def test_dialogs_over_for_a_horizon_are_judged_before_the_capture_ends() -> None:
    flows = [user_flow(str(1001 + i), 1000.0 + i * 3 * HORIZON, 10) for i in range(4)]
    obs = merge(*flows)
    order, subs, capture = streamed(obs)
    assert all(fed < len(obs) for fed, _ in order[:3]), "the first dialogs waited for the end"
    assert (subs, capture) == whole(obs)


def test_a_dialog_waits_while_another_of_its_user_overlaps_it() -> None:
    """FKS-HS-4 compares the dialogs of one user: the short one may not be forgotten while the long one
    that overlapped it runs on, or the long one's change would be judged without it."""
    short, long = Flow(call_id="short@x", sub_tag="ts"), Flow(call_id="long@x", sub_tag="tl", clock=1000.5)
    one_change_two_dialogs(long, short, 1002.0)
    short.at(5).subscribe(expires=0)
    short.respond(expires=0)
    for _ in range(3):  # the long dialog refreshes well past the horizon
        long.at(4 * HORIZON).subscribe()
        long.respond()
    other = user_flow("2002", long.clock + 10 * HORIZON, 1)  # traffic that lets time pass
    obs = merge(short, long, other)
    order, subs, capture = streamed(obs)
    assert (subs, capture) == whole(obs)
    when = {sub.call_id: fed for fed, sub in order}
    assert when["short@x"] >= when["long@x"]
    hs4 = [v for s in subs if s["call_id"] == "long@x" for v in s["verdicts"] if v["rule"] == "FKS-HS-4"]
    assert hs4[0]["verdict"] == Verdict.PASS.value


def test_the_engine_forgets_old_transactions_and_settled_dialogs() -> None:
    flows = [user_flow(str(1001 + i), 1000.0 + i * 3 * HORIZON, 10) for i in range(20)]
    engine = Engine(HORIZON)
    settled = 0
    most = 0
    for obs in merge(*flows):
        engine.feed(obs)
        if engine.due(obs.time):
            settled += len(engine.settle(obs.time))
        most = max(most, len(engine.trace.subscriptions))
    assert settled >= 18 and most <= 3
    assert len(engine.trace.subscribes) == 20  # what the PRV rules need of every dialog stays


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("settle") / "site.pcap"
    synthesize(path, SynthOptions(subscriptions=120, seed=5, duration=1800.0))
    return path


def test_a_synthesized_site_gets_the_verdicts_of_a_whole_capture_judgement(synthetic: Path) -> None:
    streamed_audit = audit_file(synthetic, SETTINGS)
    subs, capture = judgement_json(judge(FieldsReader(synthetic), SETTINGS)[0])
    assert len(subs) == 120
    assert streamed_audit["subscriptions"] == subs and streamed_audit["verdicts"] == capture
