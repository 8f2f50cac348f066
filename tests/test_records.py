"""Facts a scenario reads off its record (``peers.targets.records``): here, the premise of a scenario about a
single subscription, which a real base can break with a subscription left from before the scenario."""

from __future__ import annotations

import pytest

from analyzer.judging import AuditSettings, judge
from peers.craft.flows import Flow, merge, one_change_two_dialogs
from peers.targets.lab import Unsupported
from peers.targets.outcomes import OwnSide, ProductDefect
from peers.targets.records import one_subscription


def judged(two: bool):
    a, b = Flow(call_id="a@x", sub_tag="ta"), Flow(call_id="b@x", sub_tag="tb", clock=1000.5)
    if two:
        one_change_two_dialogs(a, b, 1002.0)
        return judge(merge(a, b), AuditSettings())[0]
    a.establish()
    return judge(merge(a), AuditSettings())[0]


def test_one_subscription_is_the_premise_met() -> None:
    one_subscription(judged(two=False), "1001", "base", base_is_ours=False)
    one_subscription(judged(two=True), "1002", "base", base_is_ours=False)  # another user's count is its own


def test_a_second_one_skips_on_a_real_base_and_is_our_fault_with_ours() -> None:
    two = judged(two=True)
    with pytest.raises(Unsupported, match=r"2 subscriptions of user 1001, not one \(Call-IDs a@x, b@x\)"):
        one_subscription(two, "1001", "base", base_is_ours=False)
    with pytest.raises(OwnSide, match="our base emulator on target as"):
        one_subscription(two, "1001", "as", base_is_ours=True)
    with pytest.raises(ProductDefect):  # both ends ours and under test
        one_subscription(two, "1001", "loopback", base_is_ours=True)
