"""The SIP codec: parsing what real peers send, recording what a strict reader objects to, and round trips."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.sip import (
    Headers,
    NameAddr,
    Part,
    SipError,
    build_authorization,
    build_message,
    build_multipart,
    digest_response,
    parse_message,
    parse_multipart,
    parse_subscription_state,
    split_commas,
    verify_authorization,
)
from analyzer.sip.peek import peek_branch, peek_call_id, peek_cseq_method, peek_from_user, peek_to_user

SUBSCRIBE = (
    b"SUBSCRIBE sip:1001@example.test SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1\r\n"
    b"Max-Forwards: 70\r\n"
    b'From: "Handset 1" <sip:1001@example.test>;tag=abc\r\n'
    b"To: <sip:1001@example.test>\r\n"
    b"Call-ID: c1@192.0.2.10\r\n"
    b"CSeq: 1 SUBSCRIBE\r\n"
    b"Event: as-feature-event\r\n"
    b"Accept: application/x-as-feature-event+xml\r\n"
    b"Expires: 3600\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def test_request_fields() -> None:
    m = parse_message(SUBSCRIBE)
    assert (m.method, m.uri, m.status) == ("SUBSCRIBE", "sip:1001@example.test", None)
    assert m.call_id == "c1@192.0.2.10"
    assert m.cseq == (1, "SUBSCRIBE")
    assert m.from_tag == "abc" and m.to_tag is None
    assert m.from_ is not None and m.from_.display == "Handset 1" and m.from_.aor == "sip:1001@example.test"
    assert m.branch == "z9hG4bK-1"
    assert m.event == ("as-feature-event", {})
    assert m.expires == 3600
    assert m.problems == []


def test_compact_names_and_case() -> None:
    data = (
        b"NOTIFY sip:1001@192.0.2.10 SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bKx\r\nf: <sip:a@b>;tag=1\r\n"
        b"t: <sip:c@d>;tag=2\r\ni: cid\r\nCSEQ: 2 NOTIFY\r\no: AS-Feature-Event;id=7\r\nmax-forwards: 70\r\n"
        b"c: application/x-as-feature-event+xml\r\nl: 3\r\n\r\nabc"
    )
    m = parse_message(data)
    assert m.call_id == "cid" and m.to_tag == "2"
    assert m.event == ("as-feature-event", {"id": "7"})
    assert m.content_type == ("application/x-as-feature-event+xml", {})
    assert m.body == b"abc" and m.problems == []


def test_folded_and_multi_valued_headers() -> None:
    data = SUBSCRIBE.replace(
        b"Accept: application/x-as-feature-event+xml\r\n",
        b"Accept: application/x-as-feature-event+xml,\r\n multipart/mixed\r\nAccept: text/plain\r\n",
    )
    m = parse_message(data)
    assert m.headers.get_all("Accept") == [
        "application/x-as-feature-event+xml",
        "multipart/mixed",
        "text/plain",
    ]


def test_comma_inside_quotes_and_brackets_is_not_a_separator() -> None:
    assert split_commas('"Doe, John" <sip:a@b;x=1,2>, <sip:c@d>') == [
        '"Doe, John" <sip:a@b;x=1,2>',
        "<sip:c@d>",
    ]


def test_response_and_lf_only_line_ends() -> None:
    m = parse_message(
        b"SIP/2.0 489 Bad Event\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@b>;tag=1\n"
        b"To: <sip:a@b>;tag=2\nCall-ID: x\nCSeq: 1 SUBSCRIBE\nContent-Length: 0\n\n"
    )
    assert (m.status, m.reason, m.cseq_method) == (489, "Bad Event", "SUBSCRIBE")
    assert m.summary == "489 Bad Event (SUBSCRIBE)"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ((b"Content-Length: 0", b"Content-Length: 9"), "Content-Length 9 but only 0 body bytes"),
        ((b"Call-ID: c1@192.0.2.10\r\n", b""), "missing Call-ID"),
        ((b"Max-Forwards: 70\r\n", b""), "missing Max-Forwards"),
        ((b"CSeq: 1 SUBSCRIBE", b"CSeq: 1 NOTIFY"), "CSeq method NOTIFY differs from SUBSCRIBE"),
        ((b"CSeq: 1 SUBSCRIBE", b"CSeq: one SUBSCRIBE"), "malformed CSeq"),
    ],
)
def test_hygiene_problems_are_recorded(change: tuple[bytes, bytes], problem: str) -> None:
    m = parse_message(SUBSCRIBE.replace(*change))
    assert any(problem in p for p in m.problems), m.problems


def test_body_longer_than_content_length_is_cut_and_reported() -> None:
    m = parse_message(SUBSCRIBE + b"extra")
    assert m.body == b"" and any("5 body bytes follow" in p for p in m.problems)


@pytest.mark.parametrize("data", [b"", b"\r\n\r\n", b"hello world\r\n\r\n", b"GET / HTTP/1.1\r\n\r\n", b"\xff" * 40])
def test_not_sip_raises_sip_error(data: bytes) -> None:
    with pytest.raises(SipError):
        parse_message(data)


def test_name_addr_forms() -> None:
    assert NameAddr.parse("sip:1001@example.test;tag=x").tag == "x"
    na = NameAddr.parse('"A" <sip:1001@Example.Test:5060;transport=udp>;tag=y')
    assert (na.aor, na.user, na.tag) == ("sip:1001@example.test", "1001", "y")
    with pytest.raises(SipError):
        NameAddr.parse("<sip:broken")


@pytest.mark.parametrize(
    ("value", "state", "expires", "reason", "ok"),
    [
        ("active;expires=3600", "active", 3600, None, True),
        ("Active ; expires = 60", "active", 60, None, True),
        ("pending", "pending", None, None, True),
        ("terminated;reason=timeout", "terminated", None, "timeout", True),
        ("active, 3600", "active", None, None, False),
        ("active;expires=soon", "active", None, None, False),
        ("dormant", "dormant", None, None, False),
    ],
)
def test_subscription_state(value: str, state: str, expires: int | None, reason: str | None, ok: bool) -> None:
    parsed = parse_subscription_state(value)
    assert (parsed.state, parsed.expires, parsed.reason) == (state, expires, reason)
    assert (parsed.problem is None) == ok


def test_multipart_with_quoted_boundary_and_part_headers() -> None:
    body = (
        b"--b1\r\nContent-Type: application/x-as-feature-event+xml\r\n"
        b"Content-ID: <dnd@x>\r\nContent-Length: 3\r\n"
        b"\r\nabc\r\n--b1\r\ncontent-type: application/x-as-feature-event+xml\r\n\r\n<x/>\r\n--b1--\r\n"
    )
    msg = parse_message(
        build_message(
            "NOTIFY sip:a@b SIP/2.0",
            [("Content-Type", 'multipart/mixed;boundary="b1"')],
            body,
        )
    )
    assert msg.content_type == ("multipart/mixed", {"boundary": "b1"})
    parts = parse_multipart(msg.body, "b1")
    assert [p.body for p in parts] == [b"abc", b"<x/>"]
    assert parts[0].headers.get("Content-ID") == "<dnd@x>"
    assert parts[1].content_type == "application/x-as-feature-event+xml"


def test_multipart_errors() -> None:
    with pytest.raises(SipError, match="not found"):
        parse_multipart(b"no parts here", "b1")
    with pytest.raises(SipError, match="closing"):
        parse_multipart(b"--b1\r\n\r\nx\r\n", "b1")


def test_digest_rfc2617_example() -> None:
    # RFC 2617 section 3.5 (HTTP example, same computation as SIP's).
    assert (
        digest_response(
            username="Mufasa",
            password="Circle Of Life",
            realm="testrealm@host.com",
            nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
            method="GET",
            uri="/dir/index.html",
            qop="auth",
            nc="00000001",
            cnonce="0a4f113b",
        )
        == "6629fae49393a05397450978507c4ef1"
    )


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_digest_build_and_verify(algorithm: str) -> None:
    challenge = f'Digest realm="as.example.test", nonce="n1", qop="auth", algorithm={algorithm}, opaque="o"'
    creds = build_authorization(
        challenge,
        username="1001",
        password="secret",
        method="SUBSCRIBE",
        uri="sip:1001@example.test",
        cnonce="c",
    )
    assert 'opaque="o"' in creds and f"algorithm={algorithm}" in creds
    assert verify_authorization(creds, password="secret", method="SUBSCRIBE")
    assert not verify_authorization(creds, password="wrong", method="SUBSCRIBE")
    assert not verify_authorization("Basic abc", password="secret", method="SUBSCRIBE")


def test_digest_responses_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """hmac.compare_digest, on bytes: a response from the wire with non-ASCII characters is simply wrong
    (compare_digest on such str raises TypeError), an upper-case hex response is still right."""
    import hmac

    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    challenge = 'Digest realm="r", nonce="n1", qop="auth", algorithm=MD5'
    creds = build_authorization(challenge, username="1001", password="pw", method="SUBSCRIBE", uri="sip:x", cnonce="c")
    response = creds.split('response="')[1].split('"')[0]
    assert verify_authorization(creds.replace(response, response.upper()), password="pw", method="SUBSCRIBE")
    assert compared and all(isinstance(a, bytes) and isinstance(b, bytes) for a, b in compared)
    for forged in ("\u00e9" * 32, response[:-1] + "\u00fc", ""):
        assert not verify_authorization(creds.replace(response, forged), password="pw", method="SUBSCRIBE")


def test_headers_set_and_remove_keep_order() -> None:
    h = Headers([("Via", "a"), ("i", "x"), ("Via", "b")])
    assert h.get_all("v") == ["a", "b"] and "Call-ID" in h
    h.set("Call-ID", "y")
    h.remove("via")
    assert list(h) == [("Call-ID", "y")]


# -- properties ------------------------------------------------------------------------------------------

_token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.", min_size=1, max_size=12)
_value = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters=","),
    min_size=1,
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(
    method=st.sampled_from(["SUBSCRIBE", "NOTIFY", "REGISTER", "INVITE"]),
    user=_token,
    extra=st.lists(st.tuples(st.sampled_from(["X-Info", "Subject", "User-Agent"]), _value), max_size=4),
    body=st.binary(max_size=300),
    cseq=st.integers(min_value=0, max_value=2**31 - 1),
)
def test_build_parse_round_trip(method: str, user: str, extra: list[tuple[str, str]], body: bytes, cseq: int) -> None:
    headers = [
        ("Via", f"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{user}"),
        ("Max-Forwards", "70"),
        ("From", f"<sip:{user}@example.test>;tag={user}"),
        ("To", f"<sip:{user}@example.test>"),
        ("Call-ID", f"{user}@h"),
        ("CSeq", f"{cseq} {method}"),
        *extra,
    ]
    data = build_message(f"{method} sip:{user}@example.test SIP/2.0", headers, body)
    msg = parse_message(data)
    assert msg.problems == []
    assert msg.body == body and msg.cseq == (cseq, method) and msg.from_tag == user
    assert [v for n, v in msg.headers if n in ("X-Info", "Subject", "User-Agent")] == [v.strip() for _, v in extra]
    assert parse_message(msg.to_bytes()).to_bytes() == msg.to_bytes()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_sip_error(data: bytes) -> None:
    try:
        msg = parse_message(data)
    except SipError:
        return
    msg.summary, msg.cseq, msg.event, msg.from_, msg.expires, msg.content_type  # noqa: B018


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=200).filter(lambda b: b"--bnd" not in b), min_size=1, max_size=5))
def test_multipart_round_trip(bodies: list[bytes]) -> None:
    parts = [Part(Headers([("Content-Type", "application/x-as-feature-event+xml")]), b) for b in bodies]
    parsed = parse_multipart(build_multipart(parts, "bnd"), "bnd")
    assert [p.body for p in parsed] == bodies


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1000), _token)
def test_multipart_arbitrary_bytes_raise_only_sip_error(data: bytes, boundary: str) -> None:
    with contextlib.suppress(SipError):
        parse_multipart(data, boundary)


def test_response_to_copies_the_transaction_headers() -> None:
    from analyzer.sip import response_to

    request = parse_message(
        SUBSCRIBE.replace(b"Via: SIP/2.0/UDP", b"Via: SIP/2.0/UDP p;branch=z9hG4bK-0\r\nVia: SIP/2.0/UDP")
    )
    response = parse_message(response_to(request, 200, "OK", [("Expires", "60")], to_tag="as1"))
    assert (response.status, response.to_tag, response.expires, response.problems) == (200, "as1", 60, [])
    assert response.headers.get_all("Via") == request.headers.get_all("Via") and response.cseq == request.cseq
    again = parse_message(response_to(response, 200, "OK", to_tag="other"))  # an existing tag is kept
    assert again.to_tag == "as1"


def test_stream_framer_several_per_read_and_one_over_reads() -> None:
    from analyzer.sip import StreamFramer

    one = build_message("OPTIONS sip:a@b SIP/2.0", [("Call-ID", "1")], b"body-1")
    two = build_message("OPTIONS sip:a@b SIP/2.0", [("l", "0"), ("Call-ID", "2")], content_length=False)
    framer = StreamFramer()
    assert framer.feed(b"\r\n\r\n" + one + two[:10]) == [one]  # keep-alives skipped, the rest waits
    assert framer.pending == 10 and framer.feed(two[10:]) == [two] and framer.pending == 0
    with pytest.raises(SipError, match="not a number"):
        StreamFramer().feed(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: x\r\n\r\n")


@settings(max_examples=200, deadline=None)
@given(
    bodies=st.lists(st.binary(max_size=200), min_size=1, max_size=6),
    cuts=st.lists(st.integers(min_value=1, max_value=50), max_size=40),
)
def test_stream_framer_reassembles_any_chunking(bodies: list[bytes], cuts: list[int]) -> None:
    from analyzer.sip import StreamFramer

    messages = [build_message("NOTIFY sip:a@b SIP/2.0", [("Call-ID", str(i))], b) for i, b in enumerate(bodies)]
    stream = b"".join(messages)
    framer, got, pos = StreamFramer(), [], 0
    for cut in cuts:
        got += framer.feed(stream[pos : pos + cut])
        pos += cut
    got += framer.feed(stream[pos:])
    assert got == messages and framer.pending == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8))
def test_stream_framer_raises_only_sip_error(chunks: list[bytes]) -> None:
    from analyzer.sip import StreamFramer

    framer = StreamFramer()
    with contextlib.suppress(SipError):
        for chunk in chunks:
            framer.feed(chunk)


@pytest.mark.parametrize(
    ("data", "bad"),
    [
        (b"SIP/0.0 000\nContent-Length:\xb9", ["Content-Length '\u00b9'"]),
        (b"SIP/0.0 000\nContent-Length:\xb2", ["Content-Length '\u00b2'"]),
        (b"% \x00 SIP/0.0\nCSeq:\xb9\t\x00", ["CSeq '\u00b9"]),
        (b"A \x00 SIP/0.0\n\x00\nCSeq:\xb9\t\x00", ["CSeq '\u00b9"]),
        (
            b"SUBSCRIBE sip:a@b SIP/2.0\r\nCSeq: \xb2 SUBSCRIBE\r\nContent-Length: \xb9\r\n\r\n",
            ["CSeq '\u00b2 SUBSCRIBE'", "Content-Length '\u00b9'"],
        ),
    ],
)
def test_campaign_findings_superscript_digits_are_refused_cleanly(data: bytes, bad: list[str]) -> None:
    """Found by the fuzzing campaign: '¹' passes str.isdigit() but not int(). The lenient parser keeps such a
    message (FKS-SIP-1 judges it) and names each field whose number is a superscript among its problems."""
    msg = parse_message(data)
    assert msg.problems, msg
    for field in bad:
        assert any(field in problem for problem in msg.problems), (field, msg.problems)
    if any(field.startswith("CSeq") for field in bad):
        assert msg.cseq_number is None
    if b"SIP/0.0" in data:
        assert any("0.0" in problem for problem in msg.problems), msg.problems


def test_peeking_at_raw_bytes_agrees_with_the_parser() -> None:
    data = (
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nf: <sips:1001@example.test>;tag=x\r\n"
        b"To: <sip:1001@example.test>\r\ni:  abc@host \r\nCSeq: 7 subscribe\r\nContent-Length: 0\r\n\r\n"
    )
    msg = parse_message(data)
    assert peek_call_id(data) == msg.call_id == "abc@host"
    assert peek_cseq_method(data) == "SUBSCRIBE" and peek_from_user(data) == "1001"
    assert peek_branch(data) == msg.branch == "z9hG4bK1" and peek_to_user(data) == "1001"
    two = data.replace(b"branch=z9hG4bK1", b"rport, SIP/2.0/UDP b;branch=z9hG4bK2")
    assert peek_branch(two) is None and parse_message(two).branch is None  # the top Via has none
    assert peek_call_id(b"garbage") is None and peek_cseq_method(b"x") is None and peek_from_user(b"") is None


@settings(max_examples=3000)
@given(st.text(alphabet='<>";,\\ab=', max_size=24))
def test_the_plain_splits_agree_with_the_scanning_ones(text: str) -> None:
    """The fast paths of the splitters (no quotes, at most one <...>) give what the scans give."""
    from analyzer.sip.headers import _split_commas_scan, _split_semicolons, _split_semicolons_scan

    assert _split_semicolons(text) == _split_semicolons_scan(text)
    assert split_commas(text) == _split_commas_scan(text)
