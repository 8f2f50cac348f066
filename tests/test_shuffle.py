"""A capture judged in shares, its messages shared out by user (``analyzer.shuffle``, as the Dask workers
judge a large capture), gets the verdicts of one process."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from analyzer import shuffle
from analyzer.audit import Kept, audit_file
from analyzer.judging import AuditSettings
from analyzer.observation import Endpoint
from analyzer.shuffle import judge_share, split, subscriber
from analyzer.sources import FieldsReader
from peers.craft.flows import Flow, merge
from peers.craft.synth import SynthOptions, synthesize
from peers.craft.wire import WireMessage, write_capture
from tests.test_corpus import EXPECTED, capture_for, settings_for

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def test_every_message_of_a_subscription_goes_to_its_subscriber() -> None:
    f = Flow(user="1001")
    f.establish()
    f.subscribe(to_user="2002")  # subscribing to another user's AOR: still the subscriber's
    f.respond()
    assert {subscriber(o.data) for o in f.observations} == {"1001"}
    assert subscriber(b"garbage") == ""


def in_shares(path: Path, settings: AuditSettings, shares: int, lean: bool = False) -> dict[str, Any]:
    """The capture's entry as the Dask graph makes it: split by subscriber, each share judged, merged."""
    reader = FieldsReader(path, decode_as=settings.decode_as)
    pieces, end_time = split(reader, shares)
    reports = [judge_share(p, settings, Kept(lean, False), end_time) for p in pieces]
    entries, capture = shuffle.merge(reports, settings, end_time)
    return {
        "file": str(path),
        "packets": reader.packets,
        "sip_messages": reader.sip_messages,
        "errors": list(reader.errors),
        "subscriptions": entries,
        "verdicts": [r.to_json() for r in capture],
    }


def same(path: Path, settings: AuditSettings, shares: int) -> None:
    one = audit_file(path, settings)
    many = in_shares(path, settings, shares)
    assert json.dumps(many, sort_keys=True) == json.dumps(one, sort_keys=True)


@pytest.mark.parametrize("expected", EXPECTED, ids=lambda p: p.name.removesuffix(".expected.json"))
def test_reference_captures(expected: Path) -> None:
    """Provisioning (PRV rules merged from every share), unparsable messages, FAC calls, several users."""
    same(capture_for(expected), settings_for(json.loads(expected.read_text())), 3)


def test_a_synthesized_site_with_lean_entries(tmp_path: Path) -> None:
    path = tmp_path / "site.pcap"
    synthesize(path, SynthOptions(subscriptions=150, bases=2, seed=9, duration=1200.0))
    one = audit_file(path, AuditSettings(), lean=True)
    two = in_shares(path, AuditSettings(), 2, lean=True)
    assert len(one["subscriptions"]) == 150
    assert list(two.pop("subscriptions").texts()) == list(one.pop("subscriptions").texts()) and two == one


def _lf_head(data: bytes) -> bytes:
    head, _, body = data.partition(b"\r\n\r\n")
    return head.replace(b"\r\n", b"\n") + b"\n\n" + body


def test_an_as_writing_lf_only_lines_is_judged_as_by_one_process(tmp_path: Path) -> None:
    """The AS ends its lines in bare LF (the parser accepts it), the phones in CRLF: its 200s and NOTIFYs still
    reach the share of their subscriber, so every subscription is whole there, as in one process."""
    flows = []
    for i in range(8):
        flow = Flow(user=f"10{i:02d}", call_id=f"c{i}@192.0.2.10", client=Endpoint(f"192.0.2.{10 + i}", 5060))
        flow.clock += i * 0.3
        flow.establish()
        flows.append(flow)
    server = flows[0].server
    wire = [
        WireMessage(
            o.time, (o.src.host, o.src.port), (o.dst.host, o.dst.port), _lf_head(o.data) if o.src == server else o.data
        )
        for o in merge(*flows)
    ]
    lf_only = [m for m in wire if b"\r\n" not in m.data.partition(b"\n\n")[0]]
    assert len(lf_only) == 16  # the AS's 200 and NOTIFY of each subscription
    path = write_capture(tmp_path / "lf.pcap", wire)
    assert {subscriber(m.data) for m in wire} == {f"10{i:02d}" for i in range(8)}
    one = audit_file(path, AuditSettings())
    many = in_shares(path, AuditSettings(), 3)
    assert json.dumps(many, sort_keys=True) == json.dumps(one, sort_keys=True)
    # Each is a conforming establishment: a 200 to the SUBSCRIBE (FKS-RSP-1), a NOTIFY after it (FKS-NTF-1),
    # a 200 to the NOTIFY (FKS-NTF-6): pass, per the catalogue.
    assert len(many["subscriptions"]) == 8
    for sub in many["subscriptions"]:
        verdicts = {v["rule"]: v["verdict"] for v in sub["verdicts"]}
        assert [verdicts[r] for r in ("FKS-RSP-1", "FKS-NTF-1", "FKS-NTF-6")] == ["pass"] * 3, sub["aor"]
