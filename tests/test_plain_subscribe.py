"""The AS's lean lane (``peers.sansio.plain``): a plain initial SUBSCRIBE is answered from its bytes, and the
answer is the one the full parse gives, byte for byte, with the same subscription kept. Every other shape must
be left to the full parse. Each case runs through two fresh ASes, one with the lane and one without.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.observation import Endpoint
from analyzer.sip import Part, build_multipart, parse_message
from analyzer.vocab import NS
from peers.sansio.broadworks import _PART_HEADERS, BOUNDARY, ApplicationServer, full_state
from peers.sansio.features import FeatureState, Forward
from peers.sansio.gigaset import Base, Handset
from peers.sansio.outgoing import Outgoing
from peers.sansio.plain import read_plain_subscribe
from peers.sansio.profiles import PROFILES

AS, PHONE = Endpoint("127.0.0.1", 5070), Endpoint("127.0.0.1", 5060)

# What SIPp's storm scenario (tests/sipp/storm.xml) sends, as captured from it.
SIPP = (
    b"SUBSCRIBE sip:41@example.test SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-24410-1-0\r\n"
    b"From: <sip:41@example.test>;tag=24410S1\r\n"
    b"To: <sip:41@example.test>\r\n"
    b"Call-ID: 1-24410@127.0.0.1\r\n"
    b"CSeq: 1 SUBSCRIBE\r\n"
    b"Contact: <sip:41@127.0.0.1:5060>\r\n"
    b"Max-Forwards: 70\r\n"
    b"Event: as-feature-event\r\n"
    b"Accept: application/x-as-feature-event+xml\r\n"
    b"Expires: 600\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def _base_subscribe() -> bytes:
    base = Base(PHONE, AS, {"1001": Handset("1001", "example.test")})
    return base.subscribe("1001").data


def _edit(old: bytes, new: bytes) -> bytes:
    assert old in SIPP
    return SIPP.replace(old, new)


# Plain: the lane takes them.
PLAIN = {
    "SIPp's storm SUBSCRIBE": SIPP,
    "the base emulator's SUBSCRIBE": _base_subscribe(),
    "with User-Agent and Allow-Events": _edit(b"Max-Forwards: 70\r\n", b"User-Agent: Gigaset N870 IP PRO\r\n"),
    "a display name in From": _edit(b"From: <sip:41", b'From: "Handset 1" <sip:41'),
    "two Via headers": _edit(b"Via: ", b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-proxy\r\nVia: "),
    "no Expires (the AS's maximum)": _edit(b"Expires: 600\r\n", b""),
    "Expires above the AS's maximum": _edit(b"Expires: 600", b"Expires: 86400"),
    "no Content-Length": _edit(b"Content-Length: 0\r\n", b""),
    "no Contact": _edit(b"Contact: <sip:41@127.0.0.1:5060>\r\n", b""),
    "spaces around values": _edit(b"Call-ID: 1-24410@127.0.0.1", b"Call-ID:   1-24410@127.0.0.1  "),
    "a tel: From": _edit(b"From: <sip:41@example.test>", b"From: <tel:41>"),
    "a user that is not plain XML text": _edit(b"sip:41@example.test>;tag", b"sip:a%26b@example.test>;tag"),
}

# Not plain: the full parse answers them.
OTHER = {
    "an Event id": _edit(b"Event: as-feature-event", b"Event: as-feature-event;id=7"),
    "Event in capitals": _edit(b"Event: as-feature-event", b"Event: AS-Feature-Event"),
    "a compact header name": _edit(b"Call-ID:", b"i:"),
    "a lower-case header name": _edit(b"From:", b"from:"),
    "a space before the colon": _edit(b"CSeq:", b"CSeq :"),
    "a folded header": _edit(b"Contact: <sip:41@127.0.0.1:5060>", b"Contact:\r\n <sip:41@127.0.0.1:5060>"),
    "a Via list in one header": _edit(b"Via: ", b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-p, "),
    "a To tag (in a dialog)": _edit(b"To: <sip:41@example.test>", b"To: <sip:41@example.test>;tag=x"),
    "Expires not a number": _edit(b"Expires: 600", b"Expires: soon"),
    "a body": _edit(b"Content-Length: 0\r\n\r\n", b"Content-Length: 4\r\n\r\n<x/>"),
    "a Content-Length without its body": _edit(b"Content-Length: 0", b"Content-Length: 12"),
    "bare LF line ends": SIPP.replace(b"\r\n", b"\n"),
    "a bare LF in one line": _edit(b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\n"),
    "a UTF-8 display name": _edit(b"From: <sip:41", 'From: "Hörer" <sip:41'.encode()),
    "two From headers": _edit(b"To: ", b"From: <sip:42@example.test>;tag=b\r\nTo: "),
    "no From tag": _edit(b";tag=24410S1", b""),
    "no Call-ID": _edit(b"Call-ID: 1-24410@127.0.0.1\r\n", b""),
    "a CSeq of another method": _edit(b"CSeq: 1 SUBSCRIBE", b"CSeq: 1 NOTIFY"),
    "no branch": _edit(b";branch=z9hG4bK-24410-1-0", b""),
    "Authorization": _edit(b"Max-Forwards: 70\r\n", b'Authorization: Digest username="41"\r\n'),
    "a Content-Type": _edit(b"Max-Forwards: 70\r\n", b"Content-Type: application/x-as-feature-event+xml\r\n"),
    "another request line": _edit(b"SUBSCRIBE sip:41@example.test SIP/2.0", b"SUBSCRIBE sip:41@example.test SIP/3.0"),
}


def _both(**options: object) -> tuple[ApplicationServer, ApplicationServer]:
    return ApplicationServer(AS, lean=True, **options), ApplicationServer(AS, lean=False, **options)  # type: ignore[arg-type]


def _same(messages: list[bytes], lean: ApplicationServer, full: ApplicationServer) -> list[Outgoing]:
    """Both ASes answer each message alike and end in the same state; the lean AS's answers, all together."""
    answers = []
    for n, data in enumerate(messages):
        answer = lean.receive(data, PHONE, 1000.0 + n)
        assert answer == full.receive(data, PHONE, 1000.0 + n), data
        answers += answer
    assert lean.subscriptions == full.subscriptions
    assert lean._answered == full._answered
    assert lean.states == full.states
    return answers


