"""``tools/expectations-apart.sh``: a commit that changes the analyzer and expected verdicts together fails CI."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "expectations-apart.sh"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "kit", "GIT_AUTHOR_EMAIL": "kit@example.test", "HOME": str(repo)}
    env |= {"GIT_COMMITTER_NAME": "kit", "GIT_COMMITTER_EMAIL": "kit@example.test", "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


RULE, EXPECTED = "analyzer/rule.py", "captures/a.expected.json"


def commit(repo: Path, message: str, files: dict[str, str] | None = None) -> None:
    for name, text in (files or {}).items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q")
    (tmp_path / "tools").mkdir()
    shutil.copy(SCRIPT, tmp_path / "tools" / SCRIPT.name)
    commit(tmp_path, "old history: both at once", {RULE: "x = 1\n", EXPECTED: "{}\n"})
    (tmp_path / ".ci").mkdir()
    (tmp_path / ".ci" / "expectations-since").write_text(git(tmp_path, "rev-parse", "HEAD"))
    commit(tmp_path, "the check starts here")
    return tmp_path


def check(repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "tools/expectations-apart.sh"], cwd=repo, capture_output=True, text=True)


def test_separate_commits_pass(repo: Path) -> None:
    commit(repo, "rule change", {RULE: "x = 2\n"})
    commit(repo, "expectation, citing the catalogue", {EXPECTED: '{"v": 1}\n'})
    result = check(repo)
    assert result.returncode == 0, result.stderr


def test_one_commit_changing_both_fails_with_its_subject(repo: Path) -> None:
    commit(repo, "rework and new baseline", {RULE: "x = 3\n", EXPECTED: '{"v": 2}\n'})
    result = check(repo)
    assert result.returncode == 1
    assert "rework and new baseline" in result.stderr and "commit of their own" in result.stderr


def test_history_before_the_base_is_left_alone(repo: Path) -> None:
    result = check(repo)
    assert result.returncode == 0, result.stderr
