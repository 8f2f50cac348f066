"""``fks monitor`` without a network: the replay of every reference capture through the monitor path
(``--once``) against ``fks audit`` of the same file, and the live engine's clock, windows and output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from analyzer.judging import AuditSettings
from analyzer.monitor import Monitor
from analyzer.observation import Endpoint, Observation
from analyzer.rules.base import Options
from peers.cli import main
from peers.monitor.output import Lines
from tests.test_corpus import EXPECTED, audited, capture_for

CAPTURES = Path(__file__).resolve().parents[1] / "captures"
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def cli_options(spec: dict) -> list[str]:
    """The ``fks`` options that say what a capture's ``expected.json`` says."""
    opts = spec.get("options", {})
    out = []
    if opts.get("provisioning"):
        out += ["--provisioning", str(CAPTURES / opts["provisioning"])]
    if opts.get("model"):
        out += ["--model", opts["model"]]
    if opts.get("internal_telephony") is not None:
        out += ["--internal-telephony", "on" if opts["internal_telephony"] else "off"]
    if opts.get("notify_timeout"):
        out += ["--notify-timeout", str(opts["notify_timeout"])]
    for spec_ in opts.get("decode_as") or ():
        out += ["--decode-as", spec_]
    return out


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def by_subscription(subscriptions: list[dict]) -> list[tuple]:
    """Each subscription and its rules' verdicts (a long dialog the monitor compacted cites fewer frames and
    counts fewer findings in its details, so those are not compared)."""
    return sorted(
        (s["call_id"], s["aor"], s["client"], s["server"], [(v["rule"], v["verdict"]) for v in s["verdicts"]])
        for s in subscriptions
    )


@needs_tshark
@pytest.mark.parametrize("expected", EXPECTED, ids=lambda p: p.name.removesuffix(".expected.json"))
def test_once_replays_a_capture_to_the_verdicts_of_the_audit(expected: Path, tmp_path: Path) -> None:
    spec, audit = audited(expected)  # shared with test_corpus when the same process ran it
    capture = capture_for(expected)
    out = tmp_path / "monitor.jsonl"
    status = main(["monitor", "--once", str(capture), *cli_options(spec), "--output", str(out)])
    records = read_lines(out)
    subs = [r for r in records if r["scope"] == "subscription"]
    windows = [r for r in records if r["scope"] == "capture"]
    assert by_subscription(subs) == by_subscription(audit["subscriptions"])
    assert len(windows) == 1 and windows[0]["verdicts"] == audit["verdicts"]
    for sub in subs:
        assert sub["window"]["start"] <= sub["window"]["end"]
    fails = any(v["verdict"] == "fail" for r in records for v in r["verdicts"])
    assert status == (1 if fails else 0)