@pytest.mark.parametrize("data", list(PLAIN.values()), ids=list(PLAIN))
def test_a_plain_subscribe_gets_the_full_parses_answer(data: bytes) -> None:
    assert read_plain_subscribe(data) is not None
    lean, full = _both()
    _same([data], lean, full)
    answer = lean.receive(data, PHONE, 1000.0)  # a retransmission: the same 200 again, no new dialog
    assert parse_message(answer[0].data).status == 200 and len(lean.subscriptions) == 1


@pytest.mark.parametrize("data", list(OTHER.values()), ids=list(OTHER))
def test_any_other_shape_is_left_to_the_full_parse(data: bytes) -> None:
    assert read_plain_subscribe(data) is None
    _same([data], *_both())


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_profile_answers_the_same_in_both_lanes(profile: str) -> None:
    """The lane shares the grant with the full parse: a server profile's deviations survive it."""
    _same([SIPP], *_both(profile=PROFILES[profile]))


def test_a_dialog_goes_on_in_the_full_parse_after_the_lane_opened_it() -> None:
    refresh = SIPP.replace(b"To: <sip:41@example.test>", b"To: <sip:41@example.test>;tag=as1").replace(
        b"CSeq: 1", b"CSeq: 2"
    )
    refresh = refresh.replace(b"z9hG4bK-24410-1-0", b"z9hG4bK-24410-1-1")
    end = refresh.replace(b"Expires: 600", b"Expires: 0").replace(b"CSeq: 2", b"CSeq: 3").replace(b"-1-1", b"-1-2")
    _same([SIPP, refresh, end, SIPP], *_both())


def test_a_fetch_is_left_to_the_full_parse() -> None:
    """Expires 0 out of a dialog (RFC 6665 fetch): no subscription is kept, the state comes in a terminated NOTIFY."""
    fetch = _edit(b"Expires: 600", b"Expires: 0")
    lean, full = _both()
    ok, notify = _same([fetch], lean, full)
    assert parse_message(ok.data).status == 200 and not lean.subscriptions
    assert (parse_message(notify.data).headers.get("Subscription-State") or "").startswith("terminated")


def test_with_passwords_every_subscribe_is_challenged_in_full() -> None:
    lean = ApplicationServer(AS, passwords={"41": "secret"})
    answer = parse_message(lean.receive(SIPP, PHONE, 1000.0)[0].data)
    assert answer.status == 401 and answer.headers.get("WWW-Authenticate") and not lean.subscriptions


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(SIPP) - 1), st.sampled_from([b" ", b"\t", b",", b";", b":", b"<", b"\r", b"a", b"\xc3"]))
def test_a_byte_changed_anywhere_gives_the_same_answer_in_both_lanes(at: int, byte: bytes) -> None:
    _same([SIPP[:at] + byte + SIPP[at + 1 :]], *_both())


@pytest.mark.parametrize("namespace", [NS, None])
def test_the_full_state_body_is_the_multipart_of_the_users_documents(namespace: str | None) -> None:
    """Built once per state with a mark for the device: the same bytes as built for the user, for users that
    are plain XML text and those that are not (escaped, or the mark itself)."""
    state = FeatureState(dnd=True)
    state.forwards["CFNA"] = Forward(True, "1002", 4)
    for user in ("1001", "a&b", "Hörer", "fks-device-mark"):
        parts = [Part(_PART_HEADERS, doc) for doc in state.documents(user, namespace)]
        assert full_state(state, user, namespace) == build_multipart(parts, BOUNDARY), user
