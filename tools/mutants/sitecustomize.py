"""Loaded by Python at start-up when this folder is on PYTHONPATH (``tools/mutants.py`` puts it there): with
``FKS_MUTANT=<rule ID>`` set, that rule's ``fail`` findings come out as ``pass`` (its ``warn`` findings, for a
rule the catalogue never lets fail), in this process and in every
``fks`` process the tests start. Never on the path of a normal run."""

import os

_RULE = os.environ.get("FKS_MUTANT")
if _RULE:
    from dataclasses import replace

    from analyzer.rules import CATALOGUE
    from analyzer.verdicts import Verdict

    def _mutate(check, worst):
        def mutated(*args):
            return [replace(f, verdict=Verdict.PASS) if f.verdict is worst else f for f in check(*args)]

        return mutated

    for _rule in CATALOGUE:
        if _rule.id == _RULE:
            _worst = Verdict.FAIL if Verdict.FAIL in _rule.verdicts else Verdict.WARN
            for _name in ("subscription_check", "capture_check"):
                if getattr(_rule, _name) is not None:
                    object.__setattr__(_rule, _name, _mutate(getattr(_rule, _name), _worst))
