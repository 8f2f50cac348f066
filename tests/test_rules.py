"""One test (or more) per rule of CONFORMANCE.md, on flows built in memory: each verdict and its evidence."""

from __future__ import annotations

import itertools

import pytest

from analyzer.judging import AuditSettings, judge
from analyzer.observation import Observation
from analyzer.provisioning import parse_provisioning
from analyzer.rules import CATALOGUE
from analyzer.rules.base import Options
from analyzer.verdicts import Result, Verdict
from peers.craft.flows import FULL_STATE, Flow, dnd_event, fwd_event, merge, one_change_two_dialogs, set_dnd, set_fwd

P, W, F = Verdict.PASS, Verdict.WARN, Verdict.FAIL
INC, NA = Verdict.INCONCLUSIVE, Verdict.NOT_APPLICABLE


def verdicts(observations: list[Observation], **settings: object) -> dict[str, Result]:
    """Rule -> its worst Result over every subscription and the capture."""
    judgement, _ = judge(sorted(observations, key=lambda o: (o.time, o.index)), AuditSettings(**settings))
    out: dict[str, Result] = {}
    for r in judgement.results():
        if r.rule not in out or r.verdict.severity > out[r.rule].verdict.severity:
            out[r.rule] = r
    return out


def conforming() -> Flow:
    f = Flow()
    f.establish()
    f.at(1).subscribe(body=set_dnd(True))
    f.respond()
    f.notify([dnd_event(True)])
    f.respond()
    f.at(1).subscribe(expires=0)
    f.respond(expires=0)
    f.notify(FULL_STATE, state="terminated;reason=timeout")
    f.respond()
    return f


def test_conforming_flow_passes_every_rule_that_fires() -> None:
    v = verdicts(conforming().observations)
    untriggered = {
        "FKS-HS-4",
        "FKS-AS-1",
        "FKS-AS-2",
        "FKS-PRV-1",
        "FKS-PRV-2",
        "FKS-PRV-3",
        "FKS-PRV-4",
    }  # no second dialog, no AS-side fault, no provisioning file
    for rule in CATALOGUE:
        expected = NA if rule.id in untriggered else P
        assert v[rule.id].verdict is expected, (rule.id, v[rule.id])


def test_every_catalogue_rule_is_judged_exactly_once_per_subscription() -> None:
    judgement, _ = judge(conforming().observations, AuditSettings())
    ((_, results),) = judgement.subscriptions
    sub_rules = [r.rule for r in results]
    assert len(sub_rules) == len(set(sub_rules))
    assert {r.id for r in CATALOGUE} == set(sub_rules) | {r.rule for r in judgement.capture}


# -- SUB -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("event", ["as-feature-event", "AS-Feature-Event;id=7"])
def test_sub_1_compact_event_passes(event: str) -> None:
    """FKS-SUB-1: token compared case-insensitively, parameters allowed, "compact header `o` accepted"."""
    f = Flow()
    s = f.subscribe(event=event, compact_event=True)
    f.respond()
    sent = f.observations[s - 1].data
    assert f"\r\no: {event}\r\n".encode() in sent and b"\r\nEvent:" not in sent  # really the compact form
    result = verdicts(f.observations)["FKS-SUB-1"]
    assert result.verdict is P and result.frames == (s,), result


def test_sub_1_other_or_missing_event_fails() -> None:
    f = Flow()
    f.subscribe(event="o-ignored", compact_event=True)  # the compact header carrying another package
    f.respond()
    v = verdicts(f.observations)
    assert v["FKS-SUB-1"].verdict is F and v["FKS-SUB-1"].frames == (1,)
    f2 = Flow()
    f2.subscribe(event=None)
    assert verdicts(f2.observations)["FKS-SUB-1"].verdict is F


def test_sub_2_foreign_aor_warns() -> None:
    f = Flow()
    f.subscribe(to_user="2002")
    f.respond()
    assert verdicts(f.observations)["FKS-SUB-2"].verdict is W


