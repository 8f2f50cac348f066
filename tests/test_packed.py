"""Dialogs at rest packed (``Subscription.pack``): the verdicts of a capture do not change when its open
subscriptions are packed and read back, and a packed dialog takes a fraction of the memory."""

from __future__ import annotations

import pytest

from analyzer import judging
from analyzer.dialogs import Engine, Subscription
from analyzer.dialogs.packed import Packer
from analyzer.judging import AuditSettings, horizon
from peers.craft.flows import Flow, dnd_event, merge, one_change_two_dialogs
from tests.test_settle import streamed, whole

HORIZON = horizon(AuditSettings().options)


def resting(user: str, clock: float) -> Flow:
    """A handset that subscribes, is notified, and stays subscribed (for an hour) without traffic."""
    f = Flow(user=user, call_id=f"{user}@x", sub_tag=f"t{user}", clock=clock)
    f.establish()
    return f


@pytest.fixture
def packs(monkeypatch: pytest.MonkeyPatch) -> list[Subscription]:
    """At most two open dialogs kept unpacked; the dialogs packed, in order."""
    monkeypatch.setattr(judging, "UNPACKED", 2)
    packed: list[Subscription] = []
    original = Subscription.pack

    def pack(self: Subscription, packer: Packer) -> None:
        packed.append(self)
        original(self, packer)

    monkeypatch.setattr(Subscription, "pack", pack)
    return packed


def test_packed_dialogs_are_judged_as_if_never_packed(packs: list[Subscription]) -> None:
    flows = [resting(str(1001 + i), 1000.0 + i * HORIZON) for i in range(8)]
    late = flows[0]  # refreshes long after it was packed, and gets a change from the portal
    late.at(8 * HORIZON).subscribe()
    late.respond()
    late.notify([dnd_event(True)])
    late.respond()
    short, long = Flow(call_id="short@x", sub_tag="ts", clock=1001.0), Flow(call_id="long@x", sub_tag="tl")
    one_change_two_dialogs(long, short, 1002.0)  # FKS-HS-4 reads both dialogs of user 1001
    obs = merge(*flows, short, long)
    _, subs, capture = streamed(obs)
    assert (subs, capture) == whole(obs)
    assert len(packs) >= 6, "the dialogs at rest were not packed"
    assert any(sub.call_id == late.call_id for sub in packs), "the late dialog was not packed before its refresh"
    assert [s["call_id"] for s in subs].count(late.call_id) == 1  # the refresh joined the packed dialog


def dialog(user: str = "1001") -> Subscription:
    engine = Engine()
    for obs in merge(resting(user, 1000.0)):
        engine.feed(obs)
    (sub,) = engine.finish().subscriptions
    return sub


def test_a_packed_dialog_reads_back_and_unloads_again_until_it_changes() -> None:
    sub = dialog()
    notifies = len(sub.notifies)
    sub.pack(Packer())
    assert not sub.loaded
    assert len(sub.notifies) == notifies and sub.loaded  # read back when asked for
    sub.release()  # only read: the packed copy stands, the lists go again
    assert not sub.loaded
    sub.filed(sub.last_seen + 1)  # a message joined it: the packed copy is out of date
    assert sub.loaded and sub.packed is None
    sub.unload()
    assert sub.loaded


def test_a_packed_dialog_is_a_fraction_of_its_messages() -> None:
    packer = Packer()
    dialog("1000").pack(packer)  # the first one packed gives the dictionary
    sub = dialog("1001")
    raw = sum(len(m.obs.data) for m in sub.messages())
    sub.pack(packer)
    assert sub.packed is not None
    assert len(sub.packed[1]) * 4 < raw


def test_a_dialog_is_idle_once_its_transactions_left_the_indexes() -> None:
    """Packing copies the transactions: one that could still take a response must not be copied."""
    engine = Engine(HORIZON)
    for obs in merge(resting("1001", 1000.0)):
        engine.feed(obs)
    (sub,) = engine.trace.subscriptions
    assert not engine.idle(sub)  # its NOTIFY could still get a late 200
    for obs in merge(resting("1002", 1000.0 + 2 * HORIZON)):  # traffic a horizon later: the indexes let go
        engine.feed(obs)
    assert engine.idle(sub)
