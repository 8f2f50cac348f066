"""The four feature documents: valid forms, every XML rule of FKS-NTF-5 / FKS-HS-1, hostile input, round trips."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer import documents
from analyzer.documents import (
    DTD_REASON,
    NS,
    NS_HYPHENLESS,
    DocumentError,
    FeatureDocument,
    build_document,
    parse_document,
    split_concatenated,
)

ROOTS = ("DoNotDisturbEvent", "ForwardingEvent", "SetDoNotDisturb", "SetForwarding")
FLAG = {"ForwardingEvent": "forwardStatus", "SetForwarding": "activateForward"}
TARGET = {"ForwardingEvent": "forwardTo", "SetForwarding": "forwardDN"}


def xml(root: str, children: str, *, ns: str | None = NS, decl: bool = True) -> bytes:
    """A document written by hand, so faulty ones can be written too."""
    xmlns = f' xmlns="{ns}"' if ns else ""
    head = '<?xml version="1.0" encoding="ISO-8859-1"?>\n' if decl else ""
    return f"{head}<{root}{xmlns}>{children}</{root}>".encode("latin-1")


def dnd(on: str = "true", root: str = "DoNotDisturbEvent", **kw: object) -> bytes:
    return xml(root, f"<device>1001</device><doNotDisturbOn>{on}</doNotDisturbOn>", **kw)


def fwd(kind: str, on: str, to: str | None = None, rings: str | None = None, root: str = "ForwardingEvent") -> bytes:
    target = "" if to is None else f"<{TARGET[root]}>{to}</{TARGET[root]}>"
    ring = "" if rings is None else f"<ringCount>{rings}</ringCount>"
    body = f"<device>1001</device><forwardingType>{kind}</forwardingType><{FLAG[root]}>{on}</{FLAG[root]}>"
    return xml(root, body + target + ring)


def reasons(doc: FeatureDocument) -> list[str]:
    return [p.reason for p in doc.problems]


# ---------------------------------------------------------------- valid documents


@pytest.mark.parametrize(
    ("data", "root", "kind", "feature", "summary"),
    [
        (dnd("true"), "DoNotDisturbEvent", "event", "DND", "DND on"),
        (dnd("false", root="SetDoNotDisturb"), "SetDoNotDisturb", "request", "DND", "DND off"),
        (fwd("forwardImmediate", "true", "1002"), "ForwardingEvent", "event", "CFA", "CFA -> 1002"),
        (fwd("forwardBusy", "false", ""), "ForwardingEvent", "event", "CFB", "CFB off"),
        (
            fwd("forwardNoAns", "true", "1002", "4"),
            "ForwardingEvent",
            "event",
            "CFNA",
            "CFNA -> 1002 after 4 rings",
        ),
        (
            fwd("forwardNoAns", "true", "1002", "1", root="SetForwarding"),
            "SetForwarding",
            "request",
            "CFNA",
            None,
        ),
        (fwd("forwardBusy", "false", root="SetForwarding"), "SetForwarding", "request", "CFB", "CFB off"),
    ],
)
def test_valid_documents_of_all_four_roots(
    data: bytes, root: str, kind: str, feature: str, summary: str | None
) -> None:
    doc = parse_document(data)
    assert (doc.root, doc.namespace, doc.kind, doc.feature, doc.worst) == (root, NS, kind, feature, "pass")
    assert doc.problems == () and doc.device == "1001"
    assert doc.summary() == (summary or "CFNA -> 1002 after 1 ring")


def test_fields_of_a_forwarding_event_and_a_request() -> None:
    event = parse_document(fwd("forwardNoAns", "true", "1002", "4"))
    assert (event.forwarding_type, event.active, event.target, event.ring_count, event.dnd) == (
        "forwardNoAns",
        True,
        "1002",
        4,
        None,
    )
    request = parse_document(fwd("forwardImmediate", "true", "*72", root="SetForwarding"))
    assert (request.active, request.target, request.ring_count) == (True, "*72", None)


def test_child_order_is_free() -> None:
    shuffled = xml(
        "ForwardingEvent",
        "<ringCount>4</ringCount><forwardTo>1002</forwardTo><forwardStatus>true</forwardStatus>"
        "<forwardingType>forwardNoAns</forwardingType><device>1001</device>",
    )
    assert parse_document(shuffled) == parse_document(fwd("forwardNoAns", "true", "1002", "4"))


@pytest.mark.parametrize(
    ("device", "expected"),
    [("<device>1001</device>", "1001"), ("<device/>", ""), ("<device><notKnown/></device>", "notKnown")],
)
def test_device_is_read_but_never_judged(device: str, expected: str) -> None:
    doc = parse_document(xml("DoNotDisturbEvent", f"{device}<doNotDisturbOn>true</doNotDisturbOn>"))
    assert (doc.device, doc.problems) == (expected, ())


def test_unknown_children_and_attributes_are_ignored() -> None:
    data = xml(
        "DoNotDisturbEvent",
        '<monitorCrossRefID>7</monitorCrossRefID><device typeOfNumber="dialingNumber">1001</device>'
        '<extensions><privateData x="1"/></extensions><doNotDisturbOn>true</doNotDisturbOn>'
        '<csta:extra xmlns:csta="urn:vendor">x</csta:extra>',
    )
    doc = parse_document(data)
    assert (doc.problems, doc.dnd, doc.device) == ((), True, "1001")


def test_white_space_around_values_is_tolerated_but_not_other_spaces() -> None:
    assert parse_document(dnd(" \n true\t")).dnd is True
    nbsp = parse_document(dnd("\xa0true"))
    assert nbsp.worst == "fail" and len(nbsp.problems) == 1  # one reason, not a second one from the XSD


def test_empty_or_absent_ring_count_and_absent_target_when_off_are_fine() -> None:
    assert parse_document(fwd("forwardNoAns", "false", "", "")).problems == ()
    assert parse_document(fwd("forwardNoAns", "false")).problems == ()
    assert parse_document(fwd("forwardBusy", "false", root="SetForwarding")).problems == ()


def test_prefixed_root_in_the_right_namespace_passes() -> None:
    data = (
        f'<c:DoNotDisturbEvent xmlns:c="{NS}"><c:device>1</c:device>'
        "<c:doNotDisturbOn>false</c:doNotDisturbOn></c:DoNotDisturbEvent>"
    ).encode()
    assert parse_document(data).problems == ()


# ---------------------------------------------------------------- every problem kind


@pytest.mark.parametrize(
    ("data", "severity", "words"),
    [
        (dnd(ns=NS_HYPHENLESS), "warn", "hyphenless"),
        (dnd(ns=None), "warn", "no namespace"),
        (dnd(ns="urn:other"), "fail", "namespace urn:other is not"),
        (xml("DoNotDisturbEvent", "<doNotDisturbOn>true</doNotDisturbOn>"), "fail", "has no <device>"),
        (xml("SetDoNotDisturb", "<device>1</device>"), "fail", "SetDoNotDisturb has no <doNotDisturbOn>"),
        (
            xml("ForwardingEvent", "<device>1</device><forwardStatus>false</forwardStatus>"),
            "fail",
            "<forwardingType>",
        ),
        (
            xml("SetForwarding", "<device>1</device><forwardingType>forwardBusy</forwardingType>"),
            "fail",
            "<activateForward>",
        ),
        (dnd("yes"), "fail", "doNotDisturbOn is 'yes', not true/false"),
        (dnd("True"), "fail", "not true/false"),
        (dnd(""), "fail", "doNotDisturbOn is '', not true/false"),
        (fwd("forwardBusy", "yes"), "fail", "forwardStatus is 'yes', not true/false"),
        (fwd("forwardBusy", "1", root="SetForwarding"), "fail", "activateForward is '1', not true/false"),
        (fwd("forwardAlways", "false"), "fail", "forwardingType 'forwardAlways' is not one of"),
        (fwd("forwardImmediate", "true", ""), "fail", "forwardStatus is true but forwardTo is empty"),
        (fwd("forwardImmediate", "true"), "fail", "forwardStatus is true but forwardTo is absent"),
        (fwd("forwardImmediate", "true", " ", root="SetForwarding"), "fail", "forwardDN is empty"),
        (fwd("forwardNoAns", "true", "1002", "four"), "fail", "ringCount 'four' is not an integer"),
        (fwd("forwardNoAns", "true", "1002", "-1"), "fail", "not an integer"),
        (fwd("forwardBusy", "false", "", "3"), "fail", "only forwardNoAns has one"),
        (
            fwd("forwardImmediate", "true", "1", "2", root="SetForwarding"),
            "fail",
            "given with forwardImmediate",
        ),
        (
            dnd().replace(b"</DoNotDisturbEvent>", b"<device>2</device></DoNotDisturbEvent>"),
            "fail",
            "<device> appears 2 times",
        ),
        (xml("Unknown", "<device>1</device>"), "fail", "root Unknown is not an as-feature-event document"),
        (
            xml("DoNotDisturbEvent", "<device xmlns=''>1</device><doNotDisturbOn>true</doNotDisturbOn>"),
            "warn",
            "children not in",
        ),
        (
            xml(
                "DoNotDisturbEvent",
                "<x:device xmlns:x='urn:x'>1</x:device><doNotDisturbOn>true</doNotDisturbOn>",
            ),
            "fail",
            "in namespace urn:x does not count",
        ),
    ],
)
def test_every_problem_kind(data: bytes, severity: str, words: str) -> None:
    doc = parse_document(data)
    assert doc.worst == severity
    assert any(words in r for r in reasons(doc)), doc.problems


def test_a_fault_gets_one_reason_not_a_second_from_the_schema() -> None:
    for data in (
        dnd("yes"),
        fwd("forwardAlways", "false"),
        fwd("forwardNoAns", "true", "1", "x"),
        dnd(ns=None),
    ):
        assert len(parse_document(data).problems) == 1, parse_document(data).problems
    missing = parse_document(xml("ForwardingEvent", "<device>1</device>"))
    assert reasons(missing) == [
        "ForwardingEvent has no <forwardingType>",
        "ForwardingEvent has no <forwardStatus>",
    ]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (
            fwd("forwardImmediate", "true", "<n>1002</n>"),
            "schema: <forwardTo> Element content is not allowed",
        ),
        (dnd().replace(b"<device>", b"stray text<device>"), "schema: <DoNotDisturbEvent> Character content"),
    ],
)
def test_the_schema_adds_what_the_hand_checks_cannot_see(data: bytes, words: str) -> None:
    doc = parse_document(data)
    assert doc.worst == "fail" and any(r.startswith(words) for r in reasons(doc)), doc.problems


def test_the_schema_is_loaded_once() -> None:
    for _ in range(50):
        parse_document(dnd())
    assert documents.judge._schema.cache_info().misses <= 1


def test_summaries_of_incomplete_documents() -> None:
    assert parse_document(xml("Foo", "")).summary() == "Foo (not a feature document)"
    assert parse_document(dnd("maybe")).summary() == "DND ?"
    assert parse_document(fwd("forwardSometimes", "false")).summary() == "forwarding forwardSometimes off"
    assert parse_document(fwd("forwardBusy", "true", "")).summary() == "CFB -> ?"


# ---------------------------------------------------------------- DTDs and entities: never expanded

BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10))
    + b"]>\n<DoNotDisturbEvent><device>&lol9;</device><doNotDisturbOn>true</doNotDisturbOn></DoNotDisturbEvent>"
)


@pytest.fixture
def libxml2_input(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Records every byte string handed to libxml2 by the module."""
    seen: list[bytes] = []
    real = documents.safexml.etree.fromstring

    def spy(data: bytes, parser: object = None) -> object:
        seen.append(data)
        return real(data, parser)

    monkeypatch.setattr(documents.safexml.etree, "fromstring", spy)
    return seen


