"""The long fuzzing campaign: every parser of the core and the dialog engine, for as long as you give it.

    .venv/bin/python tests/campaign.py --minutes 30 [--seed 1]

Hypothesis drives each target in turn with random bytes, mutated real messages (from the project's flows)
and structured values, with no example limit, until the time is up. A target may only raise its documented
error types (``SipError``, ``DocumentError``, ``ProvisioningError``); anything else is a finding, printed
with the input that caused it (and the campaign exits 1). Round trips are checked too: a built message
parses back to the same start line, headers and body; a built document parses back to the same values.
The test suite runs the same targets with bounded examples (``tests/test_fuzz.py``).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analyzer.bodies import read_body
from analyzer.dialogs import Engine
from analyzer.documents import FORWARDING_TYPES, DocumentError, build_document, parse_document
from analyzer.observation import Endpoint, Observation
from analyzer.provisioning import ProvisioningError, parse_provisioning
from analyzer.rules import evaluate
from analyzer.rules.base import Context
from analyzer.sip import SipError, StreamFramer, build_message, parse_message, parse_multipart
from peers.craft.flows import Flow, fwd_event, set_dnd
from peers.craft.flows import multipart as multipart_body


def _seeds() -> list[bytes]:
    """Real messages of a whole flow: establish, a change request, a multipart NOTIFY, an unsubscribe."""
    f = Flow()
    f.establish()
    f.subscribe(body=set_dnd(True), ctype="application/x-as-feature-event+xml")
    f.respond()
    ctype, body = multipart_body([fwd_event("forwardNoAns", True, "1002", "4"), set_dnd(False)])
    f.notify(raw_body=(ctype, body))
    f.subscribe(expires=0)
    f.respond(expires=0)
    return [o.data for o in f.observations]


SEEDS = _seeds()


def mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """Apply (position, kind, byte) edits: 0 flip a byte, 1 insert, 2 delete, 3 duplicate a slice."""
    buf = bytearray(data)
    for pos, kind, value in edits:
        if not buf:
            buf.append(value)
            continue
        i = pos % len(buf)
        if kind == 0:
            buf[i] = value
        elif kind == 1:
            buf.insert(i, value)
        elif kind == 2:
            del buf[i]
        else:
            buf[i:i] = buf[i : i + value % 64]
    return bytes(buf)


EDITS = st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 3), st.integers(0, 255)), max_size=12)
MUTATED = st.builds(mutate, st.sampled_from(SEEDS), EDITS)
INPUTS = st.one_of(st.binary(max_size=2048), MUTATED)
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


def parse_sip(data: bytes) -> None:
    try:
        msg = parse_message(data)
    except SipError:
        return
    read_body(msg)  # bodies (multipart, documents) of whatever parsed


def framer(data: bytes) -> None:
    f = StreamFramer()
    try:
        for i in range(0, len(data), 7):
            f.feed(data[i : i + 7])
    except SipError:
        return


def multipart(data: bytes) -> None:
    try:
        parse_multipart(data, "b")
    except SipError:
        return


def document(data: bytes) -> None:
    try:
        parse_document(data)
    except DocumentError:
        return


def provisioning(data: bytes) -> None:
    try:
        parse_provisioning(data)
    except ProvisioningError:
        return


def engine(data: bytes) -> None:
    """Whatever arrives, in any order, the engine files it and every rule judges it without raising."""
    eng = Engine()
    a, b = Endpoint("192.0.2.10", 5060), Endpoint("198.51.100.20", 5060)
    pieces = [data[i : i + 300] for i in range(0, len(data), 300)] or [b""]
    for n, piece in enumerate([*SEEDS[:3], *pieces, *SEEDS[3:]], start=1):
        eng.feed(Observation(n, n * 0.1, a if n % 2 else b, b if n % 2 else a, "udp", piece))
    evaluate(Context(eng.finish()))


TARGETS: dict[str, Callable[[bytes], None]] = {
    "sip": parse_sip,
    "stream framer": framer,
    "multipart": multipart,
    "documents": document,
    "provisioning": provisioning,
    "dialog engine": engine,
}


def round_trip_message(method: str, value: str, body: bytes) -> None:
    headers = [
        ("Via", "SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1"),
        ("Call-ID", "c"),
        ("CSeq", f"1 {method}"),
        ("X-Value", value.replace("\r", " ").replace("\n", " ").strip() or "v"),
    ]
    data = build_message(f"{method} sip:1001@example.test SIP/2.0", headers, body)
    msg = parse_message(data)
    assert msg.method == method and msg.body == body and msg.headers.get("X-Value") == headers[3][1], data


def round_trip_document(dnd: bool, ftype: str, active: bool, target: str, rings: int) -> None:
    doc = parse_document(build_document("DoNotDisturbEvent", device="1001", dnd=dnd))
    assert doc.dnd is dnd and doc.feature == "DND"
    target = "".join(c for c in target if c.isalnum()) or "1002"
    ring_count = rings if FORWARDING_TYPES[ftype] == "CFNA" else None
    built = build_document(
        "ForwardingEvent", device="1001", forwarding_type=ftype, active=active, target=target, ring_count=ring_count
    )
    back = parse_document(built)
    assert (back.active, back.target, back.ring_count) == (active, target, ring_count), built


ROUND_TRIPS: dict[str, Callable[[], Callable[[], None]]] = {
    "message round trip": lambda: given(
        st.sampled_from(["SUBSCRIBE", "NOTIFY", "REGISTER"]), TEXT, st.binary(max_size=200)
    )(round_trip_message),
    "document round trip": lambda: given(
        st.booleans(), st.sampled_from(sorted(FORWARDING_TYPES)), st.booleans(), TEXT, st.integers(0, 20)
    )(round_trip_document),
}


def run(minutes: float, base_seed: int) -> int:
    deadline = time.monotonic() + minutes * 60
    findings: list[str] = []
    counts = dict.fromkeys([*TARGETS, *ROUND_TRIPS], 0)
    rounds = 0
    while time.monotonic() < deadline:
        rounds += 1
        for name, target in TARGETS.items():
            if time.monotonic() >= deadline:
                break

            test = settings(
                max_examples=2000,
                deadline=None,
                database=None,
                derandomize=False,
                suppress_health_check=list(HealthCheck),
            )(seed(base_seed * 100_003 + rounds)(given(INPUTS)(_counted(target, name, counts))))
            findings += _attempt(name, test)
        for name, make in ROUND_TRIPS.items():
            counts[name] += 500
            findings += _attempt(name, settings(max_examples=500, deadline=None, database=None)(make()))
        print(f"round {rounds}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()), flush=True)
    print(f"campaign over: {sum(counts.values()):,} inputs in {minutes:g} min, {len(findings)} finding(s)")
    for finding in findings:
        print(finding)
    return 1 if findings else 0


def _counted(target: Callable[[bytes], None], name: str, counts: dict[str, int]) -> Callable[[bytes], None]:
    def check(data: bytes) -> None:
        counts[name] += 1
        target(data)

    return check


def _attempt(name: str, test: Callable[[], None]) -> list[str]:
    try:
        test()
    except Exception:  # a finding: hypothesis has already shrunk the input, the traceback shows it
        return [f"--- {name}\n{traceback.format_exc()}"]
    return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    return run(args.minutes, args.seed)


if __name__ == "__main__":
    sys.exit(main())
