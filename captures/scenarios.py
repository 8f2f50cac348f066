"""The reference captures of ``captures/``: each one a scripted flow, its purpose and its expected verdicts.

The table is data, ``scenarios.toml`` (one ``[[scenario]]`` each: the flow of ``builders.py``, the purpose, the
verdicts over one of the ``BASES`` below, per-subscription verdicts, citations, pinned evidence); this module
holds what the table refers to (the bases, the catalogue sentences ``CITE``) and loads it.

``python captures/corpus.py`` (``make captures``) writes ``NAME.pcap`` (crafted with scapy, see
``peers/craft/wire.py``), ``NAME.expected.json`` and, where the PRV rules need one, ``NAME.provisioning.xml``.
Deterministic: the same bytes every run.

The expected verdicts are read off the catalogue (CONFORMANCE.md 1.1), one judgement per rule, not off the
analyzer's output: ``tests/test_corpus.py`` fails when the two disagree. Every rule not named in a scenario
is expected ``not_applicable`` (its trigger is absent). Every other expectation than ``pass`` or
``not_applicable`` carries the catalogue sentence it follows (``CITE``, or the scenario's ``cite``), and
``tests/test_catalogue.py`` checks each quoted sentence is in the catalogue word for word.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import builders
import tomllib

from analyzer.observation import Observation

RULES = (
    *(f"FKS-SUB-{i}" for i in range(1, 6)),
    "FKS-RSP-1",
    "FKS-RSP-2",
    *(f"FKS-NTF-{i}" for i in range(1, 8)),
    *(f"FKS-HS-{i}" for i in range(1, 5)),
    "FKS-AS-1",
    "FKS-AS-2",
    "FKS-TRM-1",
    "FKS-TRM-2",
    *(f"FKS-PRV-{i}" for i in range(1, 5)),
    "FKS-SIP-1",
)
# Judged once per capture (against the provisioning file); every other rule once per subscription.
CAPTURE_SCOPE = tuple(f"FKS-PRV-{i}" for i in range(1, 5))

# What an established subscription (SUBSCRIBE, 200, full-state NOTIFY, 200) left running earns.
ESTABLISHED = {
    **{r: "pass" for r in ("FKS-SUB-1", "FKS-SUB-2", "FKS-SUB-3", "FKS-SUB-4", "FKS-RSP-1", "FKS-RSP-2")},
    **{f"FKS-NTF-{i}": "pass" for i in range(1, 8)},
    "FKS-SUB-5": "inconclusive",
    "FKS-SIP-1": "pass",
}
TERMINATED = {"FKS-TRM-1": "pass", "FKS-TRM-2": "pass"}
REQUESTED = {r: "pass" for r in ("FKS-SUB-1", "FKS-SUB-2", "FKS-SUB-3", "FKS-SUB-4", "FKS-SUB-5", "FKS-SIP-1")}
# A dialog seen from its first NOTIFY on: no SUBSCRIBE, no grant; the NOTIFY rules judge what is there.
JOINED = {**{f"FKS-NTF-{i}": "pass" for i in (3, 4, 5, 6, 7)}, "FKS-SIP-1": "pass"}


@dataclass
class Scenario:
    """One reference capture. ``verdicts``: the worst verdict of each rule over the capture. With several
    subscriptions, ``per_subscription`` gives each one's verdicts by Call-ID (a single subscription's are
    ``verdicts`` less the capture-scope rules). ``cite`` overrides ``CITE`` where the capture follows another
    sentence; ``evidence`` pins the frames the worst finding of a rule must name."""

    name: str
    purpose: str
    build: Callable[[], list[Observation]]
    verdicts: dict[str, str]
    subscriptions: int = 1
    provisioning: str | None = None
    options: dict[str, object] = field(default_factory=dict)
    transport: str = "udp"
    per_subscription: dict[str, dict[str, str]] | None = None
    cite: dict[str, str] = field(default_factory=dict)
    evidence: dict[str, tuple[int, ...]] = field(default_factory=dict)


BASES = {
    "none": {},
    "established": ESTABLISHED,
    "established+terminated": {**ESTABLISHED, **TERMINATED},
    "requested": REQUESTED,
    "joined": JOINED,
}
TABLE = Path(__file__).with_name("scenarios.toml")


def _verdicts(entry: dict[str, Any]) -> dict[str, str]:
    return {**BASES[entry["base"]], **entry["verdicts"]}


def _scenario(entry: dict[str, Any]) -> Scenario:
    """One ``[[scenario]]`` of ``scenarios.toml``: its flow looked up in ``builders``."""
    flow = getattr(builders, entry["flow"])
    if "flow_args" in entry:
        flow = flow(*entry["flow_args"])
    rows = entry.get("provisioning")
    return Scenario(
        entry["name"],
        entry["purpose"],
        flow,
        _verdicts(entry),
        subscriptions=entry.get("subscriptions", 1),
        provisioning=None if rows is None else builders.provisioning(*((*row, None)[:3] for row in rows)),
        options=entry.get("options", {}),
        transport=entry.get("transport", "udp"),
        per_subscription={k: _verdicts(v) for k, v in entry["per_subscription"].items()}
        if "per_subscription" in entry
        else None,
        cite=entry.get("cite", {}),
        evidence={k: tuple(v) for k, v in entry.get("evidence", {}).items()},
    )


_TABLE = tomllib.loads(TABLE.read_text("utf-8"))
SCENARIOS = [_scenario(entry) for entry in _TABLE["scenario"]]
# The catalogue sentence each (rule, verdict) expectation follows, quoted word for word from CONFORMANCE.md 1.1.
CITE: dict[tuple[str, str], str] = {tuple(key.split()): text for key, text in _TABLE["cite"].items()}  # type: ignore[misc]
