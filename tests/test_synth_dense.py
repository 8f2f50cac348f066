"""``fks synth --shape dense``: every message feature sync, four per account over UDP (SUBSCRIBE, 200, the
multipart NOTIFY of the full state, 200), no RTP; conforming traffic, so the audit finds no fault, and every
subscription is still active when the capture ends (catalogue FKS-SUB-5: ``inconclusive``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from analyzer.audit import audit_file
from analyzer.judging import AuditSettings
from analyzer.sip import parse_message
from analyzer.sources import FieldsReader

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


@pytest.fixture(scope="module")
def dense(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dense") / "dense.pcap"
    made = subprocess.run(
        [sys.executable, "-m", "peers.cli", "synth", "--shape", "dense", "--messages", "160", "--output", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    assert "160 packets, 160 SIP messages (160 feature sync), 40 subscriptions" in made.stdout
    return path


def test_each_account_subscribes_once_and_gets_the_full_state_over_udp(dense: Path) -> None:
    flows: dict[str, list[str]] = defaultdict(list)
    for obs in FieldsReader(dense):
        assert obs.transport == "udp"
        msg = parse_message(obs.data)
        flows[msg.call_id or ""].append(msg.summary)
        if msg.method == "NOTIFY":
            assert msg.content_type is not None and msg.content_type[0] == "multipart/mixed"
            assert msg.headers.get("Subscription-State") == "active;expires=3600"
    assert len(flows) == 40
    assert set(map(tuple, flows.values())) == {("SUBSCRIBE", "200 OK (SUBSCRIBE)", "NOTIFY", "200 OK (NOTIFY)")}


def test_the_dense_capture_is_conforming_and_every_subscription_runs_on(dense: Path) -> None:
    audit = audit_file(dense, AuditSettings())
    assert audit["sip_messages"] == 160 and audit["errors"] == []
    assert len(audit["subscriptions"]) == 40
    for sub in audit["subscriptions"]:
        verdicts = {v["rule"]: v["verdict"] for v in sub["verdicts"]}
        assert not {"fail", "warn"} & set(verdicts.values()), sub
        assert verdicts["FKS-SUB-5"] == "inconclusive"
        assert verdicts["FKS-SUB-1"] == verdicts["FKS-RSP-1"] == verdicts["FKS-NTF-1"] == "pass"


def test_a_shape_synth_does_not_know_is_refused(tmp_path: Path) -> None:
    made = subprocess.run(
        [sys.executable, "-m", "peers.cli", "synth", "--shape", "storm", "--output", str(tmp_path / "x.pcap")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert made.returncode == 2 and "invalid choice" in made.stderr
    assert not (tmp_path / "x.pcap").exists()
