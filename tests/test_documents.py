"""The four feature documents: valid forms, every XML rule of FKS-NTF-5 / FKS-HS-1, hostile input, round trips."""

from __future__ import annotations

import contextlib
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.documents import (
    NS,
    NS_HYPHENLESS,
    DocumentError,
    build_document,
    parse_document,
    split_concatenated,
)
from peers.flows import dnd_event, fwd_event, set_dnd, set_fwd


def test_the_four_roots() -> None:
    d = parse_document(dnd_event(True))
    assert (d.root, d.kind, d.feature, d.dnd, d.device, d.problems) == (
        "DoNotDisturbEvent",
        "event",
        "DND",
        True,
        "1001",
        (),
    )
    f = parse_document(fwd_event("forwardNoAns", True, "1002", "4"))
    assert (f.feature, f.active, f.target, f.ring_count, f.summary()) == (
        "CFNA",
        True,
        "1002",
        4,
        "CFNA -> 1002 after 4 rings",
    )
    assert parse_document(set_dnd(False)).kind == "request"
    s = parse_document(set_fwd("forwardBusy", False))
    assert (s.root, s.feature, s.active, s.summary()) == ("SetForwarding", "CFB", False, "CFB off")


def test_element_order_is_free_and_device_is_never_judged() -> None:
    doc = (
        f'<ForwardingEvent xmlns="{NS}"><forwardTo>1002</forwardTo><forwardStatus>true</forwardStatus>'
        f"<forwardingType>forwardImmediate</forwardingType><device><notKnown/></device></ForwardingEvent>"
    ).encode()
    parsed = parse_document(doc)
    assert parsed.problems == () and parsed.summary() == "CFA -> 1002" and parsed.device == "notKnown"


def test_single_quoted_declaration_and_latin1() -> None:
    doc = f"<?xml version='1.0' encoding='ISO-8859-1'?><DoNotDisturbEvent xmlns='{NS}'><device>J\xfcrgen</device>"
    doc += "<doNotDisturbOn>false</doNotDisturbOn></DoNotDisturbEvent>"
    parsed = parse_document(doc.encode("latin-1"))
    assert parsed.device == "J\xfcrgen" and parsed.problems == ()


@pytest.mark.parametrize(
    ("doc", "severity", "words"),
    [
        (dnd_event(True, ns=NS_HYPHENLESS), "warn", "hyphenless"),
        (dnd_event(True).replace(f' xmlns="{NS}"'.encode(), b""), "warn", "no namespace"),
        (dnd_event(True, ns="urn:other"), "fail", "namespace urn:other"),
        (dnd_event(True).replace(b"<device>1001</device>", b""), "fail", "lacks <device>"),
        (dnd_event(True).replace(b">true<", b">on<"), "fail", "not true/false"),
        (fwd_event("forwardAlways", False), "fail", "forwardingType 'forwardAlways'"),
        (fwd_event("forwardImmediate", True, ""), "fail", "forwardTo is empty"),
        (fwd_event("forwardBusy", False, "", "3"), "fail", "only forwardNoAns"),
        (fwd_event("forwardNoAns", True, "1002", "four"), "fail", "not an integer"),
        (set_fwd("forwardImmediate", True, ""), "fail", "forwardDN is empty"),
        (f'<Unknown xmlns="{NS}"/>'.encode(), "fail", "not an as-feature-event document"),
    ],
)
def test_problems(doc: bytes, severity: str, words: str) -> None:
    parsed = parse_document(doc)
    assert parsed.worst == severity
    assert any(words in p.reason for p in parsed.problems), parsed.problems


def test_empty_ring_count_is_allowed() -> None:
    assert parse_document(fwd_event("forwardNoAns", False, "", "")).problems == ()


