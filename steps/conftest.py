"""The conformance suite's fixtures and hooks: target options, one ``Scenario`` per test, and its evidence.

After every scenario (``pytest_bdd_after_scenario``) the live exchange is stopped, its capture written to
``reports/captures/``, the message log judged, the capture audited through tshark, and the two verdict sets
compared (they must agree); the verdict table, the capture, the ladder diagram and the message log are
attached to the scenario's Allure result. A step the target cannot perform skips the scenario with the reason.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

import allure
from analyzer.audit import audit_file, verdicts_of
from analyzer.observation import Endpoint
from analyzer.report.evidence import Evidence, from_log, verdict_table
from analyzer.report.ladder import ladder_svg
from analyzer.rules import CATALOGUE
from analyzer.sip import SipError, parse_message
from peers.io.certs import TlsFiles
from peers.io.downgrade import PRIVILEGES, TSHARK, ci_refusal, dropped_checks
from peers.targets.outcomes import ProductDefect, RecordsDisagree
from peers.targets.scenario import TARGETS, Scenario, TargetOptions, Unsupported, scenario_for
from peers.targets.wirelog import incomplete, record_notes, sent_notes

ROOT = Path(__file__).resolve().parents[1]


def _option(config: pytest.Config, name: str) -> str:
    value = config.getoption(f"--fks-{name}")
    return str(value if value is not None else config.getini(f"fks_{name.replace('-', '_')}"))


def _endpoint(text: str) -> Endpoint | None:
    if not text:
        return None
    try:
        return Endpoint.parse(text)
    except ValueError as exc:
        raise pytest.UsageError(f"--fks-as/--fks-listen: {exc}") from None


def target_options(config: pytest.Config) -> TargetOptions:
    name = _option(config, "target")
    if name not in TARGETS:
        raise pytest.UsageError(f"--fks-target {name!r}: one of {', '.join(TARGETS)}")
    return TargetOptions(
        name=name,
        remote=_endpoint(_option(config, "as")),
        listen=_endpoint(_option(config, "listen")),
        transport=_option(config, "transport"),
        tls=TlsFiles(
            _option(config, "tls-cert") or None, _option(config, "tls-key") or None, _option(config, "tls-ca") or None
        ),
        provisioning=_option(config, "provisioning") or None,
        portal_cmd=_option(config, "portal-cmd") or None,
        portal_url=_option(config, "portal-url") or None,
        portal_token=_option(config, "portal-token") or None,
        operator_cmd=_option(config, "operator-cmd") or None,
        pcap=_option(config, "pcap") or None,
        notify_timeout=float(_option(config, "notify-timeout")),
        domain=_option(config, "domain") or None,
    )


def pytest_configure(config: pytest.Config) -> None:
    for rule in CATALOGUE:
        config.addinivalue_line("markers", f"{rule.id}: scenario covers {rule.title}")
    for area in (
        "subscription",
        "notify",
        "portal",
        "fac",
        "handset",
        "termination",
        "provisioning",
        "deviations",
        "audit",
        "bad-input",
        "robustness",
        "wire",
    ):
        config.addinivalue_line("markers", f"{area}: scenarios of the {area} area")
    if _option(config, "target") != "pcap":  # a live run records each exchange twice and compares the records
        dropped = dropped_checks()
        refusal = ci_refusal(dropped)
        if refusal:
            raise pytest.UsageError(refusal)
        config.stash[_DROPPED] = dropped


_DROPPED = pytest.StashKey[list[str]]()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """On a laptop a dropped check is said where the run's result is read: one line each."""
    for line in config.stash.get(_DROPPED, []):
        terminalreporter.write_line(f"fks: {line}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--fks-shuffle SEED``: the scenarios in an order shuffled by the seed, the same on every xdist worker.
    Against a peer that keeps state (a real AS keeps each user's features for days) no scenario may rely on
    what an earlier one left behind; running them out of order is how that is shown."""
    seed = _option(config, "shuffle")
    if not seed:
        return
    scenarios = [item for item in items if Path(str(item.fspath)).parent == Path(__file__).parent]
    random.Random(seed).shuffle(scenarios)
    chosen = set(map(id, scenarios))
    others = [item for item in items if id(item) not in chosen]
    items[:] = others + scenarios


@pytest.fixture
def world(request: pytest.FixtureRequest) -> Iterator[Scenario]:
    scenario = scenario_for(target_options(request.config))
    request.node.stash[_WORLD] = scenario
    yield scenario
    scenario.close()


_WORLD = pytest.StashKey[Scenario]()


@pytest.hookimpl(trylast=True)
def pytest_bdd_step_error(exception: Exception, **_: Any) -> None:
    """A step the target cannot perform skips the scenario, with the reason in the report."""
    if isinstance(exception, Unsupported):
        pytest.skip(str(exception))


def pytest_bdd_after_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    world = request.node.stash.get(_WORLD, None)
    if world is None or not world.started:
        return
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:120]
    folder = Path(_option(request.config, "reports")) / "captures"
    folder.mkdir(parents=True, exist_ok=True)
    lab = world.lab
    pcap = lab.capture(folder / f"{name}.pcapng")
    world.close()
    observations = lab.observations
    evidence = from_log(observations, world.settings())
    _attach(world, evidence, observations, lab, pcap)
    dropped = [TSHARK] if shutil.which("tshark") is None else []
    if lab.recorder is None:
        dropped.append(PRIVILEGES)
    if dropped:  # the scenario's own result says which check it went without (the terminal says it once more)
        allure.attach("\n".join(dropped), name="dropped check", attachment_type=allure.attachment_type.TEXT)
    if shutil.which("tshark") is None:
        return
    disagreements = evidence.compare(audit_file(pcap, world.settings()))
    allure.attach(
        json.dumps({"log": evidence.log, "capture": evidence.capture}, indent=1),
        name="verdicts (log and capture).json",
        attachment_type=allure.attachment_type.JSON,
    )
    if disagreements:
        records = {"log": evidence.log, "capture": evidence.capture or {}}
        detail = {
            rule: {
                name: [(v["verdict"], v["detail"], v["frames"]) for v in verdicts_of(rec) if v["rule"] == rule]
                for name, rec in records.items()
            }
            for rule in disagreements
        }
        raise RecordsDisagree(f"message log and capture disagree (rule: (log, capture)): {disagreements}; {detail}")


def _attach(world: Scenario, evidence: Evidence, observations: list[Any], lab: Any, pcap: Path) -> None:
    labels: dict[Endpoint, str] = lab.labels()
    allure.attach(
        verdict_table(evidence.verdicts, "verdicts (message log)"),
        name="verdicts",
        attachment_type=allure.attachment_type.HTML,
    )
    shipments = lab.shipments
    wire = record_notes(observations, shipments)
    allure.attach(
        ladder_svg(observations, evidence.verdicts, labels, wire=wire),
        name="ladder",
        attachment_type=allure.attachment_type.SVG,
    )
    if incomplete(shipments):  # copies that never arrived whole are in no record: the AS's own view shows them
        sent = lab.attempts()
        allure.attach(
            ladder_svg(sent, (), labels, title="what the AS sent, on the wire", wire=sent_notes(sent, shipments)),
            name="ladder (what the AS sent)",
            attachment_type=allure.attachment_type.SVG,
        )
    allure.attach.file(str(pcap), name=pcap.name, attachment_type=allure.attachment_type.PCAP)
    allure.attach("\n".join(_log_lines(observations)), name="message log", attachment_type=allure.attachment_type.TEXT)
    if world.baseline_note:
        allure.attach(
            world.baseline_note, name="baseline (before the record)", attachment_type=allure.attachment_type.TEXT
        )


def _log_lines(observations: list[Any]) -> list[str]:
    lines = []
    for obs in observations:
        try:
            summary = parse_message(obs.data).summary
        except SipError:
            summary = f"unparsable ({len(obs.data)} bytes)"
        lines.append(f"#{obs.index} {obs.time:.3f} {obs.src} -> {obs.dst} {summary}")
    return lines


# Filed by what the step raised (peers.targets.outcomes), never by wording: the exception's class opens the message.
CATEGORIES = [
    {
        "name": "Product defects (a conformance rule failed)",
        "matchedStatuses": ["failed"],
        "messageRegex": rf"(?s)(\w+\.)*{ProductDefect.__name__}: .*",
    },
    {
        "name": "Records disagree (message log vs capture)",
        "matchedStatuses": ["failed"],
        "messageRegex": rf"(?s)(\w+\.)*{RecordsDisagree.__name__}: .*",
    },
    {"name": "Not performable on this target", "matchedStatuses": ["skipped"]},
    {"name": "Test errors (our side or the run itself broke)", "matchedStatuses": ["broken", "failed"]},
]


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Allure's environment (target, addresses, versions) and categories, written once per run."""
    config = session.config
    folder = config.getoption("--alluredir", None)
    if not folder or hasattr(config, "workerinput"):
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    (Path(folder) / "categories.json").write_text(json.dumps(CATEGORIES, indent=1))
    opts = target_options(config)
    env = {
        "target": opts.name,
        "transport": opts.transport,
        "AS under test": str(opts.remote or "the AS emulator (loopback)"),
        "our AS listens on": str(opts.listen) if opts.name == "base" else "-",
        "T_notify (s)": str(opts.notify_timeout),
        "tshark": _version(["tshark", "--version"]),
        "python": sys.version.split()[0],
        **{name: _package(name) for name in ("pyshark", "scapy", "lxml", "pytest-bdd", "allure-pytest-bdd")},
    }
    lines = [f"{k.replace(' ', '.')}={v}" for k, v in env.items()]
    (Path(folder) / "environment.properties").write_text("\n".join(lines) + "\n")


def _version(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    return out.splitlines()[0] if out else "unknown"


def _package(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"