def test_billion_laughs_is_judged_without_expansion(libxml2_input: list[bytes]) -> None:
    doc = parse_document(BILLION_LAUGHS)
    assert (doc.root, doc.dnd, doc.device) == ("DoNotDisturbEvent", True, "&lol9;")
    assert doc.problems[0] == documents.Problem("fail", DTD_REASON) and doc.worst == "fail"
    assert all(b"<!ENTITY" not in data and b"<!DOCTYPE" not in data for data in libxml2_input)
    assert len(repr(doc)) < 1000


def test_external_entities_read_no_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    for url in (secret.as_uri(), "file:///etc/passwd"):
        data = (
            f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "{url}"><!ENTITY % p SYSTEM "{url}"> %p;]>'
            f'<DoNotDisturbEvent xmlns="{NS}"><device>&x;</device><doNotDisturbOn>false</doNotDisturbOn>'
            "</DoNotDisturbEvent>"
        ).encode()
        doc = parse_document(data)
        assert doc.device == "&x;" and doc.dnd is False and reasons(doc) == [DTD_REASON]
        assert "TOP-SECRET" not in repr(doc) and "root:" not in repr(doc)


def test_external_entities_and_dtds_open_no_connection() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.setblocking(False)
        url = f"http://127.0.0.1:{server.getsockname()[1]}/x"
        for data in (
            f'<!DOCTYPE d [<!ENTITY x SYSTEM "{url}">]><DoNotDisturbEvent><device>&x;</device></DoNotDisturbEvent>',
            f'<!DOCTYPE DoNotDisturbEvent SYSTEM "{url}.dtd"><DoNotDisturbEvent><device/></DoNotDisturbEvent>',
            '<!DOCTYPE d [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]><DoNotDisturbEvent>&x;</DoNotDisturbEvent>',
        ):
            assert parse_document(data.encode()).problems[0].reason == DTD_REASON
        with pytest.raises(BlockingIOError):
            server.accept()  # nobody connected


