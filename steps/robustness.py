"""Steps of the robustness scenarios: hostile documents and captures, lossy networks, floods (glue only:
the hostile input is built by ``peers/craft/hostile``, judged by ``fks audit`` and the live lab)."""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_bdd import given, parsers, then, when

from analyzer.audit import worst_by_rule
from peers.craft.hostile import capture_with_document, damaged_capture, haystack, hostile_document
from peers.io.impair import Impairment
from peers.targets.scenario import Scenario
from steps.audits import ROOT, Audit
from steps.verdicts import VERDICT, assert_verdict

MEMORY_CAP = 2 << 30  # address space of fks audit and its tshark: an explosion would hit this, not the machine


@pytest.fixture
def tripwire() -> Iterator[socket.socket]:
    """A listening socket an external entity points at: any connection to it means the parser went out."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


@given(parsers.parse('a capture whose initial NOTIFY carries "{kind}"'), target_fixture="audit")
def hostile_capture(tmp_path: Path, tripwire: socket.socket, kind: str) -> Audit:
    url = f"http://127.0.0.1:{tripwire.getsockname()[1]}/entity"
    return Audit(capture_with_document(tmp_path / "hostile.pcap", hostile_document(kind, url)))


@given(parsers.parse('a damaged capture: "{kind}"'), target_fixture="audit")
def damaged(tmp_path: Path, kind: str) -> Audit:
    return Audit(damaged_capture(kind, tmp_path / "damaged.pcap"))


@given(parsers.parse("a capture of {packets:d} packets of which 3 are feature sync"), target_fixture="audit")
def needles(tmp_path: Path, packets: int) -> Audit:
    return Audit(haystack(tmp_path / "haystack.pcap", packets))


def _capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


@when("fks audit reads it within bounded memory")
def audit_capped(audit: Audit) -> None:
    audit.run = run = subprocess.run(
        [sys.executable, "-m", "analyzer.cli", "audit", str(audit.path), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        preexec_fn=_capped,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    audit.result = json.loads(run.stdout)["captures"][0] if run.stdout else {}


@then(parsers.re(rf"the audit gives (?P<rule>FKS-[A-Z]+-\d+) {VERDICT}$"))
def audit_gives(audit: Audit, rule: str, verdict: str) -> None:
    assert audit.result, audit.run.stderr if audit.run else audit
    assert_verdict(audit.result, rule, verdict)


@then(parsers.parse("the audit exits with status {status:d}"))
def audit_exit(audit: Audit, status: int) -> None:
    run = audit.run
    assert run is not None and run.returncode == status, run and run.stderr[-2000:]
    assert "Traceback" not in run.stderr


@then("nothing was read from disk or network")
def nothing_fetched(audit: Audit, tripwire: socket.socket) -> None:
    assert audit.run is not None and "root:x:0" not in audit.run.stdout
    with pytest.raises(BlockingIOError):
        tripwire.accept()  # nobody connected


@then(parsers.parse('the damage is listed: "{text}"'))
def damage_listed(audit: Audit, text: str) -> None:
    assert audit.result and any(text in e for e in audit.result["errors"]), audit.result


@then("no rule fails in the readable part")
def readable_ok(audit: Audit) -> None:
    assert audit.result and "fail" not in worst_by_rule(audit.result).values()


@then(parsers.parse("the audit finds {count:d} subscription in {packets:d} packets"))
def found_in(audit: Audit, count: int, packets: int) -> None:
    assert len(audit.result["subscriptions"]) == count and audit.result["packets"] == packets


# -- live ----------------------------------------------------------------------------------------------------
@given(
    parsers.parse("the network loses {loss:d}% of the datagrams, duplicates and reorders, with {jitter:d} ms jitter")
)
def lossy(world: Scenario, loss: int, jitter: int) -> None:
    world.impair(Impairment(loss=loss / 100, duplicate=0.1, reorder=0.1, jitter=jitter / 1000, seed=loss + jitter))


@when(parsers.parse("{count:d} unknown users flood the AS with SUBSCRIBEs"))
def flood(world: Scenario, count: int) -> None:
    world.flood(count)


@then(parsers.parse("the AS keeps no state for them"))
def no_flood_state(world: Scenario) -> None:
    server = world.lab.server
    assert len(server.states) <= len(world.handsets) and len(server.subscriptions) <= len(world.handsets)
