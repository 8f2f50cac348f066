"""The AS and base emulators talking in memory, judged by the analyzer: the peers and the rules agree.

Each conversation is recorded as observations and audited like a capture; the emulators are conforming by
default, so every rule that fires must pass, and the handset's view must follow the AS's state.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.judging import AuditSettings, judge
from analyzer.observation import Endpoint
from analyzer.provisioning import parse_provisioning
from analyzer.verdicts import Verdict
from peers.craft.flows import fwd_event
from peers.sansio.broadworks import ApplicationServer
from peers.sansio.gigaset import Base, Handset, accounts_from
from peers.sansio.memory import MemoryLink
from peers.sansio.profiles import PROFILES
from tests.test_rules import provisioning

AS_ADDR, BASE_ADDR = Endpoint("127.0.0.1", 5070), Endpoint("127.0.0.2", 5060)


def pair(passwords: dict[str, str] | None = None, users: tuple[str, ...] = ("1001",)) -> MemoryLink:
    handsets = {u: Handset(u, "example.test", (passwords or {}).get(u)) for u in users}
    return MemoryLink(ApplicationServer(AS_ADDR, passwords=passwords or {}), Base(BASE_ADDR, AS_ADDR, handsets))


def worst(link: MemoryLink) -> dict[str, Verdict]:
    judgement, _ = judge(link.observations, AuditSettings())
    out: dict[str, Verdict] = {}
    for r in judgement.results():
        if r.rule not in out or r.verdict.severity > out[r.rule].severity:
            out[r.rule] = r.verdict
    return out


@pytest.mark.parametrize("passwords", [None, {"1001": "pw-1001"}], ids=["open", "digest"])
def test_full_conversation_conforms(passwords: dict[str, str] | None) -> None:
    link = pair(passwords)
    link.send(link.base.subscribe("1001"))
    link.wait(2)
    link.send(link.base.set_dnd("1001", True))
    link.wait(2)
    link.send(link.base.set_forward("1001", "CFNA", True, "1002", 4))
    link.wait(10)
    link.send(link.server.portal_change("1001", fwd_event("forwardBusy", True, "1003"), link.clock))
    link.wait(10)
    link.send(link.base.dial("1001", "*79"))
    link.wait(10)
    link.send(link.base.subscribe("1001"))  # refresh
    link.wait(2)
    link.send(link.base.unsubscribe("1001"))
    verdicts = worst(link)
    fired = {rule: v for rule, v in verdicts.items() if v is not Verdict.NOT_APPLICABLE}
    assert all(v is Verdict.PASS for v in fired.values()), fired
    for rule in ("FKS-RSP-1", "FKS-NTF-2", "FKS-HS-3", "FKS-AS-1", "FKS-AS-2", "FKS-TRM-1"):
        assert verdicts[rule] is Verdict.PASS, rule
    view = link.base.handsets["1001"].screen.view
    assert view.dnd is False and view.forwards["CFNA"].target == "1002" and view.forwards["CFNA"].rings == 4
    assert view.forwards["CFB"].active and link.server.state("1001").forwards["CFB"].target == "1003"
    if passwords:
        assert any(b"401 Unauthorized" in o.data for o in link.observations)


def test_two_handsets_of_one_user_are_both_confirmed() -> None:
    server = ApplicationServer(AS_ADDR)
    a = Base(BASE_ADDR, AS_ADDR, {"1001": Handset("1001", "example.test")})
    b = Base(Endpoint("127.0.0.3", 5060), AS_ADDR, {"1001": Handset("1001", "example.test")})
    link_a, link_b = MemoryLink(server, a), MemoryLink(server, b)
    link_a.send(a.subscribe("1001"))
    link_b.send(b.subscribe("1001"))
    link_a.send(a.set_dnd("1001", True))
    assert a.handsets["1001"].screen.view.dnd is True
    # b's confirming NOTIFY went out through link_a's queue: b's own link never saw it, the AS did send it
    assert sum(b"DoNotDisturbEvent" in o.data and o.dst == b.local for o in link_a.observations) == 1


def test_wrong_password_is_challenged_and_not_granted() -> None:
    link = MemoryLink(
        ApplicationServer(AS_ADDR, passwords={"1001": "right"}),
        Base(BASE_ADDR, AS_ADDR, {"1001": Handset("1001", "example.test", "wrong")}),
    )
    link.send(link.base.subscribe("1001"))
    statuses = [o.data.split(b"\r\n", 1)[0] for o in link.observations if o.data.startswith(b"SIP/2.0")]
    assert statuses == [b"SIP/2.0 401 Unauthorized", b"SIP/2.0 401 Unauthorized"]
    # Catalogue 1.1, FKS-RSP-1: "a challenge the subscriber never answers is inconclusive for the AS"; the
    # second 401 (to the retry with the wrong password) is such a challenge.
    assert verdict_of(link, "FKS-RSP-1") is Verdict.INCONCLUSIVE


def verdict_of(link: MemoryLink, rule: str) -> Verdict:
    return worst(link)[rule]


def test_invalid_change_request_gets_400() -> None:
    link = pair()
    link.send(link.base.subscribe("1001"))
    link.send(link.base.set_forward("1001", "CFA", True, ""))  # activating without a target
    assert any(o.data.startswith(b"SIP/2.0 400") for o in link.observations)
    assert verdict_of(link, "FKS-HS-2") is Verdict.PASS and verdict_of(link, "FKS-HS-1") is Verdict.FAIL


def test_retransmitted_subscribe_gets_the_same_answer_once() -> None:
    server = ApplicationServer(AS_ADDR)
    base = Base(BASE_ADDR, AS_ADDR, {"1001": Handset("1001", "example.test")})
    request = base.subscribe("1001")
    first = server.receive(request.data, BASE_ADDR, 1.0)
    again = server.receive(request.data, BASE_ADDR, 1.5)
    assert len(first) == 2 and [o.data for o in again] == [first[0].data]  # the 200 again, no second NOTIFY


def test_provisioning_decides_who_subscribes() -> None:
    xml = provisioning(("00001", "1001", "1"), ("00002", "1002", "0"), ("00003", "1003", None))
    prov = parse_provisioning(xml)
    assert [h.user for h in accounts_from(prov, model="N870")] == ["1001"]
    assert accounts_from(prov, model="N670", internal_telephony=True) == []
    assert [h.user for h in accounts_from(prov, model="N670", internal_telephony=False)] == ["1001"]


def test_other_packages_get_489_and_garbage_is_ignored() -> None:
    server = ApplicationServer(AS_ADDR)
    sub = Base(BASE_ADDR, AS_ADDR, {"1001": Handset("1001", "example.test")}).subscribe("1001")
    presence = sub.data.replace(b"Event: as-feature-event", b"Event: presence")
    (answer,) = server.receive(presence, BASE_ADDR, 1.0)
    assert answer.data.startswith(b"SIP/2.0 489 Bad Event")
    assert server.receive(b"\x00garbage", BASE_ADDR, 1.0) == []


def test_capture_written_from_the_log_is_marked_and_judged_alike(tmp_path: Path) -> None:
    import shutil

    from analyzer.audit import audit_file, judgement_json, worst_by_rule
    from peers.io.recorder import write_from_log

    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")
    link = pair()
    link.send(link.base.subscribe("1001"))
    link.send(link.base.set_dnd("1001", True))
    path = write_from_log(tmp_path / "log.pcap", link.observations)
    assert (tmp_path / "log.pcap.from-log").read_text().startswith("written from the peers' message log")
    judgement, _ = judge(link.observations, AuditSettings())
    subs, capture = judgement_json(judgement)
    assert worst_by_rule(audit_file(path, AuditSettings())) == worst_by_rule(
        {"subscriptions": subs, "verdicts": capture}
    )


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_each_profile_is_caught_by_the_rule_the_catalogue_names(name: str) -> None:
    """Every deviation the AS emulator can commit makes its rule report it; the conforming profiles pass."""
    profile = PROFILES[name]
    handsets = {u: Handset(u, "example.test") for u in ("1001", "1002")}
    link = MemoryLink(ApplicationServer(AS_ADDR, profile=profile), Base(BASE_ADDR, AS_ADDR, handsets))
    link.send(link.base.subscribe("1001"))
    link.wait(1)
    link.send(link.base.set_dnd("1001", True))
    link.wait(1)
    link.send(link.base.unsubscribe("1002"))  # an out-of-dialog Expires: 0
    link.wait(40)  # past T_notify and Timer F: what never came will not come
    link.send(link.base.dial("1001", "1002"))
    verdicts = {rule: v.value for rule, v in worst(link).items()}
    for rule, verdict in profile.catches:
        assert verdicts[rule] == verdict, (rule, verdicts[rule])
    if not profile.catches:
        assert {v for v in verdicts.values()} <= {"pass", "not_applicable", "inconclusive"}, verdicts
        assert verdicts["FKS-NTF-2"] == verdicts["FKS-TRM-1"] == verdicts["FKS-HS-3"] == "pass"


def test_policy_refuses_or_overrides_a_handset_change() -> None:
    from analyzer.documents import build_document, parse_document

    refusing = pair()
    refusing.server.policy = lambda user, doc: 403
    refusing.send(refusing.base.subscribe("1001"))
    refusing.send(refusing.base.set_dnd("1001", True))
    refusing.wait(10)
    refusing.send(refusing.base.subscribe("1001"))  # traffic past T_notify: the refusal's NOTIFY never came
    # Catalogue 1.1, FKS-HS-2: a valid request refused with a 4xx is a fail unless a NOTIFY then reports the
    # unchanged state within T_notify; this AS sends none.
    assert verdict_of(refusing, "FKS-HS-2") is Verdict.FAIL and refusing.server.state("1001").dnd is False

    overriding = pair()
    applied = build_document(
        "SetForwarding", device="1001", forwarding_type="forwardNoAns", active=True, target="1099", ring_count=2
    )
    overriding.server.policy = lambda user, doc: parse_document(applied)
    overriding.send(overriding.base.subscribe("1001"))
    overriding.send(overriding.base.set_forward("1001", "CFNA", True, "1002", 4))
    assert verdict_of(overriding, "FKS-HS-3") is Verdict.WARN  # the AS has the last word: a warn, not a fail
    assert overriding.base.handsets["1001"].screen.view.forwards["CFNA"].target == "1099"


def test_250_handsets_from_one_base_address() -> None:
    """The N870 maximum: every enabled account of one base subscribes and gets its state."""
    users = [f"{2000 + i}" for i in range(250)]
    link = pair(users=tuple(users))
    for user in users:
        link.send(link.base.subscribe(user))
    assert len(link.server.subscriptions) == 250
    assert all(h.screen.notified == 1 for h in link.base.handsets.values())
    judgement, _ = judge(link.observations, AuditSettings())
    assert len(judgement.subscriptions) == 250
    assert not [r for r in judgement.results() if r.verdict is Verdict.FAIL]


def test_a_late_older_notify_does_not_roll_the_view_back() -> None:
    """RFC 3261 12.2.2 under reordering: the older NOTIFY gets 500; a retransmission is answered, not reapplied."""
    server = ApplicationServer(AS_ADDR)
    base = Base(BASE_ADDR, AS_ADDR, {"1001": Handset("1001", "example.test")})
    link = MemoryLink(server, base)
    subscribe = base.subscribe("1001")
    ok, initial = server.receive(subscribe.data, BASE_ADDR, 1.0)
    base.receive(ok.data, AS_ADDR)
    change = base.set_dnd("1001", True)
    _, confirm = server.receive(change.data, BASE_ADDR, 2.0)
    assert base.receive(confirm.data, AS_ADDR)[0].data.startswith(b"SIP/2.0 200")
    assert base.receive(initial.data, AS_ADDR)[0].data.startswith(b"SIP/2.0 500")  # late, older
    assert base.receive(confirm.data, AS_ADDR)[0].data.startswith(b"SIP/2.0 200")  # retransmitted
    hs = base.handsets["1001"]
    assert hs.screen.view.dnd is True and hs.screen.notified == 1
    assert link.observations == []


def test_state_documents_from_a_template_are_the_documents_built_for_the_device() -> None:
    """The AS builds a state's documents once, with a mark where the device goes; what it sends must be the
    bytes lxml would write for that device (devices needing escaping are built for themselves)."""
    from analyzer.documents import build_document, parse_document
    from peers.sansio.features import FORWARDING, FeatureState, Forward

    state = FeatureState(dnd=True)
    state.forwards["CFNA"] = Forward(True, "1002", 4)
    for device in ("1001", "alice@example.test", "a&b<c>", "fks-device-mark"):
        docs = state.documents(device)
        assert docs[0] == build_document("DoNotDisturbEvent", device=device, dnd=True)
        cfna = build_document(
            "ForwardingEvent",
            device=device,
            forwarding_type=FORWARDING["CFNA"],
            active=True,
            target="1002",
            ring_count=4,
        )
        assert cfna in docs
        assert all(parse_document(d).device == device for d in docs)


def test_a_handset_subscribing_anew_gives_up_its_unanswered_subscribe() -> None:
    """The menu's ``subscribe`` starts a new dialog: the old SUBSCRIBE, still unanswered, must not be
    retransmitted (an AS would grant a dialog the handset no longer knows and get 481 to its NOTIFYs)."""
    from analyzer.sip.peek import peek_branch
    from peers.sansio.menu import menu_command

    base = Base(BASE_ADDR, AS_ADDR, {"1001": Handset("1001", "example.test", "pw")})
    first = base.subscribe("1001")
    given_up: list[str] = []
    (second,) = menu_command(base, "subscribe 1001", given_up.extend)
    assert given_up == [peek_branch(first.data)]
    assert peek_branch(second.data) != peek_branch(first.data)
    assert base.forget("1001") == [peek_branch(second.data)]  # only what is still awaiting an answer