@pytest.mark.parametrize(
    "data",
    [
        b"<!DOCTYPE DoNotDisturbEvent>" + dnd(decl=False),
        b'<?xml version="1.0"?><!-- c --><!DOCTYPE d [<!-- ] > --><!ATTLIST d a CDATA "]>">]>' + dnd(decl=False),
        dnd().decode().replace("?>\n", '?><!DOCTYPE d [<!ENTITY t "true">]>').replace(">true<", ">&t;<").encode(),
        "<!DOCTYPE d [<!ENTITY x 'y'>]>".encode("utf-16") + dnd(decl=False).decode().encode("utf-16")[2:],
    ],
)
def test_any_dtd_is_a_fail_on_a_still_readable_document(data: bytes) -> None:
    doc = parse_document(data)
    assert doc.root == "DoNotDisturbEvent" and doc.problems[0].reason == DTD_REASON


def test_entity_reference_is_kept_literally_and_judged() -> None:
    data = b'<!DOCTYPE d [<!ENTITY t "true">]>' + dnd("&t;", decl=False)
    assert "doNotDisturbOn is '&t;', not true/false" in reasons(parse_document(data))


def test_doctype_text_in_cdata_or_comments_is_not_a_dtd() -> None:
    data = xml(
        "DoNotDisturbEvent",
        "<!-- <!DOCTYPE x> --><device><![CDATA[<!ENTITY x>]]></device><doNotDisturbOn>true</doNotDisturbOn>",
    )
    doc = parse_document(data)
    assert (doc.device, doc.problems) == ("<!ENTITY x>", ())


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b'<!DOCTYPE d [<!ENTITY x "y">' + dnd(decl=False), "unterminated DOCTYPE"),
        (b'<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE d +AFs-+AF0-+AD4-<d/>', "UTF-7"),
        (b"<DoNotDisturbEvent>&undeclared;</DoNotDisturbEvent>", "not well-formed"),
    ],
)
def test_dtds_that_cannot_be_read_safely_are_refused(data: bytes, words: str) -> None:
    with pytest.raises(DocumentError, match=words):
        parse_document(data)


