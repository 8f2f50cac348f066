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

_GENERAL = "when the trigger occurs but the capture ends before the expected answer could arrive, it is `inconclusive`"
# The catalogue sentence each (rule, verdict) expectation follows, quoted word for word from CONFORMANCE.md 1.1.
CITE: dict[tuple[str, str], str] = {
    ("FKS-SUB-1", "fail"): "A SUBSCRIBE that accepts or carries `application/x-as-feature-event+xml` but has no or "
    "another Event header fails.",
    ("FKS-SUB-2", "warn"): "The subscriber subscribes to its own identity: the To URI (and Request-URI user) equals "
    "the From AOR.",
    ("FKS-SUB-3", "warn"): "`Accept`, when present, includes `application/x-as-feature-event+xml`; absent is a `warn`.",
    ("FKS-SUB-3", "fail"): "`Accept`, when present, includes `application/x-as-feature-event+xml`",
    ("FKS-SUB-4", "warn"): "An establishing or refreshing SUBSCRIBE has no body",
    ("FKS-SUB-5", "fail"): "every grant that expires inside the capture must be refreshed (any in-dialog SUBSCRIBE "
    "with `Expires` > 0 that gets a 2xx, a change request included) or ended before it runs out; a lapse is a `fail`",
    ("FKS-SUB-5", "inconclusive"): "the grant still running when the capture ends is `inconclusive` (so a "
    "subscription still active at the end of the capture is `inconclusive`, whatever earlier refreshes passed)",
    ("FKS-RSP-1", "warn"): "`202 Accepted` is a `warn`.",
    ("FKS-RSP-1", "fail"): "`489 Bad Event` (package not supported) or any other final failure is a `fail`",
    ("FKS-RSP-1", "inconclusive"): "a challenge the subscriber never answers is `inconclusive` for the AS",
    ("FKS-RSP-2", "fail"): "The 2xx carries `Expires`, not larger than the requested value.",
    ("FKS-NTF-1", "fail"): "After every 2xx to an establishing or refreshing SUBSCRIBE, the AS sends a NOTIFY in that "
    "dialog within `T_notify`.",
    ("FKS-NTF-1", "inconclusive"): _GENERAL,
    ("FKS-NTF-2", "fail"): "No DND document, or an empty body, is a `fail`",
    ("FKS-NTF-2", "warn"): "a missing forwarding type is a `warn` (the user may not have it assigned)",
    ("FKS-NTF-2", "inconclusive"): _GENERAL,
    ("FKS-NTF-3", "fail"): "`active, 3600` and similar malformed values fail",
    ("FKS-NTF-3", "warn"): "`active` or `pending` without `;expires=` is a `warn` (RFC 6665 says SHOULD)",
    ("FKS-NTF-4", "fail"): "Several XML documents concatenated in one non-multipart body fail (phones read only the "
    "first).",
    ("FKS-NTF-5", "warn"): "The hyphenless namespace (`ecmainternational`) or no namespace is a `warn`.",
    ("FKS-NTF-5", "fail"): "A document with a DTD or entity declarations fails and is never expanded.",
    ("FKS-NTF-6", "fail"): "481 (dialog unknown) or no answer within `T_final` fails.",
    ("FKS-NTF-6", "inconclusive"): _GENERAL,
    ("FKS-NTF-7", "fail"): "NOTIFYs belong to the subscription dialog: same Call-ID, From tag = the 2xx's To tag, To "
    "tag = the SUBSCRIBE's From tag, CSeq increasing (gaps allowed).",
    ("FKS-HS-1", "warn"): "Out of dialog is a `warn`.",
    ("FKS-HS-1", "fail"): "`forwardDN` must be non-empty when `activateForward` is `true`",
    ("FKS-HS-2", "warn"): "a 2xx that silently accepts an invalid request is a `warn`",
    ("FKS-HS-2", "fail"): "A valid request refused with a 4xx (the AS may refuse, e.g. a service not assigned) is a "
    "`warn` when a NOTIFY in that dialog then reports the feature's unchanged state within `T_notify`, a `fail` "
    "otherwise.",
    ("FKS-HS-3", "warn"): "A NOTIFY reporting a different state than requested is a `warn` (the AS has the last word)",
    ("FKS-HS-3", "fail"): "no NOTIFY is a `fail`",
    ("FKS-HS-3", "inconclusive"): _GENERAL,
    ("FKS-HS-4", "fail"): "When the same AOR has several active subscriptions, each of them receives the confirming "
    "NOTIFY.",
    ("FKS-AS-1", "fail"): "A NOTIFY for a terminated or unknown dialog fails.",
    ("FKS-AS-1", "inconclusive"): "a NOTIFY whose dialog began before the capture is `inconclusive`, unless the phone "
    "answers it 481 (`fail`)",
    ("FKS-AS-2", "fail"): "a NOTIFY reporting that feature with the new state follows within `T_notify`",
    ("FKS-TRM-1", "fail"): "A SUBSCRIBE with `Expires: 0` gets a 2xx and a final NOTIFY with `Subscription-State: "
    "terminated`.",
    ("FKS-TRM-1", "inconclusive"): _GENERAL,
    ("FKS-TRM-2", "fail"): "No NOTIFY with `Subscription-State: active` follows the terminating NOTIFY on that dialog.",
    ("FKS-PRV-1", "fail"): "A handset account whose `FeatureKeySyncActive` is absent or `0` (the default) sends no "
    "`as-feature-event` SUBSCRIBE.",
    ("FKS-PRV-2", "fail"): "No SUBSCRIBE although the capture runs past that window: `fail`",
    ("FKS-PRV-2", "inconclusive"): "the capture ends inside the window, or shows no REGISTER of that account: "
    "`inconclusive`",
    ("FKS-PRV-3", "warn"): "the configuration is reported (`warn`) as ineffective",
    ("FKS-PRV-3", "fail"): "no SUBSCRIBE is expected even with `FeatureKeySyncActive=1`",
    ("FKS-PRV-4", "fail"): "its value is `0` or `1`",
    ("FKS-SIP-1", "fail"): "Content-Length agrees with the body.",
}


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


SCENARIOS = [_scenario(entry) for entry in tomllib.loads(TABLE.read_text("utf-8"))["scenario"]]