@pytest.mark.parametrize(("accept", "verdict"), [(None, W), ("application/pidf+xml", F), ("*/*;q=0.1", F)])
def test_sub_3_accept(accept: str | None, verdict: Verdict) -> None:
    f = Flow()
    f.subscribe(accept=accept)
    f.respond()
    assert verdicts(f.observations)["FKS-SUB-3"].verdict is verdict


def test_sub_4_stray_body_on_establishing_subscribe_warns() -> None:
    f = Flow()
    f.subscribe(body=b"hello", ctype="text/plain")
    f.respond()
    assert verdicts(f.observations)["FKS-SUB-4"].verdict is W


def test_sub_5_lapse_inconclusive_and_refresh() -> None:
    lapsed = Flow()
    lapsed.establish(expires=60)
    lapsed.at(120).invite("1002")  # traffic continues past the expiry
    assert verdicts(lapsed.observations)["FKS-SUB-5"].verdict is F

    short = Flow()
    short.establish()
    assert verdicts(short.observations)["FKS-SUB-5"].verdict is INC

    # Catalogue 1.1, FKS-SUB-5: "the grant still running when the capture ends is inconclusive (so a
    # subscription still active at the end of the capture is inconclusive, whatever earlier refreshes passed)".
    refreshed = Flow()
    refreshed.subscribe(expires=60)
    refreshed.respond(expires=60)
    refreshed.at(30).subscribe(expires=60)
    refreshed.respond(expires=60)
    assert verdicts(refreshed.observations)["FKS-SUB-5"].verdict is INC
    refreshed.at(30).subscribe(expires=0)  # "... or ended before it runs out": every grant accounted for
    refreshed.respond(expires=0)
    assert verdicts(refreshed.observations)["FKS-SUB-5"].verdict is P

    # "every grant that expires inside the capture must be refreshed ... a lapse is a fail": a refresh that
    # is refused does not renew the grant.
    refused = Flow()
    refused.subscribe(expires=60)
    refused.respond(expires=60)
    refused.at(30).subscribe(expires=60)
    refused.respond(403, "Forbidden")
    refused.at(60).invite("1002")
    assert verdicts(refused.observations)["FKS-SUB-5"].verdict is F

    zero = Flow()
    zero.subscribe(expires=None)
    zero.respond()
    assert verdicts(zero.observations)["FKS-SUB-5"].verdict is F


# -- RSP -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason", "verdict"),
    [(200, "OK", P), (202, "Accepted", W), (489, "Bad Event", F), (403, "Forbidden", F)],
)
def test_rsp_1_grant_status(status: int, reason: str, verdict: Verdict) -> None:
    f = Flow()
    s = f.subscribe()
    r = f.respond(status, reason)
    result = verdicts(f.observations)["FKS-RSP-1"]
    assert result.verdict is verdict and result.frames == (s, r)


def test_rsp_1_challenge_then_retry_passes() -> None:
    f = Flow()
    f.subscribe()
    f.respond(401, "Unauthorized", extra=[("WWW-Authenticate", 'Digest realm="r", nonce="n"')])
    f.subscribe(auth=True)
    f.respond()
    result = verdicts(f.observations)["FKS-RSP-1"]
    assert result.verdict is P and "challenge" in result.detail


def test_rsp_1_no_answer_fails_after_timer_f_and_is_inconclusive_before() -> None:
    f = Flow()
    f.subscribe()
    f.at(0.5).subscribe(retransmit=True)
    assert verdicts(f.observations)["FKS-RSP-1"].verdict is INC
    f.at(40).invite("1002")
    result = verdicts(f.observations)["FKS-RSP-1"]
    assert result.verdict is F and result.frames == (1, 2)


def test_rsp_2_expires_missing_or_larger() -> None:
    f = Flow()
    f.subscribe(expires=600)
    f.respond(expires=3600)
    assert verdicts(f.observations)["FKS-RSP-2"].verdict is F
    g = Flow()
    g.subscribe()
    g.respond(expires=None)
    assert verdicts(g.observations)["FKS-RSP-2"].verdict is F