def test_a_dtd_missed_by_the_scan_is_refused_after_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents.safexml, "_declares", lambda data, codec: False)
    with pytest.raises(DocumentError, match="could not read"):
        parse_document(b"<!DOCTYPE DoNotDisturbEvent>" + dnd(decl=False))


# ---------------------------------------------------------------- unusable input


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty document"),
        (b" \r\n\t", "empty document"),
        (b"<DoNotDisturbEvent>", "not well-formed"),
        (b"hello", "not well-formed"),
        (b"<a>" * 10_000 + b"</a>" * 10_000, "nested too deeply"),
        (b"<?xml version='1.0' encoding='UTF-8'?><d>\xff\xfe</d>", "bad encoding"),
        (b"<?xml version='1.0' encoding='x-klingon'?><d/>", "bad encoding"),
        (b"<?xml version='1.0' encoding='UTF-16'?><d/>", "encoding|not well-formed"),
        (b"\xff\xfe<\x00!\x00D\x00O\x00C\x00T\x00Y\x00P\x00E\x00\x00\xd8", "bad encoding"),
        (b"<d>\x00</d>", "not well-formed"),
        ("<d/>", "not bytes"),
    ],
)
def test_unusable_documents_raise_document_error(data: bytes, words: str) -> None:
    with pytest.raises(DocumentError, match=words) as info:
        parse_document(data)
    assert "\n" not in str(info.value)


