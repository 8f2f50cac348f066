"""A capture judged by several processes, its messages shared out by user, gets the verdicts of one process."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from analyzer.audit import AuditSettings, audit_file
from analyzer.partitions import subscriber
from peers.flows import Flow
from peers.synth import SynthOptions, synthesize
from tests.test_corpus import EXPECTED, capture_for, settings_for

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def test_every_message_of_a_subscription_goes_to_its_subscriber() -> None:
    f = Flow(user="1001")
    f.establish()
    f.subscribe(to_user="2002")  # subscribing to another user's AOR: still the subscriber's
    f.respond()
    assert {subscriber(o.data) for o in f.observations} == {"1001"}
    assert subscriber(b"garbage") == ""


def same(path: Path, settings: AuditSettings, workers: int) -> None:
    one = audit_file(path, settings, workers=1)
    many = audit_file(path, settings, workers=workers)
    assert json.dumps(many, sort_keys=True) == json.dumps(one, sort_keys=True)


@pytest.mark.parametrize("expected", EXPECTED, ids=lambda p: p.name.removesuffix(".expected.json"))
def test_reference_captures(expected: Path) -> None:
    """Provisioning (PRV rules merged from every worker), unparsable messages, FAC calls, several users."""
    same(capture_for(expected), settings_for(json.loads(expected.read_text())), 3)


def test_a_synthesized_site_with_lean_entries(tmp_path: Path) -> None:
    path = tmp_path / "site.pcap"
    synthesize(path, SynthOptions(subscriptions=150, bases=2, seed=9, duration=1200.0))
    one = audit_file(path, AuditSettings(), workers=1, lean=True)
    two = audit_file(path, AuditSettings(), workers=2, lean=True)
    assert len(one["subscriptions"]) == 150 and two == one


def test_an_unusable_file_stops_the_workers_with_one_line(tmp_path: Path) -> None:
    from analyzer.capture import CaptureError

    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"not a capture at all")
    with pytest.raises(CaptureError):
        audit_file(bad, AuditSettings(), workers=2)
