"""Every flow of PROTOCOL.md between the two emulators over UDP, TCP and TLS on loopback, both records judged alike.

The lab plays both ends over real sockets (``peers/targets/lab``); the base's message log and the wire capture go
through the same audit and must give the same worst verdict for every rule (DESIGN.md).
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from analyzer.audit import audit_file, judgement_json, worst_by_rule
from analyzer.documents import build_document
from analyzer.judging import AuditSettings, judge
from analyzer.observation import Endpoint
from analyzer.rules import CATALOGUE
from peers.io.impair import Impairment
from peers.io.recorder import can_sniff
from peers.sansio.features import FeatureState, Forward
from peers.sansio.gigaset import Handset
from peers.targets.lab import Lab, LabConfig, LabError
from peers.targets.labs import BaseLab, LoopbackLab

SETTINGS = AuditSettings()  # the catalogue's timers: T_notify 5 s, also through loss and jitter


def all_flows(lab: Lab) -> None:
    """Subscribe (challenged), change on the handset, on the portal, by FAC, refresh, unsubscribe, expire."""
    assert lab.register("1001") and lab.register("1002")
    lab.subscribe("1001")
    lab.subscribe("1002")
    hs = lab.handset("1001")
    assert hs.screen.view.forwards["CFNA"].target == "1009" and hs.screen.view.forwards["CFNA"].rings == 4
    lab.set_dnd("1001", True)
    assert hs.screen.view.dnd
    lab.set_forward("1001", "CFNA", True, "1002", rings=6)
    assert hs.screen.view.forwards["CFNA"].rings == 6
    lab.portal_change(
        "1001",
        build_document("SetForwarding", device="1001", forwarding_type="forwardBusy", active=True, target="1003"),
    )
    assert hs.screen.view.forwards["CFB"].target == "1003"
    lab.dial("1001", "*79")  # DND off by feature access code (challenged INVITE, 480, ACK)
    assert not hs.screen.view.dnd and hs.screen.dialled[-1] == 480
    lab.subscribe("1001")  # a refresh: the full state again
    lab.unsubscribe("1001")
    assert hs.dialog.ended and hs.dialog.terminated
    lab.expire("1002")
    assert lab.handset("1002").dialog.terminated


def lab_config(transport: str, **extra: object) -> LabConfig:
    states = {"1001": FeatureState(forwards={"CFA": Forward(), "CFB": Forward(), "CFNA": Forward(True, "1009", 4)})}
    return LabConfig(
        transport=transport,
        handsets=[Handset("1001", "example.test", "pw-1001"), Handset("1002", "example.test", "pw-1002")],
        passwords={"1001": "pw-1001", "1002": "pw-1002"},
        states=states,
        quiet=SETTINGS.options.notify_timeout + 0.2,  # a portal change is unsolicited: no SUBSCRIBE within T_notify
        **extra,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_every_flow_between_the_emulators_and_both_records_agree(transport: str, tmp_path: Path) -> None:
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")
    with LoopbackLab(lab_config(transport, algorithms=("SHA-256", "MD5"))) as lab:
        all_flows(lab)
        pcap = lab.capture(tmp_path / f"flows-{transport}.pcapng")
        log = lab.observations
        settings = replace(SETTINGS, decode_as=lab.decode_as)
    assert all(o.transport == transport for o in log)
    from_log, count = judge(log, SETTINGS)
    subs, capture = judgement_json(from_log)
    log_view = {"subscriptions": subs, "verdicts": capture}
    wire = audit_file(pcap, settings)
    assert wire["errors"] == [] and wire["sip_messages"] == count == len(log)
    assert worst_by_rule(wire) == worst_by_rule(log_view)
    worst = worst_by_rule(log_view)
    # judged per capture, or about the subscription's life beyond the lab's short run: not asserted here
    others = {"FKS-SUB-2", "FKS-SUB-3", "FKS-SUB-4", "FKS-SUB-5", "FKS-HS-4", *(f"FKS-PRV-{i}" for i in range(1, 5))}
    for rule in (r.id for r in CATALOGUE if r.id not in others):
        assert worst[rule] == "pass", (rule, worst[rule], wire)
    assert b"algorithm=SHA-256" in next(o.data for o in log if b"Authorization:" in o.data)
    if can_sniff():
        assert not Path(str(pcap) + ".from-log").exists()


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_an_as_on_a_port_tshark_gives_to_another_protocol_is_audited(transport: str, tmp_path: Path) -> None:
    """44818 is EtherNet/IP's to tshark and lies in the ephemeral range: a lab's AS or relay may get it."""
    if shutil.which("tshark") is None or not can_sniff():
        pytest.skip("needs tshark and a capture of the loopback")
    with LoopbackLab(lab_config(transport, listen=Endpoint("127.0.0.1", 44818))) as lab:
        lab.subscribe("1001")
        lab.unsubscribe("1001")
        pcap = lab.capture(tmp_path / f"enip-{transport}.pcapng")
        log, decode_as = lab.observations, lab.decode_as
    wire = audit_file(pcap, replace(SETTINGS, decode_as=decode_as))
    assert wire["sip_messages"] == len(log) >= 4 and len(wire["subscriptions"]) == 1
    assert worst_by_rule(wire)["FKS-TRM-1"] == "pass"


def test_flows_complete_through_20_percent_loss_with_duplicates_and_reordering() -> None:
    spec = Impairment(loss=0.2, duplicate=0.1, reorder=0.1, jitter=0.02, seed=5)
    with LoopbackLab(lab_config("udp", impairment=spec, t1=0.05, record=False)) as lab:
        all_flows(lab)
        assert lab.relay is not None and lab.relay.impairer.dropped > 0
        log = lab.observations
    judgement, _ = judge(log, SETTINGS)
    fails = {r.rule: r.detail for r in judgement.results() if r.verdict.value == "fail"}
    assert not fails


def test_an_expired_nonce_is_challenged_again_as_stale() -> None:
    from analyzer.sip import build_authorization
    from peers.sansio.nonces import Check, Nonces

    nonces = Nonces("example.test", ttl=30, algorithms=("SHA-256",))
    (challenge,) = nonces.challenges(now=1000.0)
    creds = build_authorization(challenge, username="1001", password="pw", method="SUBSCRIBE", uri="sip:x", cnonce="c")
    assert nonces.check(creds, "pw", "SUBSCRIBE", 1010.0) is Check.OK
    assert nonces.check(creds, "pw", "SUBSCRIBE", 1011.0) is Check.REPLAY  # the same nonce count again
    assert nonces.check(creds, "wrong", "SUBSCRIBE", 1011.0) is Check.INVALID
    later = build_authorization(
        challenge, username="1001", password="pw", method="SUBSCRIBE", uri="sip:x", cnonce="c", nc=2
    )
    assert nonces.check(later, "pw", "SUBSCRIBE", 1031.0) is Check.STALE
    assert "stale=true" in nonces.challenges(1031.0, stale=True)[0]
    forged = creds.replace(challenge.split('nonce="')[1].split('"')[0], "0.0.0")
    assert nonces.check(forged, "pw", "SUBSCRIBE", 1010.0) is Check.INVALID
    nonce = challenge.split('nonce="')[1].split('"')[0]
    accented = creds.replace(nonce, nonce[:-1] + "\u00e9")  # a signature no ASCII comparison can take
    assert nonces.check(accented, "pw", "SUBSCRIBE", 1010.0) is Check.INVALID


def test_nonce_memory_is_bounded_and_a_forgotten_nonce_is_stale() -> None:
    from analyzer.sip import build_authorization
    from peers.sansio.nonces import Check, Nonces

    nonces = Nonces("example.test", limit=3)
    creds = []
    for i in range(5):
        (challenge,) = nonces.challenges(now=100.0 + i)
        creds.append(
            build_authorization(challenge, username="u", password="pw", method="REGISTER", uri="sip:x", cnonce="c")
        )
        assert nonces.check(creds[-1], "pw", "REGISTER", 100.0 + i) is Check.OK
    assert len(nonces._counts) == 3
    assert nonces.check(creds[0], "pw", "REGISTER", 110.0) is Check.STALE  # forgotten, never replayable


def test_a_replayed_subscribe_is_refused_by_the_as() -> None:
    """A captured authenticated SUBSCRIBE sent again with a new branch must not pass (replay refusal)."""
    with LoopbackLab(lab_config("udp", record=False)) as lab:
        lab.subscribe("1001")
        signed = next(
            o.data for o in lab.observations if o.data.startswith(b"SUBSCRIBE") and b"Authorization" in o.data
        )
        replay = signed.replace(b"branch=z9hG4bK-b", b"branch=z9hG4bK-replay", 1)
        answers = lab.server.receive(replay, Endpoint("127.0.0.1", 9), 0.0)
    assert len(answers) == 1 and answers[0].data.startswith(b"SIP/2.0 401")


def test_a_lab_step_that_does_not_happen_says_which() -> None:
    from peers.sansio.profiles import PROFILES

    config = LabConfig(profile=PROFILES["no-initial-notify"], record=False, timeout=0.5)
    with LoopbackLab(config) as lab, pytest.raises(LabError, match="NOTIFY after subscribing 1001"):
        lab.subscribe("1001")


def test_250_handsets_of_one_base_subscribe_at_once() -> None:
    """An N870 with its maximum of 250 handsets restarts: every account gets its initial NOTIFY."""
    users = [str(2000 + i) for i in range(250)]
    config = LabConfig(handsets=[Handset(u, "example.test") for u in users], record=False)
    with LoopbackLab(config) as lab:
        lab.subscribe_all(users)
        assert len(lab.server.subscriptions) == 250
        assert len({lab.base.local} | {o.src for o in lab.observations if o.data.startswith(b"SUBSCRIBE")}) == 1
        log = lab.observations
    judgement, _ = judge(log, AuditSettings())  # T_notify 5 s: a burst may cost a datagram and a retransmission
    assert len(judgement.subscriptions) == 250
    bad = [
        (r.rule, r.detail)
        for r in judgement.results()
        if r.rule in ("FKS-NTF-1", "FKS-NTF-2") and r.verdict.value != "pass"
    ]
    assert not bad


def test_a_baseline_is_set_read_back_and_kept_out_of_the_record() -> None:
    """Before a scenario the lab brings the user's features to a known state and reads it back from the AS's
    NOTIFY; the record (log and capture) begins after that, so the scenario sees only its own traffic."""
    wanted = FeatureState(dnd=True)
    wanted.forwards["CFNA"] = Forward(True, "1002", 4)
    with LoopbackLab(LabConfig(strict=False, follow_timeout=1.0)) as lab:
        note = lab.establish({"1001": wanted})
        assert "reported back by the AS" in note and "CFNA on -> 1002 after 4 rings" in note
        assert lab.observations == []
        assert "1001#baseline" not in lab.base.handsets  # the scratch handset is gone
        lab.subscribe("1001")
        view = lab.handset("1001").screen.view
        assert view.dnd and view.forwards["CFNA"].target == "1002" and view.forwards["CFNA"].rings == 4
        assert lab.observations[0].data.startswith(b"SUBSCRIBE")


def test_a_baseline_the_as_does_not_hold_is_reported_as_our_side(tmp_path: Path) -> None:
    """A real AS (``fks as`` in its own process, DND on for 1001) whose portal takes nothing: the read-back shows
    it, and the set-up fails as ours (``OwnSide``), naming what the AS reports, before any scenario traffic."""
    import json
    import re

    from peers.targets.outcomes import OwnSide
    from tests.test_live import _start, _stop, read_until

    users = tmp_path / "users.json"
    users.write_text(json.dumps({"1001": {"dnd": True}}))
    proc = _start("as", "--listen", "127.0.0.1:0", "--users", str(users))
    try:
        host, port = re.search(r"udp ([\d.]+):(\d+)", read_until(proc, "listening on")[0]).groups()  # type: ignore[union-attr]
        config = LabConfig(remote=Endpoint(host, int(port)), strict=False, follow_timeout=1.0)
        with BaseLab(config) as lab:
            lab.portal = lambda user, doc: None  # a portal that answers and does nothing
            with pytest.raises(OwnSide, match=r"user 1001: it reports DND on \(set: DND off"):
                lab.establish({"1001": FeatureState()})
    finally:
        _stop(proc)