# -- NTF -------------------------------------------------------------------------------------------------


def test_ntf_1_missing_notify_fails_only_once_the_timer_ran_out() -> None:
    f = Flow()
    f.subscribe()
    f.respond()
    assert verdicts(f.observations)["FKS-NTF-1"].verdict is INC
    f.at(10).invite("1002")
    assert verdicts(f.observations)["FKS-NTF-1"].verdict is F


@pytest.mark.parametrize(
    ("docs", "verdict"),
    [
        ([], F),  # no body (Kamailio)
        ([fwd_event("forwardImmediate", False)], F),  # no DND
        ([dnd_event(False), fwd_event("forwardBusy", False)], W),  # CFA and CFNA missing
        (FULL_STATE, P),
    ],
)
def test_ntf_2_initial_state(docs: list[bytes], verdict: Verdict) -> None:
    f = Flow()
    f.subscribe()
    f.respond()
    n = f.notify(docs)
    f.at(10).options()  # the capture goes on past T_notify
    result = verdicts(f.observations)["FKS-NTF-2"]
    assert result.verdict is verdict and n in result.frames


def test_ntf_2_a_capture_ending_inside_t_notify_may_still_get_the_rest() -> None:
    """One NOTIFY per feature is allowed: with the capture ending before T_notify has passed, the missing
    features may still come (catalogue 1.1: the capture ends before the expected answer could arrive ->
    inconclusive); an empty body stays a fail."""
    f = Flow()
    f.subscribe()
    f.respond()
    n = f.notify([fwd_event("forwardImmediate", False)])
    result = verdicts(f.observations)["FKS-NTF-2"]
    assert result.verdict is INC and n in result.frames and "DND" in result.detail
    empty = Flow()
    empty.subscribe()
    empty.respond()
    empty.notify([])
    assert verdicts(empty.observations)["FKS-NTF-2"].verdict is F


def test_ntf_2_one_notify_per_feature_within_t_notify() -> None:
    f = Flow()
    f.subscribe()
    f.respond()
    for doc in FULL_STATE:
        f.notify([doc])
        f.respond()
    assert verdicts(f.observations)["FKS-NTF-2"].verdict is P


@pytest.mark.parametrize(
    ("kwargs", "verdict"),
    [
        ({"state": "active, 3600"}, F),
        # catalogue 1.1, FKS-NTF-3: "active or pending without ;expires= is a warn (RFC 6665 says SHOULD)"
        ({"state": "active"}, W),
        ({"state": "active;expires=7200"}, F),
        ({"event": "presence"}, F),
        ({"state": "pending"}, W),
        ({"state": "pending;expires=60"}, P),
    ],
)
def test_ntf_3_headers(kwargs: dict[str, str], verdict: Verdict) -> None:
    f = Flow()
    f.subscribe()
    f.respond()
    f.notify(FULL_STATE, **kwargs)
    assert verdicts(f.observations)["FKS-NTF-3"].verdict is verdict


@pytest.mark.parametrize(
    ("body", "verdict"),
    [
        (("application/x-as-feature-event+xml", dnd_event(False) + fwd_event("forwardBusy", False)), F),
        (("text/plain", b"DND on"), F),
        (("multipart/mixed;boundary=zz", b"--zz\r\nContent-Type: text/plain\r\n\r\nx\r\n--zz--\r\n"), F),
        (("multipart/mixed", b"--zz\r\n\r\nx\r\n--zz--\r\n"), F),
    ],
)
def test_ntf_4_framing(body: tuple[str, bytes], verdict: Verdict) -> None:
    f = Flow()
    f.subscribe()
    f.respond()
    f.notify(raw_body=body)
    assert verdicts(f.observations)["FKS-NTF-4"].verdict is verdict


