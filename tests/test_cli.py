"""``fks audit`` end to end, as a user runs it: real files, real tshark, exit status, stdout/stderr.

The reference captures of ``../shared/captures`` come from software nobody here wrote; their expected
outcomes are those of ``../shared/captures/INDEX.md``. Tests needing them skip cleanly when absent.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from lxml import etree

from tests.commands import fks
from tests.reports import valid_report

SHARED = Path(__file__).resolve().parents[2] / "shared" / "captures"
OPENSIPS = SHARED / "opensips-3.6.8_presence_dfks_loopback.pcapng"
KAMAILIO = SHARED / "kamailio-6.0.7_presence_dfks_loopback_children1.pcapng"
HEPLIFY = SHARED / "heplify_erspan_sip_ipv4_udp.pcapng"
SNGREP = SHARED / "sngrep_aaa.pcap"

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def shared(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"reference capture {path.name} not found beside the project ({SHARED})")
    return path


def by_rule(subscription: dict) -> dict[str, dict]:
    return {v["rule"]: v for v in subscription["verdicts"]}


def test_opensips_reference_flow_conforms() -> None:
    run = fks("audit", shared(OPENSIPS), "--format", "json")
    assert run.returncode == 0, run.stdout + run.stderr
    doc = valid_report(run.stdout)
    (capture,) = doc["captures"]
    (sub,) = capture["subscriptions"]
    verdicts = by_rule(sub)
    for rule in ("FKS-RSP-1", "FKS-NTF-1", "FKS-NTF-2", "FKS-HS-3", "FKS-TRM-1"):
        assert verdicts[rule]["verdict"] == "pass", verdicts[rule]
    assert doc["summary"]["fail"] == 0
    assert sub["aor"].startswith("sip:alice@")
    assert capture["sip_messages"] == capture["packets"] == 12


def test_kamailio_empty_initial_notify_fails_ntf_2() -> None:
    run = fks("audit", "--decode-as", "udp.port==5072,sip", shared(KAMAILIO), "--format", "json")
    assert run.returncode == 1, run.stdout + run.stderr
    (capture,) = valid_report(run.stdout)["captures"]
    ntf2 = [by_rule(s)["FKS-NTF-2"] for s in capture["subscriptions"]]
    failing = [v for v in ntf2 if v["verdict"] == "fail"]
    assert failing and all(v["frames"] for v in failing)


def test_kamailio_on_5072_needs_no_decode_as() -> None:
    """tshark registers 5072 to AYIYA; the analyzer tries SIP's heuristic first, so the verdicts are the same."""
    runs = [
        fks("audit", *extra, shared(KAMAILIO), "--format", "json")
        for extra in ((), ("--decode-as", "udp.port==5072,sip"))
    ]
    plain, decoded = ([s["verdicts"] for s in valid_report(r.stdout)["captures"][0]["subscriptions"]] for r in runs)
    assert runs[0].returncode == runs[1].returncode == 1
    assert plain and plain == decoded


@pytest.mark.parametrize("name", [HEPLIFY, SNGREP], ids=lambda p: p.name)
def test_captures_without_feature_sync(name: Path) -> None:
    run = fks("audit", shared(name), "--format", "json")
    assert run.returncode == 0, run.stderr
    (capture,) = valid_report(run.stdout)["captures"]
    assert capture["subscriptions"] == [] and capture["sip_messages"] > 0
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("content", [None, b"", os.urandom(4096), b"\xd4\xc3\xb2\xa1" + b"\x00" * 10])
def test_unusable_input_is_exit_2_with_one_line(tmp_path: Path, content: bytes | None) -> None:
    path = Path("/etc/passwd") if content is None else tmp_path / "input.pcap"
    if content is not None:
        path.write_bytes(content)
    run = fks("audit", path)
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "Traceback" not in run.stderr and str(path) in run.stderr


def test_bad_arguments_are_exit_2_with_one_line(tmp_path: Path) -> None:
    for args in (
        ["audit"],
        ["audit", "x.pcap", "--format", "pdf"],
        ["audit", str(tmp_path)],
        ["audit", "x.pcap", "--notify-timeout", "-1"],
        ["audit", "x.pcap", "--provisioning", "/nonexistent"],
    ):
        run = fks(*args)
        assert run.returncode == 2, args
        assert len(run.stderr.strip().splitlines()) == 1, (args, run.stderr)


def test_several_files_keep_the_good_results_and_exit_2(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"not a capture")
    run = fks("audit", shared(OPENSIPS), junk, "--format", "json")
    assert run.returncode == 2
    captures = valid_report(run.stdout)["captures"]
    assert len(captures[0]["subscriptions"]) == 1
    assert captures[1]["errors"] and captures[1]["subscriptions"] == []


def test_text_and_junit_formats(tmp_path: Path) -> None:
    run = fks("audit", "--decode-as", "udp.port==5072,sip", shared(KAMAILIO))
    assert run.returncode == 1
    assert "FAIL  FKS-NTF-2" in run.stdout
    _, _, requirements = run.stdout.partition("\nsummary: ")
    assert requirements, "the summary follows the verdicts"
    assert requirements.count("\nFKS-NTF-2  ") == 1, "the report ends with what FKS-NTF-2 requires, once"
    out = tmp_path / "audit.xml"
    run = fks("audit", "--decode-as", "udp.port==5072,sip", shared(KAMAILIO), "--format", "junit", "--output", out)
    assert run.returncode == 1 and run.stdout == ""
    tree = etree.parse(str(out))
    failures = tree.findall(".//failure")
    assert failures and any(f.get("type") == "FKS-NTF-2" for f in failures)


def test_jobs_gives_the_same_verdicts() -> None:
    serial = fks("audit", shared(OPENSIPS), shared(SNGREP), "--format", "json")
    parallel = fks("audit", shared(OPENSIPS), shared(SNGREP), "--format", "json", "--jobs", "2")
    assert valid_report(serial.stdout) == valid_report(parallel.stdout)


@pytest.mark.parametrize("fmt", ["json", "junit", "text"])
def test_a_reader_that_stops_early_is_a_quiet_success(fmt: str) -> None:
    """``fks audit ... | head -1``: the closed pipe ends the command with status 0 and nothing on stderr (it
    said "cannot write the report: Broken pipe" and exit 2 for JSON and JUnit)."""
    import subprocess
    import sys

    from tests.commands import ROOT

    command = [sys.executable, "-m", "analyzer.cli", "audit", "--jobs", "1", "--format", fmt]
    captures = sorted(str(p) for p in (ROOT / "captures").glob("*.pcap"))[:12]
    proc = subprocess.Popen([*command, *captures], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # the reader goes away with most of the report unread
    stderr = proc.stderr.read().decode()
    assert first and proc.wait(timeout=120) == 0 and stderr == ""
