"""The ``fks`` entry point lives in peers/cli.py and hands ``audit``/``rules`` to analyzer.cli unchanged; the
analyzer never imports the peers (imports run steps -> peers -> analyzer)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.observation import Endpoint

ROOT = Path(__file__).resolve().parents[1]


def run(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_help_lists_every_command() -> None:
    out = run("peers.cli", "--help")
    assert out.returncode == 0
    for command in ("audit", "rules", "as", "base", "synth"):
        assert f"    {command} " in out.stdout


def test_rules_and_audit_are_the_analyzers() -> None:
    for args in (["rules", "FKS-NTF-2"], ["audit", "--help"]):
        ours, theirs = run("peers.cli", *args), run("analyzer.cli", *args)
        assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout)
        assert ours.returncode == 0 and ours.stdout


def test_unusable_input_is_exit_2_in_one_line(tmp_path: Path) -> None:
    audit = run("peers.cli", "audit", str(tmp_path / "missing.pcap"))
    assert audit.returncode == 2 and "Traceback" not in audit.stderr
    base = run("peers.cli", "base", "--as", "nowhere")
    assert base.returncode == 2
    assert base.stderr.strip() == "fks: error: argument --as: expected HOST:PORT, not 'nowhere'"


def test_analyzer_never_imports_peers() -> None:
    offenders = []
    for path in sorted((ROOT / "analyzer").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in ("peers", "steps")]
    assert offenders == []


@pytest.mark.parametrize(
    ("text", "endpoint"),
    [
        ("127.0.0.1:5070", Endpoint("127.0.0.1", 5070)),
        ("[::1]:5060", Endpoint("::1", 5060)),
        ("as.example.test:0", Endpoint("as.example.test", 0)),
    ],
)
def test_endpoint_parses(text: str, endpoint: Endpoint) -> None:
    assert Endpoint.parse(text) == endpoint
    assert Endpoint.parse(str(endpoint)) == endpoint


@pytest.mark.parametrize("text", ["5070", ":5070", "host:", "host:70000", "host:5²", "[]:5070"])
def test_endpoint_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="expected HOST:PORT"):
        Endpoint.parse(text)


def test_targets_are_classes_chosen_once() -> None:
    from peers.targets.labs import AsLab, BaseLab, LoopbackLab
    from peers.targets.scenario import TARGETS, TargetOptions, scenario_for

    labs = {"loopback": LoopbackLab, "as": BaseLab, "base": AsLab, "pcap": None}
    assert set(TARGETS) == set(labs)
    for name, lab in labs.items():
        scenario = scenario_for(TargetOptions(name=name))
        assert (scenario.target, scenario.lab_class) == (name, lab)
    # nothing asks which target or role it is after construction
    pattern = re.compile(r"(world|self)\.target (==|!=|in)|plays_(as|base)|\brole\b")
    hits = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("peers", "steps")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert hits == []