@pytest.mark.parametrize(
    ("doc", "verdict"),
    [
        (dnd_event(True, ns="http://www.ecmainternational.org/standards/ecma-323/csta/ed3"), W),
        (dnd_event(True).replace(b"true", b"yes"), F),
        (fwd_event("forwardImmediate", True, ""), F),
        (fwd_event("forwardBusy", False, "", rings="3"), F),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><DoNotDisturbEvent/>', F),
        (b"<DoNotDisturbEvent", F),
    ],
)
def test_ntf_5_documents(doc: bytes, verdict: Verdict) -> None:
    f = Flow()
    f.subscribe()
    f.respond()
    f.notify([doc])
    assert verdicts(f.observations)["FKS-NTF-5"].verdict is verdict


def test_ntf_6_481_fails() -> None:
    f = Flow()
    f.subscribe()
    f.respond()
    n = f.notify(FULL_STATE)
    r = f.respond(481, "Call/Transaction Does Not Exist")
    result = verdicts(f.observations)["FKS-NTF-6"]
    assert result.verdict is F and result.frames == (n, r) and "481" in result.detail


@pytest.mark.parametrize(("later", "verdict"), [(None, INC), (31.0, INC), (33.0, F)])
def test_ntf_6_silence_waits_for_timer_f(later: float | None, verdict: Verdict) -> None:
    """FKS-NTF-6: "481 (dialog unknown) or no answer within `T_final` fails" (T_final: 32 s, Timer F); a capture
    that ends before T_final has run is "inconclusive" (the trigger occurred, the answer could still come)."""
    g = Flow()
    g.subscribe()
    g.respond()
    n = g.notify(FULL_STATE)
    if later is not None:
        g.at(later).options()  # the capture runs on: 31 s (within Timer F) or 33 s (past it) after the NOTIFY
    result = verdicts(g.observations)["FKS-NTF-6"]
    assert result.verdict is verdict and n in result.frames, result


def test_ntf_7_wrong_tags_and_decreasing_cseq() -> None:
    f = Flow()
    f.establish()
    f.notify([dnd_event(True)], from_tag="other")
    f.respond()
    assert verdicts(f.observations)["FKS-NTF-7"].verdict is F
    g = Flow()
    g.establish()
    g.notify([dnd_event(True)], cseq=1)
    g.respond()
    assert "does not increase" in verdicts(g.observations)["FKS-NTF-7"].detail


def test_retransmitted_notify_is_one_transaction() -> None:
    f = Flow()
    f.subscribe()
    f.respond()
    f.notify(FULL_STATE)
    f.at(0.5).notify(FULL_STATE, retransmit=True)
    f.respond()
    v = verdicts(f.observations)
    assert v["FKS-NTF-7"].verdict is P and v["FKS-NTF-6"].verdict is P
    assert "1 retransmission(s) recognised" in v["FKS-SIP-1"].detail


# -- HS --------------------------------------------------------------------------------------------------


def handset_change(doc: bytes, status: int = 200, confirm: list[bytes] | None = None, **kw: object) -> Flow:
    f = Flow()
    f.establish()
    f.at(1).subscribe(body=doc, **kw)
    f.respond(status, "OK" if status < 300 else "Bad Request")
    if confirm is not None:
        f.notify(confirm)
        f.respond()
    return f


def test_hs_1_out_of_dialog_warns_and_bad_document_fails() -> None:
    assert (
        verdicts(handset_change(set_dnd(True), confirm=[dnd_event(True)], in_dialog=False).observations)[
            "FKS-HS-1"
        ].verdict
        is W
    )
    bad = handset_change(set_fwd("forwardImmediate", True, ""), status=400)
    v = verdicts(bad.observations)
    assert v["FKS-HS-1"].verdict is F and v["FKS-HS-2"].verdict is P