def test_schema_catches_what_hand_checks_do_not() -> None:
    doc = dnd_event(False).replace(
        b"</DoNotDisturbEvent>", b"<doNotDisturbOn>true</doNotDisturbOn></DoNotDisturbEvent>"
    )
    parsed = parse_document(doc)
    assert parsed.worst == "fail" and any(p.reason.startswith("schema:") for p in parsed.problems)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<DoNotDisturbEvent><device>&lol9;</device><doNotDisturbOn>true</doNotDisturbOn></DoNotDisturbEvent>"""


@pytest.mark.parametrize(
    "doc",
    [
        BILLION_LAUGHS,
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><DoNotDisturbEvent>'
        b"<device>&x;</device><doNotDisturbOn>true</doNotDisturbOn></DoNotDisturbEvent>",
        b'<?xml version="1.0"?><!DOCTYPE d SYSTEM "http://127.0.0.1:9/x.dtd"><DoNotDisturbEvent/>',
        "\ufeff<!DOCTYPE x><DoNotDisturbEvent/>".encode("utf-16"),
    ],
)
def test_dtd_and_entities_are_refused_never_expanded(doc: bytes) -> None:
    started = time.monotonic()
    with pytest.raises(DocumentError, match="DTD or entity") as info:
        parse_document(doc)
    assert "root:" not in str(info.value) and time.monotonic() - started < 1


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        (b"", "empty"),
        (b"<DoNotDisturbEvent>", "well-formed"),
        (b"<a>" * 10_000 + b"</a>" * 10_000, "well-formed"),
        (b"<?xml version='1.0' encoding='UTF-8'?><d>\xff\xfe</d>", "well-formed"),
        (b"<d>" + b"x" * 10_000_000 + b"</d>", "exceeds"),
    ],
)
def test_unusable_documents(doc: bytes, words: str) -> None:
    with pytest.raises(DocumentError, match=words):
        parse_document(doc)


def test_split_concatenated() -> None:
    one, two = dnd_event(True), fwd_event("forwardBusy", False)
    assert split_concatenated(one) == [one]
    assert split_concatenated(one + two) == [one, two]
    bare = b"<a/><b/>"
    assert split_concatenated(bare) == [b"<a/>", b"<b/>"]


@settings(max_examples=200, deadline=None)
@given(
    root=st.sampled_from(["DoNotDisturbEvent", "ForwardingEvent", "SetDoNotDisturb", "SetForwarding"]),
    device=st.text(alphabet="0123456789abc+@.", max_size=12),
    on=st.booleans(),
    ftype=st.sampled_from(["forwardImmediate", "forwardBusy", "forwardNoAns"]),
    target=st.text(alphabet="0123456789*#", min_size=1, max_size=10),
    rings=st.integers(min_value=0, max_value=9),
    namespace=st.sampled_from([NS, NS_HYPHENLESS, None]),
)
def test_build_parse_round_trip(
    root: str, device: str, on: bool, ftype: str, target: str, rings: int, namespace: str | None
) -> None:
    forwarding = "Forwarding" in root
    ring_count = rings if forwarding and ftype == "forwardNoAns" else None
    data = build_document(
        root,
        device=device,
        dnd=on,
        forwarding_type=ftype,
        active=on,
        target=target,
        ring_count=ring_count,
        namespace=namespace,
    )
    doc = parse_document(data)
    assert doc.root == root and doc.namespace == namespace and doc.device == device
    assert doc.worst == ("pass" if namespace == NS else "warn"), doc.problems
    if forwarding:
        assert (doc.forwarding_type, doc.active, doc.target, doc.ring_count) == (ftype, on, target, ring_count)
    else:
        assert doc.dnd is on


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_document_error(data: bytes) -> None:
    try:
        doc = parse_document(data)
    except DocumentError:
        return
    doc.summary(), doc.feature, doc.worst


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_xml_text_raises_only_document_error(text: str) -> None:
    with contextlib.suppress(DocumentError):
        parse_document(f'<DoNotDisturbEvent xmlns="{NS}">{text}</DoNotDisturbEvent>'.encode())


def test_unknown_children_are_ignored() -> None:
    extra = b"<monitorCrossRefID>7</monitorCrossRefID><extensions><privateData/></extensions></DoNotDisturbEvent>"
    doc = parse_document(dnd_event(True).replace(b"</DoNotDisturbEvent>", extra))
    assert doc.problems == () and doc.dnd is True


def test_utf7_cannot_smuggle_a_dtd() -> None:
    doc = b'<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE d +AFs-+ADw-!ENTITY x +ACI-y+ACI-+AD4-+AF0-+AD4-<d/>'
    with pytest.raises(DocumentError, match="UTF-7"):
        parse_document(doc)
