"""The fast JSON writer (``analyzer.report.json_text``) writes what ``json.dumps(doc, indent=2)`` writes, byte
for byte: on made-up values of every JSON kind and on the audit documents of real captures, subscriptions
spilled as compressed text (``analyzer.spilled``) and dicts alike."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.audit import audit_file, document
from analyzer.judging import AuditSettings
from analyzer.report.formats import to_json
from analyzer.report.json_text import encode
from analyzer.sip.multipart import _split

CAPTURES = Path(__file__).resolve().parents[1] / "captures"

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
keys = st.one_of(st.text(max_size=6), st.integers(-5, 5), st.booleans(), st.none(), st.floats(-2.5, 2.5))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(values, st.integers(0, 5))
def test_any_value_is_written_as_json_dumps_writes_it(value: object, level: int) -> None:
    expected = json.dumps(value, indent=2).replace("\n", "\n" + "  " * level)
    assert encode(value, level) == expected


def test_an_object_json_cannot_write_is_refused() -> None:
    with pytest.raises(TypeError):
        encode({"a": object()})
    assert encode([math.inf, -math.inf]) == json.dumps([math.inf, -math.inf], indent=2)


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
@pytest.mark.parametrize("messages", [False, True], ids=["lean-entries", "dicts"])
def test_audit_documents_are_written_as_json_dumps_writes_them(messages: bool) -> None:
    names = ["conforming_broadworks.pcap", "malformed_bodies.pcap", "hygiene_faults.pcap", "noise_only.pcap"]
    entries = [audit_file(CAPTURES / n, AuditSettings(), messages=messages, lean=True) for n in names]
    doc = document(entries)
    if messages:
        for cap in doc["captures"]:
            for sub in cap["subscriptions"]:
                sub.pop("messages", None)
                sub.pop("messages_truncated", None)
    plain = document([audit_file(CAPTURES / n, AuditSettings()) for n in names])  # json's own dicts
    assert sum(len(c["subscriptions"]) for c in plain["captures"]) >= 3
    assert "".join(to_json(doc)) == json.dumps(plain, indent=2) + "\n"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"\r", b"\n", b"-", b"b", b"x", b"--b", b"\r\n--b"]), max_size=14))
def test_multipart_split_cuts_where_the_regular_expression_did(chunks: list[bytes]) -> None:
    body = b"".join(chunks)
    for delimiter in (b"--b", b"--b-", b"---"):
        assert _split(body, delimiter) == re.split(b"(?:\r?\n)?" + re.escape(delimiter), body)