def test_hs_2_invalid_request_accepted_warns_valid_refused_fails() -> None:
    assert verdicts(handset_change(set_fwd("forwardImmediate", True, "")).observations)["FKS-HS-2"].verdict is W
    # Catalogue 1.1, FKS-HS-2: "A valid request refused with a 4xx ... is a warn when a NOTIFY in that dialog then
    # reports the feature's unchanged state within T_notify, a fail otherwise."
    silent = handset_change(set_dnd(True), status=403)
    assert verdicts(silent.observations)["FKS-HS-2"].verdict is INC  # the capture ends inside T_notify
    silent.at(10).options()
    assert verdicts(silent.observations)["FKS-HS-2"].verdict is F
    unchanged = handset_change(set_dnd(True), status=403, confirm=[dnd_event(False)])
    result = verdicts(unchanged.observations)["FKS-HS-2"]
    assert result.verdict is W and len(result.frames) == 3, result
    changed = handset_change(set_dnd(True), status=403, confirm=[dnd_event(True)])
    changed.at(10).options()
    assert verdicts(changed.observations)["FKS-HS-2"].verdict is F  # refused, yet notified as changed
    server_error = handset_change(set_dnd(True), status=500)
    assert verdicts(server_error.observations)["FKS-HS-2"].verdict is F  # only a 4xx refusal may warn


def test_hs_3_confirmation() -> None:
    ok = handset_change(
        set_fwd("forwardNoAns", True, "1002", "4"), confirm=[fwd_event("forwardNoAns", True, "1002", "4")]
    )
    assert verdicts(ok.observations)["FKS-HS-3"].verdict is P
    other = handset_change(set_dnd(True), confirm=[dnd_event(False)])
    result = verdicts(other.observations)["FKS-HS-3"]
    assert result.verdict is W and result.expected == "DND on" and result.observed == "DND off"
    none = handset_change(set_dnd(True))
    assert verdicts(none.observations)["FKS-HS-3"].verdict is INC
    none.at(10).invite("1002")
    assert verdicts(none.observations)["FKS-HS-3"].verdict is F


def two_subscriptions(notify_second: bool) -> list[Observation]:
    a, b = Flow(call_id="a@x", sub_tag="ta"), Flow(call_id="b@x", sub_tag="tb", clock=1000.5)
    one_change_two_dialogs(a, b, 1002.0, notify_second)
    b.clock = a.clock = 1020
    a.invite("1002")
    obs = a.observations + b.observations
    return [
        Observation(i, o.time, o.src, o.dst, o.transport, o.data)
        for i, o in enumerate(sorted(obs, key=lambda o: o.time), 1)
    ]


def test_hs_4_every_subscription_of_the_user_is_notified() -> None:
    assert verdicts(two_subscriptions(True))["FKS-HS-4"].verdict is P
    assert verdicts(two_subscriptions(False))["FKS-HS-4"].verdict is F


# -- AS --------------------------------------------------------------------------------------------------


def test_as_1_portal_change_and_notify_after_termination() -> None:
    f = Flow()
    f.establish()
    f.at(20).notify([fwd_event("forwardBusy", True, "1003")])
    f.respond()
    assert verdicts(f.observations)["FKS-AS-1"].verdict is P
    f.at(1).subscribe(expires=0)
    f.respond(expires=0)
    f.notify([], state="terminated")
    f.respond()
    f.at(20).notify([dnd_event(True)])
    f.respond()
    assert verdicts(f.observations)["FKS-AS-1"].verdict is F


def test_as_1_notify_without_document_fails() -> None:
    f = Flow()
    f.establish()
    f.at(20).notify([])
    f.respond()
    assert verdicts(f.observations)["FKS-AS-1"].verdict is F


@pytest.mark.parametrize(
    ("code", "doc", "verdict"),
    [
        ("*78", dnd_event(True), P),
        ("*78", dnd_event(False), F),
        ("*721002", fwd_event("forwardImmediate", True, "1002"), P),
    ],
)
def test_as_2_fac(code: str, doc: bytes, verdict: Verdict) -> None:
    f = Flow()
    f.establish()
    call = f.at(5).invite(code)
    n = f.at(0.3).notify([doc])
    f.respond()
    result = verdicts(f.observations)["FKS-AS-2"]
    assert result.verdict is verdict and result.frames == (call, n)