def test_oversized_body_is_refused_before_parsing(libxml2_input: list[bytes]) -> None:
    with pytest.raises(DocumentError, match="exceeds the limit"):
        parse_document(b"<d>" + b"x" * 10_000_000 + b"</d>")
    with pytest.raises(DocumentError, match="exceeds the limit of 100"):
        parse_document(dnd(), max_bytes=100)
    assert libxml2_input == []


# ---------------------------------------------------------------- concatenated documents (FKS-NTF-4)


def test_split_concatenated() -> None:
    one, two = dnd(), fwd("forwardBusy", "false")
    assert split_concatenated(one) == [one]
    assert split_concatenated(one + two) == [one, two]
    assert split_concatenated(one + b"\r\n" + two) == [one + b"\r\n", two]
    assert split_concatenated(b"<a/><b>x</b>") == [b"<a/>", b"<b>x</b>"]
    assert split_concatenated(dnd(decl=False) + two) == [dnd(decl=False), two]


@pytest.mark.parametrize(
    "data",
    [
        dnd() + b"\n<!-- trailing comment <?xml version='1.0'?> <a/> -->\n",
        xml(
            "DoNotDisturbEvent",
            "<device><![CDATA[<?xml version='1.0'?><b/>]]></device><doNotDisturbOn>true</doNotDisturbOn>",
        ),
        b"<?xml-stylesheet href='x'?>" + dnd(decl=False),
        b'<a title="&gt; <b/>"><c/></a>',
        b"<!DOCTYPE a [<!ELEMENT a ANY>]><a/>",
        "<a/><b/>".encode("utf-16"),
        b"<a><b",
        b"",
    ],
)
def test_one_document_stays_one_piece(data: bytes) -> None:
    assert split_concatenated(data) == ([data] if data else [])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(ROOTS), min_size=1, max_size=4), st.lists(st.sampled_from(["", "\n", " \r\n"])))
def test_split_finds_every_concatenated_document(roots: list[str], gaps: list[str]) -> None:
    pieces = [_valid(root) + (gaps[i].encode() if i < len(gaps) else b"") for i, root in enumerate(roots)]
    assert split_concatenated(b"".join(pieces)) == pieces


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_split_gives_the_body_back(data: bytes) -> None:
    assert b"".join(split_concatenated(data)) == data


def _valid(root: str) -> bytes:
    if root in FLAG:
        return build_document(root, device="1", forwarding_type="forwardBusy", active=False)
    return build_document(root, device="1", dnd=True)


# ---------------------------------------------------------------- building and round trips


