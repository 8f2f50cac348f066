"""Mutation check of the rules: for each rule of the catalogue, its ``fail`` findings (``warn`` for a rule that
never fails) are turned into ``pass``
(``tools/mutants/sitecustomize.py``) and the fast tests run; a mutant no test kills is a rule whose failures
nothing checks. Prints, rule by rule, the tests that caught it.

    .venv/bin/python tools/mutants.py [RULE-ID ...]
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = [
    "tests/test_rules.py",
    "tests/test_corpus.py",
    "tests/test_emulators.py",
    "tests/test_provisioning.py",
]


def rule_ids() -> list[str]:
    sys.path.insert(0, str(ROOT))
    from analyzer.rules import CATALOGUE

    return [r.id for r in CATALOGUE]


def run(rule: str) -> list[str]:
    env = {**os.environ, "FKS_MUTANT": rule, "PYTHONPATH": f"{ROOT / 'tools' / 'mutants'}:{ROOT}"}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:randomly", "-rf", *TESTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    ).stdout
    return re.findall(r"^FAILED (\S+)", out, re.M)


def main() -> int:
    survivors = []
    for rule in sys.argv[1:] or rule_ids():
        killed = run(rule)
        shown = ", ".join(k.split("::")[-1] for k in killed[:3]) + (f" (+{len(killed) - 3})" if len(killed) > 3 else "")
        print(f"{rule}: {'killed by ' + str(len(killed)) + ' test(s): ' + shown if killed else 'SURVIVED'}", flush=True)
        if not killed:
            survivors.append(rule)
    print(f"{len(survivors)} surviving mutant(s): {' '.join(survivors) or '-'}")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
