"""Timer edges on crafted captures, where time is exact: a live loopback run cannot place a NOTIFY at 4.9 s.

The flow is scripted (``peers/craft/flows``), written as a pcap with exact timestamps (``peers/craft/wire``) and audited
through tshark like any capture, with the catalogue's default T_notify (5 s).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from analyzer.audit import audit_file, worst_by_rule
from analyzer.judging import AuditSettings
from analyzer.rules.base import Options
from peers.craft.flows import FULL_STATE, Flow
from peers.craft.wire import WireMessage, write_capture

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def capture_of(flow: Flow, path: Path) -> Path:
    messages = [
        WireMessage(o.time, (o.src.host, o.src.port), (o.dst.host, o.dst.port), o.data) for o in flow.observations
    ]
    return write_capture(path, messages)


def test_the_default_t_notify_is_the_catalogues() -> None:
    """CONFORMANCE.md, Timers: "`T_notify` (default 5 s)"."""
    assert Options().notify_timeout == 5.0 and AuditSettings().options.notify_timeout == 5.0


@pytest.mark.parametrize(("delay", "verdict"), [(4.9, "pass"), (5.1, "fail")])
def test_ntf_1_initial_notify_at_the_edge_of_t_notify(tmp_path: Path, delay: float, verdict: str) -> None:
    """FKS-NTF-1: "After every 2xx to an establishing or refreshing SUBSCRIBE, the AS sends a NOTIFY in that
    dialog within `T_notify`." Timers: "`T_notify` (default 5 s) is how long after a 2xx (or a FAC call) the
    initial/confirming NOTIFY may take", measured "on the capture's clock ... from the first copy of the
    trigger to the first copy of the answer"."""
    flow = Flow()
    flow.subscribe()
    ok = flow.respond()
    granted = flow.observations[ok - 1].time
    flow.clock = granted + delay
    notify = flow.notify(FULL_STATE)
    flow.respond()
    assert flow.observations[notify - 1].time - granted == pytest.approx(delay)
    audit = audit_file(capture_of(flow, tmp_path / f"ntf1-{delay}.pcap"), AuditSettings())
    assert audit["errors"] == [] and audit["sip_messages"] == 4
    assert worst_by_rule(audit)["FKS-NTF-1"] == verdict, audit["subscriptions"][0]["verdicts"]


@pytest.mark.parametrize(("delay", "verdict"), [(4.9, "pass"), (5.1, "fail")])
def test_hs_3_confirming_notify_at_the_edge_of_t_notify(tmp_path: Path, delay: float, verdict: str) -> None:
    """FKS-HS-3: "The AS confirms with a NOTIFY in that dialog within `T_notify`, reporting the feature the
    request addressed ... no NOTIFY is a `fail`" (a NOTIFY after the window is not the confirmation)."""
    from peers.craft.flows import dnd_event, set_dnd

    flow = Flow()
    flow.establish()
    flow.at(1).subscribe(body=set_dnd(True))
    ok = flow.respond()
    flow.clock = flow.observations[ok - 1].time + delay
    flow.notify([dnd_event(True)])
    flow.respond()
    audit = audit_file(capture_of(flow, tmp_path / f"hs3-{delay}.pcap"), AuditSettings())
    assert worst_by_rule(audit)["FKS-HS-3"] == verdict, audit["subscriptions"][0]["verdicts"]