def test_build_document_refuses_what_no_document_carries() -> None:
    with pytest.raises(ValueError, match="unknown root"):
        build_document("Nonsense")
    with pytest.raises(ValueError, match="does not carry dnd"):
        build_document("ForwardingEvent", dnd=True)
    with pytest.raises(ValueError, match="does not carry forwarding_type, target"):
        build_document("SetDoNotDisturb", forwarding_type="forwardBusy", target="1")
    with pytest.raises(ValueError, match="negative"):
        build_document("SetForwarding", forwarding_type="forwardNoAns", ring_count=-1)


def test_build_document_writes_what_broadworks_writes() -> None:
    data = build_document("ForwardingEvent", device="1001", forwarding_type="forwardBusy", active=False, target="")
    assert data.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<ForwardingEvent ')
    assert f'<ForwardingEvent xmlns="{NS}">'.encode() in data and b"<forwardTo></forwardTo>" in data
    assert b"<doNotDisturbOn>" not in build_document("SetDoNotDisturb")  # left out: None
    assert reasons(parse_document(build_document("SetDoNotDisturb"))) == ["SetDoNotDisturb has no <doNotDisturbOn>"]


XML_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Cn")) | st.sampled_from("\t\n\r"), max_size=12)
STRIPPED = XML_TEXT.filter(lambda s: s == s.strip(" \t\r\n"))


@settings(max_examples=200, deadline=None)
@given(
    root=st.sampled_from(ROOTS),
    device=STRIPPED,
    state=st.none() | st.booleans(),
    ftype=st.none() | st.sampled_from([*documents.FORWARDING_TYPES, "forwardSometimes"]),
    target=st.none() | STRIPPED,
    rings=st.none() | st.integers(min_value=0, max_value=10**6),
    namespace=st.sampled_from([NS, NS_HYPHENLESS, None]),
    encoding=st.sampled_from(["ISO-8859-1", "UTF-8", "UTF-16"]),
)
def test_build_parse_round_trip_preserves_every_field(
    root: str,
    device: str,
    state: bool | None,
    ftype: str | None,
    target: str | None,
    rings: int | None,
    namespace: str | None,
    encoding: str,
) -> None:
    forwarding = root in FLAG
    fields = {"forwarding_type": ftype, "active": state, "target": target, "ring_count": rings}
    kwargs = fields if forwarding else {"dnd": state}
    doc = parse_document(build_document(root, device=device, namespace=namespace, encoding=encoding, **kwargs))
    assert (doc.root, doc.namespace, doc.device) == (root, namespace, device)
    if forwarding:
        assert (doc.forwarding_type, doc.active, doc.target, doc.ring_count, doc.dnd) == (
            *fields.values(),
            None,
        )
        valid = ftype in documents.FORWARDING_TYPES and state is not None and (not state or bool(target))
        valid = valid and (rings is None or ftype == "forwardNoAns")
    else:
        assert (doc.dnd, doc.forwarding_type, doc.active, doc.target, doc.ring_count) == (
            state,
            None,
            None,
            None,
            None,
        )
        valid = state is not None
    expected = "fail" if not valid else "pass" if namespace == NS else "warn"
    assert doc.worst == expected, doc.problems


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_document_error(data: bytes) -> None:
    try:
        doc = parse_document(data)
    except DocumentError as exc:
        assert "\n" not in str(exc)
        return
    assert doc.summary() and doc.worst in ("pass", "warn", "fail")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_content_in_a_root_raises_only_document_error(text: str) -> None:
    with contextlib.suppress(DocumentError):
        parse_document(f'<DoNotDisturbEvent xmlns="{NS}">{text}</DoNotDisturbEvent>'.encode("utf-8", "replace"))


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([dnd(), fwd("forwardNoAns", "true", "1002", "4"), BILLION_LAUGHS]),
    st.lists(st.tuples(st.integers(min_value=0, max_value=400), st.binary(max_size=4)), max_size=4),
)
def test_mangled_documents_raise_only_document_error(data: bytes, edits: list[tuple[int, bytes]]) -> None:
    for at, insert in edits:
        data = data[:at] + insert + data[at + len(insert) :]
    with contextlib.suppress(DocumentError):
        parse_document(data).summary()