def test_as_2_fac_without_notify_fails() -> None:
    f = Flow()
    f.establish()
    f.at(5).invite("*79")
    f.at(10).invite("1002")
    assert verdicts(f.observations)["FKS-AS-2"].verdict is F


def test_as_2_judges_a_call_only_on_the_dialogs_running_when_it_is_made() -> None:
    """A user's earlier, ended subscription cannot be notified of a later code: not_applicable there."""
    old = Flow(call_id="old@x", sub_tag="to")
    old.establish()
    old.at(1).subscribe(expires=0)
    old.respond(expires=0)
    old.notify(FULL_STATE, state="terminated;reason=noresource")
    old.respond()
    new = Flow(call_id="new@x", sub_tag="tn", clock=old.clock + 10)
    new.establish()
    new.at(5).invite("*78")
    new.at(0.3).notify([dnd_event(True)])
    new.respond()
    judgement, _ = judge(merge(old, new), AuditSettings())
    as_2 = {sub.call_id: r.verdict for sub, results in judgement.subscriptions for r in results if r.rule == "FKS-AS-2"}
    assert as_2 == {"old@x": NA, "new@x": P}


# -- TRM -------------------------------------------------------------------------------------------------


def test_trm_1_no_terminated_notify_fails() -> None:
    f = Flow()
    f.establish()
    f.at(1).subscribe(expires=0)
    f.respond(expires=0)
    f.at(10).invite("1002")
    result = verdicts(f.observations)["FKS-TRM-1"]
    assert result.verdict is F and "terminated" in result.detail


def test_trm_2_active_after_terminated_fails() -> None:
    f = Flow()
    f.establish()
    f.notify([], state="terminated;reason=deactivated")
    f.respond()
    f.notify([dnd_event(True)])
    f.respond()
    assert verdicts(f.observations)["FKS-TRM-2"].verdict is F


# -- PRV -------------------------------------------------------------------------------------------------


def provisioning(*accounts: tuple[str, str, str | None], extra: str = "") -> bytes:
    params = [f'<param name="SipProvider.0.Domain" value="example.test"/>{extra}']
    for ident, user, fks in accounts:
        params.append(f'<param name="SipAccount.{ident}.UserName" value="{user}"/>')
        params.append(f'<param name="SipAccount.{ident}.ProviderId" value="0"/>')
        if fks is not None:
            params.append(f'<param name="SipAccount.{ident}.FeatureKeySyncActive" value="{fks}"/>')
    return f'<provisioning version="1.1" productID="e2"><nvm>{"".join(params)}</nvm></provisioning>'.encode()


def test_prv_1_disabled_account_must_not_subscribe() -> None:
    f = Flow()
    f.establish()
    prov = parse_provisioning(provisioning(("00001", "1001", None)))
    assert verdicts(f.observations, provisioning=prov)["FKS-PRV-1"].verdict is F
    quiet = Flow(user="1005")
    quiet.establish()
    assert verdicts(quiet.observations, provisioning=prov)["FKS-PRV-1"].verdict is P


def test_prv_2_enabled_account_subscribes_after_register() -> None:
    prov = parse_provisioning(provisioning(("00001", "1001", "1")))
    f = Flow()
    f.register()
    f.at(1.2).establish()
    assert verdicts(f.observations, provisioning=prov)["FKS-PRV-2"].verdict is P
    silent = Flow()
    silent.register()
    assert verdicts(silent.observations, provisioning=prov)["FKS-PRV-2"].verdict is INC
    silent.at(10).invite("1002")
    assert verdicts(silent.observations, provisioning=prov)["FKS-PRV-2"].verdict is F


