"""The byte peeks (``analyzer.sip.peek``) read what the parser reads, whatever the line ends.

A large capture's audit on a Dask cluster sends a message to the share of the user its peeks name
(``analyzer.shuffle``), the engine skips what its peeks call irrelevant: a peek that disagrees with
``parse_message`` loses the message for its dialog. The expected value here is always the parser's, for
generated messages written with CRLF, bare LF and a mix.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.sip import SipError, SipMessage, parse_message
from analyzer.sip.peek import peek_branch, peek_call_id, peek_cseq_method, peek_from_user, peek_to_user

PEEKS = {
    "call_id": (peek_call_id, lambda m: m.call_id),
    "cseq_method": (peek_cseq_method, lambda m: m.cseq_method),
    "from_user": (peek_from_user, lambda m: m.from_.user if m.from_ else None),
    "to_user": (peek_to_user, lambda m: m.to.user if m.to else None),
    "branch": (peek_branch, lambda m: m.branch),
}


def agree(data: bytes) -> SipMessage | None:
    """Assert every peek equals the parsed value; the parsed message (None when the bytes are not SIP)."""
    try:
        msg = parse_message(data)
    except SipError:
        return None
    for name, (peek, parsed) in PEEKS.items():
        assert peek(data) == parsed(msg), (name, data)
    return msg


def spellings(name: str, compact: str | None) -> st.SearchStrategy[str]:
    """A header name as a peer may write it: any case, the compact form when there is one."""
    forms = [name, *([compact] if compact else [])]
    return st.sampled_from(forms).flatmap(
        lambda form: st.lists(st.booleans(), min_size=len(form), max_size=len(form)).map(
            lambda upper: "".join(c.upper() if u else c.lower() for c, u in zip(form, upper, strict=True))
        )
    )


_user = st.sampled_from(["1001", "alice", "+4930123", "*72", "u%2A1", "m\u00fcller"])
_host = st.sampled_from(["example.test", "192.0.2.10:5060", "[2001:db8::1]"])
_name_addr = st.one_of(
    st.builds(lambda u, h: f"<sip:{u}@{h}>;tag=t1", _user, _host),
    st.builds(lambda u, h: f'"Decoy sip:9999@x" <sips:{u}:pw@{h}>', _user, _host),
    st.builds(lambda u, h: f"sip:{u}@{h};tag=a2", _user, _host),
    st.builds(lambda u: f"<tel:{u}>", _user),
    st.builds(lambda h: f"<sip:{h}>", _host),
    st.builds(lambda u: f'"M\u00fcller, J\u00fcrgen" <sip:{u}@example.test>', _user),
    st.just("<sip:broken@example.test"),
)
_method = st.sampled_from(["NOTIFY", "subscribe", "Invite", "OPTIONS", "REGISTER"])
_cseq = st.one_of(
    st.builds(lambda n, sp, m: f"{n}{sp}{m}", st.integers(0, 2**31), st.sampled_from([" ", "\t", "  "]), _method),
    st.sampled_from(["abc NOTIFY", "1", "1 NOTIFY extra", "\u00b9 NOTIFY"]),
)
_via = st.builds(
    lambda proto, branch, more: f"SIP/2.0/{proto} 192.0.2.10:5060{branch}{more}",
    st.sampled_from(["UDP", "TCP", "udp"]),
    st.sampled_from([";branch=z9hG4bK-1", " ; branch = z9hG4bKa;rport", ";rport", ';branch="z9hG4bKq"']),
    st.sampled_from(["", ", SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-2", ",", "\u00e9"]),
)
_call_id = st.text(alphabet="abc123@.-_!%", min_size=1, max_size=16) | st.just("caf\u00e9@h")

HEADERS = {
    "Call-ID": (spellings("Call-ID", "i"), _call_id),
    "CSeq": (spellings("CSeq", None), _cseq),
    "From": (spellings("From", "f"), _name_addr),
    "To": (spellings("To", "t"), _name_addr),
    "Via": (spellings("Via", "v"), _via),
}
# Lines that look like the wanted headers to a careless reader and are something else to the parser.
DECOYS = [
    "X-Call-ID: decoy@h",
    "Subject: i: decoy",
    "Reply-To: <sip:decoy@x>",
    "Max-Forwards: 70",
    "garbage line without a colon",
    "Bad Name: spaces make it malformed",
    "Contact: <sip:decoy@192.0.2.9>",
]


@st.composite
def header_lines(draw: st.DrawFn) -> list[list[str]]:
    """Header lines, each a list of physical lines (more than one when the header is folded)."""
    lines: list[list[str]] = []
    for _ in range(draw(st.integers(1, 9))):
        if draw(st.integers(0, 3)) == 0:
            lines.append([draw(st.sampled_from(DECOYS))])
            continue
        kind = draw(st.sampled_from(sorted(HEADERS)))
        spelling, values = HEADERS[kind]
        name, value = draw(spelling), draw(values)
        before, after = draw(st.sampled_from(["", " ", "\t", " \t"])), draw(st.sampled_from(["", " ", "  ", "\t"]))
        cut = draw(st.integers(0, len(value)))
        first, rest = value[:cut], value[cut:]
        physical = [f"{name}{before}:{after}{first}"]
        if rest and draw(st.booleans()):  # folded: the rest on a continuation line
            physical.append(draw(st.sampled_from([" ", "\t", "   "])) + rest)
        else:
            physical[0] += rest
        lines.append(physical)
    return lines


@st.composite
def messages(draw: st.DrawFn) -> tuple[str, list[list[str]], str]:
    start = draw(
        st.sampled_from(
            ["NOTIFY sip:1001@192.0.2.10 SIP/2.0", "SUBSCRIBE sip:1001@example.test SIP/2.0", "SIP/2.0 200 OK"]
        )
    )
    body = draw(st.sampled_from(["", "Call-ID: body@decoy\r\nCSeq: 9 BODY\r\n", "v=0\r\nt: <sip:body@x>\r\n"]))
    return start, draw(header_lines()), body


def render(start: str, headers: list[list[str]], body: str, ends: list[str], lead: str = "") -> bytes:
    """The message with ``ends[i]`` ending physical line i (cycled), a blank line, the body."""
    physical = [start, *(line for header in headers for line in header), ""]
    text = "".join(line + ends[i % len(ends)] for i, line in enumerate(physical))
    return (lead + text).encode("utf-8") + body.encode("utf-8")


@settings(max_examples=600, deadline=None)
@given(messages(), st.lists(st.sampled_from(["\r\n", "\n"]), min_size=1, max_size=5), st.sampled_from(["", "\r\n"]))
def test_every_peek_equals_the_parsed_value_for_crlf_lf_and_mixed_line_ends(
    message: tuple[str, list[list[str]], str], mixed: list[str], lead: str
) -> None:
    start, headers, body = message
    crlf = agree(render(start, headers, body, ["\r\n"], lead))
    lf = agree(render(start, headers, body, ["\n"], lead))
    agree(render(start, headers, body, mixed, lead))
    assert crlf is not None and lf is not None  # a valid start line: the parser reads both
    for name, (_, parsed) in PEEKS.items():  # and reads the same values from both
        assert parsed(crlf) == parsed(lf), name


@settings(max_examples=400, deadline=None)
@given(messages())
def test_latin1_heads_are_read_as_the_parser_reads_them(message: tuple[str, list[list[str]], str]) -> None:
    """A head that is not UTF-8 (a latin-1 display name) is decoded as latin-1 by the parser, and by the peeks."""
    start, headers, body = message
    data = render(start, headers, body, ["\n"]).replace("\u00fc".encode(), b"\xfc")
    agree(data)


_FRAGMENTS = [
    b"\r\n",
    b"\n",
    b"\r",
    b" ",
    b"\t",
    b"\x0b",
    b"\x1c",
    b"\xa0",
    b"\xc2\xa0",
    b"\xc2\x85",
    b":",
    b";",
    b",",
    b"<",
    b">",
    b'"',
    b"@",
    b"i",
    b"I",
    b"f",
    b"T",
    b"v",
    b"Call-ID",
    b"cseq",
    b"From",
    b"to",
    b"Via",
    b"sip:",
    b"tel:",
    b"u1",
    b"7",
    b"branch=",
    b"NOTIFY",
    b"x",
    b"\nCall-ID:",
    b"\ni:",
    b"\r\nCSeq: 1 ",
    b"\nf: <sip:u@h>",
    b"\nT :",
    b"\nv: SIP/2.0/UDP h;branch=b",
    b"\n\x0bfrom\x1c:",
    b"\n\xc2\x85Via:",
    b"\n ",
    b"\n\t",
]


@settings(max_examples=3000, deadline=None)
@given(
    st.sampled_from([b"SIP/2.0 200 OK\r\n", b"NOTIFY sip:a@b SIP/2.0\n", b"\r\n\xa0\nSIP/2.0 180 R\n", b""]),
    st.lists(st.sampled_from(_FRAGMENTS), max_size=60),
)
def test_peeks_agree_with_the_parser_on_odd_bytes(start: bytes, fragments: list[bytes]) -> None:
    """Odd whitespace beside names (vertical tab, NBSP in either encoding), stray CRs, folds after malformed
    lines, headers past the blank line: whatever the parser makes of it, the peeks make the same."""
    agree(start + b"".join(fragments))


@pytest.mark.parametrize(
    "data",
    [
        b"NOTIFY sip:a@b SIP/2.0\ni: lf-only@h\nf: <sip:1001@x>\nt: <sip:2002@x>\nCSeq: 4 notify\n"
        b"v: SIP/2.0/UDP h;branch=z9hG4bK7\n\n",
        b"SIP/2.0 200 OK\r\nCall-ID: mixed@h\ncseq: 1 SUBSCRIBE\r\nFrom: <sip:1001@x>\n\r\n",
        b"SIP/2.0 200 OK\nCall-ID: folded\n @h\r\n\tand-more\nCSeq: 1\n SUBSCRIBE\n\n",
        b"SIP/2.0 200 OK\nCall-ID: a\nnot a header\n continued\nCSeq: 1 NOTIFY\n\n",
        b"SIP/2.0 200 OK\nX: y\n\nCall-ID: in-the-body\nCSeq: 1 NOTIFY\n",
        b"SIP/2.0 200 OK\nCall-ID\xa0: nbsp\n\n",
    ],
)
def test_known_shapes(data: bytes) -> None:
    msg = agree(data)
    assert msg is not None
    assert peek_call_id(data) is not None or b"in-the-body" in data


def test_lf_only_messages_are_peeked() -> None:
    """The fault this module fixes: LF-only lines used to hide every header from the peeks."""
    data = b"SIP/2.0 200 OK\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:1001@x>;tag=a\nTo: <sip:1001@x>\n"
    data += b"Call-ID: c@h\nCSeq: 2 NOTIFY\nContent-Length: 0\n\n"
    assert (peek_call_id(data), peek_cseq_method(data)) == ("c@h", "NOTIFY")
    assert (peek_from_user(data), peek_to_user(data), peek_branch(data)) == ("1001", "1001", "z9hG4bK1")