def test_once_on_an_unreadable_file_is_one_line_and_status_2(tmp_path: Path, capsys) -> None:
    bogus = tmp_path / "bogus.pcapng"
    bogus.write_bytes(b"not a capture at all")
    assert main(["monitor", "--once", str(bogus)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fks: ") and "\n" not in err and "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["monitor"],
        ["monitor", "--hep", "127.0.0.1:9060", "-i", "lo"],
        ["monitor", "--hep", "127.0.0.1:9060", "--filter", "port 5060"],
        ["monitor", "--hep", "127.0.0.1:9060", "--window", "0"],
        ["monitor", "--hep", "nowhere"],
    ],
    ids=["no-source", "two-sources", "filter-without-iface", "zero-window", "bad-address"],
)
def test_bad_arguments_are_one_line_and_status_2(argv: list[str], capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fks: error:") and "\n" not in err


def _message(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


BASE, AS = Endpoint("192.0.2.10", 5060), Endpoint("198.51.100.20", 5060)
HEADERS = (
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK{branch}\nFrom: <sip:1001@example.test>;tag=b1\n"
    "To: <sip:1001@example.test>{to_tag}\nCall-ID: live-1\nCSeq: {cseq} {method}\nMax-Forwards: 70\n"
)


def _subscribe(expires: int, branch: str, cseq: int, to_tag: str = "") -> bytes:
    head = HEADERS.format(branch=branch, to_tag=to_tag, cseq=cseq, method="SUBSCRIBE")
    return _message(
        f"SUBSCRIBE sip:1001@example.test SIP/2.0\n{head}Contact: <sip:1001@192.0.2.10>\n"
        f"Event: as-feature-event\nAccept: application/x-as-feature-event+xml\nExpires: {expires}\n"
        "Content-Length: 0\n\n"
    )


def _ok(branch: str, cseq: int, expires: int) -> bytes:
    head = HEADERS.format(branch=branch, to_tag=";tag=as1", cseq=cseq, method="SUBSCRIBE")
    return _message(f"SIP/2.0 200 OK\n{head}Contact: <sip:as@198.51.100.20>\nExpires: {expires}\nContent-Length: 0\n\n")


def test_the_clock_settles_an_unanswered_subscription_and_its_timer_counts_as_passed() -> None:
    """No NOTIFY follows the grant; with no more traffic, ticks alone settle the dialog, and FKS-NTF-1 judges
    the missing NOTIFY as missing (the recording ran on), not as cut off by the end of a capture."""
    settings = AuditSettings(Options())
    monitor = Monitor(settings, window=None, reorder=0.0)
    t0 = 1796000000.0
    assert monitor.feed(Observation(1, t0, BASE, AS, "udp", _subscribe(60, "s1", 1))) == []
    assert monitor.feed(Observation(2, t0 + 0.01, AS, BASE, "udp", _ok("s1", 1, 60))) == []
    assert monitor.open_subscriptions == 1
    assert monitor.tick(t0 + 30) == []  # granted for 60 s: not over
    settled = [r for now in range(0, 400, 10) for r in monitor.tick(t0 + 60 + now)]
    assert [r["call_id"] for r in settled] == ["live-1"]
    assert monitor.open_subscriptions == 0 and monitor.settled == 1
    verdicts = {v["rule"]: v["verdict"] for v in settled[0]["verdicts"]}
    assert verdicts["FKS-NTF-1"] == "fail"  # CONFORMANCE: no initial NOTIFY within T_notify of the 2xx
    assert settled[0]["window"] == {"start": t0, "end": t0 + 0.01}
    assert monitor.verdicts[("FKS-NTF-1", "fail")] == 1


def test_messages_out_of_order_reach_the_engine_in_time_order() -> None:
    monitor = Monitor(AuditSettings(Options()), window=None, reorder=1.0)
    t0 = 1796000000.0
    monitor.feed(Observation(2, t0 + 0.01, AS, BASE, "udp", _ok("s1", 1, 60)))  # the answer overtook its request
    monitor.feed(Observation(1, t0, BASE, AS, "udp", _subscribe(60, "s1", 1)))
    assert monitor.waiting == 2 and monitor.messages == 0
    monitor.tick(t0 + 2)
    assert monitor.waiting == 0 and monitor.messages == 2
    sub = monitor.judging.engine.trace.subscriptions[0]
    assert sub.subscribes[0].final is not None and sub.subscribes[0].final.status == 200


def test_capture_scope_windows_close_on_the_clock_and_forget_what_they_judged() -> None:
    monitor = Monitor(AuditSettings(Options()), window=60.0, reorder=0.0)
    t0 = 1796000000.0
    garbage = b"NOTIFY\r\nEvent: as-feature-event\r\n\r\n"  # unparsable, claims feature sync
    monitor.feed(Observation(1, t0, AS, BASE, "udp", garbage))
    records = monitor.tick(t0 + 61)
    assert [r["scope"] for r in records] == ["capture"]
    assert records[0]["window"] == {"start": t0, "end": t0 + 61}
    assert {v["rule"]: v["verdict"] for v in records[0]["verdicts"]}["FKS-SIP-1"] == "fail"
    assert monitor.judging.engine.trace.unparsed == []
    later = monitor.tick(t0 + 122)
    assert [v["rule"] for v in later[0]["verdicts"] if v["verdict"] == "fail"] == []


def test_output_rotates_by_size_and_keeps_n_files(tmp_path: Path) -> None:
    path = tmp_path / "verdicts.jsonl"
    lines = Lines(str(path), max_bytes=200, keep=2)
    for n in range(20):
        lines.write([{"n": n, "pad": "x" * 40}])
    lines.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["verdicts.jsonl", "verdicts.jsonl.1", "verdicts.jsonl.2"]
    newest = read_lines(path)
    assert newest[-1]["n"] == 19 and all(p.stat().st_size <= 200 for p in tmp_path.iterdir())
    numbers = [
        r["n"]
        for name in ("verdicts.jsonl.2", "verdicts.jsonl.1", "verdicts.jsonl")
        for r in read_lines(tmp_path / name)
    ]
    assert numbers == sorted(numbers) and numbers[-1] == 19


def _notify(cseq: int) -> bytes:
    head = (
        f"Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bKn{cseq}\nFrom: <sip:1001@example.test>;tag=as1\n"
        f"To: <sip:1001@example.test>;tag=b1\nCall-ID: live-1\nCSeq: {cseq} NOTIFY\n"
    )
    notify = _message(
        f"NOTIFY sip:1001@192.0.2.10 SIP/2.0\n{head}Max-Forwards: 70\nEvent: as-feature-event\n"
        "Subscription-State: active;expires=10\nContact: <sip:as@198.51.100.20>\nContent-Length: 0\n\n"
    )
    return notify, _message(f"SIP/2.0 200 OK\n{head}Content-Length: 0\n\n")


def long_dialog(cycles: int, silent: int) -> list[Observation]:
    """One dialog refreshed every 8 s for ``cycles`` refreshes; refresh number ``silent`` gets no NOTIFY."""
    out: list[Observation] = []
    t = 1796000000.0
    for n in range(cycles):
        to_tag = "" if n == 0 else ";tag=as1"
        notify, ok = _notify(n + 1)
        steps = [(_subscribe(10, f"s{n}", n + 1, to_tag), BASE, AS), (_ok(f"s{n}", n + 1, 10), AS, BASE)]
        if n != silent:
            steps += [(notify, AS, BASE), (ok, BASE, AS)]
        for data, src, dst in steps:
            out.append(Observation(len(out) + 1, t, src, dst, "udp", data))
            t += 0.01
        t += 8
    return out


def test_a_long_lived_dialog_is_compacted_and_keeps_the_verdicts_of_the_whole() -> None:
    """300 refreshes (40 minutes) of one dialog: the monitor keeps a bounded part of it, yet every rule's
    verdict is what judging the whole dialog at once gives, the missing NOTIFY of refresh 50 included."""
    from analyzer.judging import judge_stream

    observations = long_dialog(300, silent=50)
    settings = AuditSettings(Options())
    whole: list = []
    judge_stream(observations, settings, lambda sub, results: whole.append(results))
    monitor = Monitor(settings, window=None, reorder=0.0)
    largest = 0
    for obs in observations:
        monitor.feed(obs)
        for sub in monitor.judging.engine.trace.subscriptions:
            largest = max(largest, len(sub.subscribes) + len(sub.notifies))
    (record,) = [r for r in monitor.finish() if r["scope"] == "subscription"]
    assert largest < 100  # of 599 transactions
    assert {v["rule"]: v["verdict"] for v in record["verdicts"]} == {r.rule: r.verdict.value for r in whole[0]}
    ntf_1 = next(v for v in record["verdicts"] if v["rule"] == "FKS-NTF-1")
    silent_subscribe = 50 * 4 + 1  # frames of refreshes 0..49 (4 each), then refresh 50's SUBSCRIBE
    assert ntf_1["verdict"] == "fail" and silent_subscribe + 1 in ntf_1["frames"]  # its 2xx is cited
    assert record["window"]["start"] == observations[0].time


def test_a_compaction_frees_what_it_drops_at_once_a_dialog_at_a_time() -> None:
    """Flat memory under a steady load (the soak) needs no saw: each dialog compacts when its own refresh
    comes, not every dialog together when the engine settles; what a compaction drops keeps none of the
    parses its judging made; and the retransmission index lets a transaction go a horizon after it, not at
    the next settling. A refresh every 8 s and a horizon of 74 s: about 20 transactions are within reach."""
    from analyzer.compaction import COMPACT_AT

    monitor = Monitor(AuditSettings(Options()), window=None, reorder=0.0)
    engine = monitor.judging.engine
    within = 2 * (int(engine.horizon // 8.04) + 1)  # SUBSCRIBE and NOTIFY transactions of the last horizon
    held: dict[int, object] = {}
    dropped, most_held, most_indexed = [], 0, 0
    for obs in long_dialog(60, silent=-1):
        monitor.feed(obs)
        (sub,) = engine.trace.subscriptions
        now = {id(tx): tx for tx in [*sub.subscribes, *sub.notifies]}
        dropped += [tx for key, tx in held.items() if key not in now]
        held = now
        most_held, most_indexed = max(most_held, len(now)), max(most_indexed, len(engine._recent))
    assert len(dropped) > 60
    assert [m.index for tx in dropped for m in tx.messages() if m._sip is not None] == []
    assert most_held <= within + COMPACT_AT  # before: 30, the dialog's part of every settling period
    assert most_indexed <= within + 1  # before: 28


def test_a_dialog_refreshed_less_often_than_the_horizon_is_compacted_between_its_refreshes() -> None:
    """A 10-minute grant refreshed after 8 minutes, a NOTIFY every 20 s (portal changes): once the refresh is
    a horizon old, what precedes it goes at the engine's next settling, not at the refresh after (which comes
    too late), and the verdicts are those of the whole dialog."""
    from analyzer.judging import judge_stream

    t, out = 1796000000.0, []
    steps = [(t, _subscribe(600, "s0", 1), BASE, AS), (t + 0.01, _ok("s0", 1, 600), AS, BASE)]
    steps += [(t + 480, _subscribe(600, "s1", 2, ";tag=as1"), BASE, AS), (t + 480.01, _ok("s1", 2, 600), AS, BASE)]
    for n in range(45):  # NOTIFY and its 200 every 20 s, to 900 s
        notify, ok = _notify(n + 1)
        steps += [(t + 0.02 + 20 * n, notify, AS, BASE), (t + 0.03 + 20 * n, ok, BASE, AS)]
    steps.sort(key=lambda step: step[0])
    for when, data, src, dst in steps:
        out.append(Observation(len(out) + 1, when, src, dst, "udp", data))
    settings = AuditSettings(Options())
    whole: list = []
    judge_stream(out, settings, lambda sub, results: whole.append(results))
    monitor = Monitor(settings, window=None, reorder=0.0)
    for obs in out:
        monitor.feed(obs)
    (sub,) = monitor.judging.engine.trace.subscriptions
    assert sub.subscribes[0].time == t + 480 and len(sub.notifies) == 21  # those from 480 s on; before: 45
    (record,) = [r for r in monitor.finish() if r["scope"] == "subscription"]
    assert {v["rule"]: v["verdict"] for v in record["verdicts"]} == {r.rule: r.verdict.value for r in whole[0]}