def test_prv_3_internal_telephony_on_n670() -> None:
    prov = parse_provisioning(provisioning(("00001", "1001", "1")))
    f = Flow()
    f.register()
    opts = Options(model="N670", internal_telephony=True)
    assert verdicts(f.observations, provisioning=prov, options=opts)["FKS-PRV-3"].verdict is W
    f.establish()
    assert verdicts(f.observations, provisioning=prov, options=opts)["FKS-PRV-3"].verdict is F
    n870 = Options(model="N870", internal_telephony=True)
    assert verdicts(f.observations, provisioning=prov, options=n870)["FKS-PRV-3"].verdict is NA


def test_prv_4_invalid_value_fails() -> None:
    f = Flow()
    assert (
        verdicts(f.observations, provisioning=parse_provisioning(provisioning(("00001", "1001", "true"))))[
            "FKS-PRV-4"
        ].verdict
        is F
    )
    assert (
        verdicts(f.observations, provisioning=parse_provisioning(provisioning(("00001", "1001", "1"))))[
            "FKS-PRV-4"
        ].verdict
        is P
    )


# -- SIP -------------------------------------------------------------------------------------------------


def test_sip_1_content_length_mismatch_fails_with_the_frame() -> None:
    f = Flow()
    f.subscribe()
    f.respond()
    n = f.notify(FULL_STATE)
    bad = f.observations[n - 1]
    f.observations[n - 1] = Observation(
        n, bad.time, bad.src, bad.dst, "udp", bad.data.replace(b"Content-Length: ", b"Content-Length: 9")
    )
    result = verdicts(f.observations)["FKS-SIP-1"]
    assert result.verdict is F and result.frames == (n,)


def test_rules_never_raise_on_reordered_or_partial_flows() -> None:
    """Any prefix or permutation window of a rich flow is judged without an exception."""
    obs = conforming().observations
    for cut in range(len(obs) + 1):
        verdicts(obs[:cut])
    for a, b in itertools.combinations(range(len(obs)), 2):
        swapped = list(obs)
        swapped[a], swapped[b] = swapped[b], swapped[a]
        judge(swapped, AuditSettings())


def test_sip_1_content_length_is_optional_over_udp_only() -> None:
    f = Flow()
    f.subscribe()
    f.respond()
    n = f.notify(FULL_STATE)
    f.respond()
    bad = f.observations[n - 1]
    head, _, body = bad.data.partition(b"\r\n\r\n")
    stripped = b"\r\n".join(h for h in head.split(b"\r\n") if not h.startswith(b"Content-Length")) + b"\r\n\r\n" + body
    f.observations[n - 1] = Observation(n, bad.time, bad.src, bad.dst, "udp", stripped)
    assert verdicts(f.observations)["FKS-SIP-1"].verdict is P
    f.observations[n - 1] = Observation(n, bad.time, bad.src, bad.dst, "tcp", stripped)
    result = verdicts(f.observations)["FKS-SIP-1"]
    assert result.verdict is F and "no Content-Length over TCP" in result.detail


def test_sip_1_unparsable_feature_sync_message_fails_at_capture_level() -> None:
    f = Flow()
    f.establish()
    src, dst = f.observations[0].src, f.observations[0].dst
    junk = Observation(99, f.clock, src, dst, "udp", b"SUBSCRIBE\r\nEvent: as-feature-event\r\n\r\n")
    other = Observation(100, f.clock, src, dst, "udp", b"\x00\x01 not sip at all\r\n\r\n")
    judgement, _ = judge([*f.observations, junk, other], AuditSettings())
    (capture,) = [r for r in judgement.capture if r.rule == "FKS-SIP-1"]
    assert capture.verdict is F and capture.frames == (99,)


def test_ntf_1_a_later_requests_notify_does_not_count_as_the_initial_one() -> None:
    f = Flow()
    f.subscribe()
    f.respond()
    f.at(1).subscribe(body=set_dnd(True))  # no initial NOTIFY came before this change request
    f.respond()
    n = f.notify([dnd_event(True)])
    f.respond()
    f.at(10).options()
    result = verdicts(f.observations)["FKS-NTF-1"]
    assert result.verdict is F and n not in result.frames
