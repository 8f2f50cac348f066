"""The dialog engine: subscriptions, transactions, retransmissions, challenges, kinds, FAC calls, registrations."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.dialogs import Engine, Kind, build_trace
from analyzer.observation import Endpoint, Observation
from peers.craft.flows import FULL_STATE, Flow, dnd_event, set_dnd


def test_subscription_lifecycle_kinds() -> None:
    f = Flow()
    f.subscribe()
    f.respond(401, "Unauthorized")
    f.subscribe(auth=True)
    f.respond()
    f.notify(FULL_STATE)
    f.respond()
    f.at(10).subscribe()
    f.respond()
    f.subscribe(body=set_dnd(True))
    f.respond()
    f.subscribe(expires=0)
    f.respond(expires=0)
    trace = build_trace(f.observations)
    (sub,) = trace.subscriptions
    assert [tx.kind for tx in sub.subscribes] == [
        Kind.ESTABLISH,
        Kind.ESTABLISH,
        Kind.REFRESH,
        Kind.CHANGE,
        Kind.TERMINATE,
    ]
    assert sub.subscribes[0].challenged and sub.subscribes[1].granted
    assert sub.notifier_tag == "as1" and sub.subscriber_tag == "bt1"
    assert sub.aor == "sip:1001@example.test" and sub.client == f.client
    assert len(sub.notifies) == 1 and sub.notifies[0].state is not None
    assert sub.notifies[0].body is not None and set(sub.notifies[0].body.features()) == {"DND", "CFA", "CFB", "CFNA"}


def test_retransmissions_are_not_new_transactions() -> None:
    f = Flow()
    f.subscribe()
    f.at(0.5).subscribe(retransmit=True)
    f.respond()
    f.respond()  # the AS answers the retransmission again
    f.notify(FULL_STATE)
    f.at(0.5).notify(FULL_STATE, retransmit=True)
    f.respond()
    (sub,) = build_trace(f.observations).subscriptions
    assert len(sub.subscribes) == 1 and len(sub.subscribes[0].retransmissions) == 1
    assert len(sub.subscribes[0].responses) == 1 and len(sub.subscribes[0].response_retransmissions) == 1
    assert len(sub.notifies) == 1 and len(sub.notifies[0].retransmissions) == 1


def test_two_dialogs_of_one_user_and_other_packages() -> None:
    a, b = Flow(call_id="a@x", sub_tag="ta"), Flow(call_id="b@x", sub_tag="tb")
    a.establish()
    b.establish()
    other = Flow(call_id="p@x")
    other.subscribe(event="presence", accept="application/pidf+xml")
    other.respond()
    other.notify([dnd_event(True)], event="presence")
    obs = [
        Observation(i, o.time, o.src, o.dst, o.transport, o.data)
        for i, o in enumerate(a.observations + b.observations + other.observations, 1)
    ]
    trace = build_trace(obs)
    assert [s.call_id for s in trace.subscriptions] == ["a@x", "b@x"]
    assert len(trace.by_aor("sip:1001@example.test")) == 2


def test_notify_for_unknown_dialog_opens_a_partial_subscription() -> None:
    f = Flow()
    f.notify([dnd_event(True)])
    f.respond(481, "Call/Transaction Does Not Exist")
    (sub,) = build_trace(f.observations).subscriptions
    assert not sub.seen_from_start and sub.subscribes == [] and sub.notifies[0].status == 481


def test_fac_calls_and_registrations_are_kept() -> None:
    f = Flow()
    f.register()
    f.invite("*78")
    f.invite("%2A721002")
    f.invite("1002")
    trace = build_trace(f.observations)
    assert [c.user for c in trace.calls] == ["*78", "*721002"]
    (reg,) = trace.registrations
    assert reg.status == 200 and reg.user == "1001" and reg.frames == (1, 2)


def test_active_at_and_termination() -> None:
    f = Flow()
    f.subscribe(expires=60)
    f.respond(expires=60)
    start = f.clock
    f.at(5).notify([], state="terminated")
    (sub,) = build_trace(f.observations).subscriptions
    assert sub.active_at(start + 1) and not sub.active_at(start + 10)
    assert sub.terminated_at() is not None


def test_unparsable_messages_are_kept_apart() -> None:
    obs = Observation(1, 0.0, Endpoint("192.0.2.1", 5060), Endpoint("192.0.2.2", 5060), "udp", b"garbage\r\n\r\n")
    trace = build_trace([obs])
    assert trace.unparsable == 1 and not trace.unparsed and trace.sip_messages == 1 and not trace.subscriptions


_ENDPOINTS = st.sampled_from([Endpoint("192.0.2.10", 5060), Endpoint("198.51.100.20", 5060)])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 100), _ENDPOINTS, _ENDPOINTS, st.binary(max_size=300)), max_size=20))
def test_engine_never_raises_on_arbitrary_traffic(items: list[tuple[float, Endpoint, Endpoint, bytes]]) -> None:
    engine = Engine()
    base = Flow()
    base.establish()
    for obs in base.observations:
        engine.feed(obs)
    for i, (t, src, dst, data) in enumerate(items, len(base.observations) + 1):
        engine.feed(Observation(i, t, src, dst, "udp", data))
    engine.finish()


@settings(max_examples=100, deadline=None)
@given(st.permutations(list(range(12))))
def test_engine_never_raises_on_reordered_flows(order: list[int]) -> None:
    f = Flow()
    f.establish()
    f.subscribe(body=set_dnd(True))
    f.respond()
    f.notify([dnd_event(True)])
    f.respond()
    f.subscribe(expires=0)
    f.respond(expires=0)
    obs = f.observations
    build_trace([obs[i] for i in order if i < len(obs)])


def test_an_unparsable_message_claims_feature_sync_only_by_its_start_line_and_headers() -> None:
    """The package's name in an Allow-Events list, or before the start line (WebSocket framing), is no claim."""
    from analyzer.dialogs import claims_feature_sync

    assert claims_feature_sync(b"NOTIFY sip:1001@a SIP/2.0\r\nEvent: as-feature-event\r\nContent-Length: x\r\n\r\n")
    assert claims_feature_sync(b"SUBSCRIBE sip:1001@a SIP/2.0\no: As-Feature-Event;id=1\n\n")  # LF only, compact
    assert claims_feature_sync(b"NOTIFY sip:a SIP/2.0\r\nc: application/x-as-feature-event+xml\r\n\r\n<x/>")
    assert not claims_feature_sync(b"\x81~\x04PSIP/2.0 180 Ringing\r\nAllow-Events: as-feature-event\r\n\r\n")
    assert not claims_feature_sync(b"INVITE sip:a SIP/2.0\r\nAllow-Events: presence, as-feature-event\r\n\r\n")
    assert not claims_feature_sync(b"NOTIFY sip:a SIP/2.0\r\nEvent: presence\r\n\r\nEvent: as-feature-event")
