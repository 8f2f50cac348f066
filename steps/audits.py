"""Steps of offline audits: reference and shared captures through ``fks audit``, unusable files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when

from analyzer.audit import audit_file, expected_settings, verdicts_of, worst_by_rule
from analyzer.judging import AuditSettings
from analyzer.rules import BY_ID
from steps.verdicts import VERDICT, assert_verdict

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "captures"
FILES = {
    "nothing": b"",
    "random bytes": bytes(range(256)) * 16,
    "a truncated header": b"\xd4\xc3\xb2\xa1\x02\x00",
    "text": b"root:x:0:0:root:/root:/bin/bash\n",
}


@dataclass
class Audit:
    """What the audit steps work on: a file and its settings (and, for a reference capture, its expected
    verdicts), then what ``fks audit`` made of it: the report, or the run of the command."""

    path: Path
    settings: AuditSettings = field(default_factory=AuditSettings)
    spec: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    run: subprocess.CompletedProcess[str] | None = None


@given(parsers.parse('the reference capture "{name}"'), target_fixture="audit")
def reference_capture(name: str) -> Audit:
    folder = ROOT / "captures"
    spec = json.loads((folder / f"{name}.expected.json").read_text())
    path = next(p for p in (folder / f"{name}.pcap", folder / f"{name}.pcapng") if p.exists())
    return Audit(path, expected_settings(spec, folder), spec)


@given(parsers.parse('the shared capture "{name}"'), target_fixture="audit")
def shared_capture(name: str) -> Audit:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"{path} is not here (the shared captures sit beside the project)")
    return Audit(path)


@given(parsers.parse('SIP is decoded on "{rule}"'))
def decode_as(audit: Audit, rule: str) -> None:
    settings = audit.settings
    audit.settings = AuditSettings(settings.options, settings.provisioning, (*settings.decode_as, rule))


@when("it is audited")
def audited(audit: Audit) -> None:
    audit.result = audit_file(audit.path, audit.settings)


@then("every rule gets the verdict its expected.json names")
def expected_verdicts(audit: Audit) -> None:
    result, spec = audit.result, audit.spec
    got = worst_by_rule(result)
    diff = {rule: (want, got[rule]) for rule, want in spec["verdicts"].items() if got[rule] != want}
    assert result["errors"] == [] and len(result["subscriptions"]) == spec["subscriptions"]
    assert not diff, f"(expected, observed): {diff}"


@then("every fail and warn names its frames")
def frames_named(audit: Audit) -> None:
    for v in verdicts_of(audit.result):
        if v["verdict"] in ("fail", "warn") and not BY_ID[v["rule"]].configuration:
            assert v["frames"], v


@then(parsers.re(rf"(?P<rule>FKS-[A-Z]+-\d+) is {VERDICT} at frame (?P<frame>\d+)$"))
def verdict_at_frame(audit: Audit, rule: str, verdict: str, frame: str) -> None:
    assert_verdict(audit.result, rule, verdict, frame=int(frame))


@then(parsers.parse("the audit finds {count:d} subscription"))
def finds_subscriptions(audit: Audit, count: int) -> None:
    assert len(audit.result["subscriptions"]) == count


@then("no rule fails in the audit")
def audit_no_fail(audit: Audit) -> None:
    assert "fail" not in worst_by_rule(audit.result).values()


@given(parsers.parse("a file holding {content}"), target_fixture="audit")
def file_holding(tmp_path: Path, content: str) -> Audit:
    path = tmp_path / "input.pcap"
    path.write_bytes(FILES[content])
    return Audit(path)


@when("fks audit reads it")
def fks_audit_reads(audit: Audit) -> None:
    audit.run = subprocess.run(
        [sys.executable, "-m", "analyzer.cli", "audit", str(audit.path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@then(parsers.parse("it exits with status {status:d} and one line on stderr"))
def exits_with(audit: Audit, status: int) -> None:
    run = audit.run
    assert run.returncode == status, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr, run.stderr
