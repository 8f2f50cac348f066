"""Writes the reference corpus of ``captures/``: each scenario's capture, expected verdicts and provisioning file,
and ``captures/README.md`` (``make captures`` runs this file). Deterministic: the same bytes every run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from scenarios import CAPTURE_SCOPE, CITE, RULES, SCENARIOS, Scenario

from peers.craft.wire import WireMessage, write_capture

HERE = Path(__file__).resolve().parent


_ORDER = ("not_applicable", "pass", "inconclusive", "warn", "fail")  # best to worst, as the catalogue reads
_NOTABLE = ("fail", "warn", "inconclusive")


def _full(verdicts: dict[str, str], name: str) -> dict[str, str]:
    unknown = set(verdicts) - set(RULES)
    if unknown:
        raise ValueError(f"{name}: unknown rules {sorted(unknown)}")
    return {**dict.fromkeys(RULES, "not_applicable"), **verdicts}


def per_subscription(scenario: Scenario) -> dict[str, dict[str, str]]:
    """Each subscription's verdicts by Call-ID (``*``: the only one), the capture-scope rules left out."""
    if scenario.per_subscription is not None:
        maps = scenario.per_subscription
    else:
        maps = {"*": scenario.verdicts} if scenario.subscriptions == 1 else {}
    if len(maps) != scenario.subscriptions:
        raise ValueError(f"{scenario.name}: {scenario.subscriptions} subscriptions, {len(maps)} declared")
    return {
        key: {r: v for r, v in _full(m, scenario.name).items() if r not in CAPTURE_SCOPE} for key, m in maps.items()
    }


def expected(scenario: Scenario) -> dict[str, object]:
    verdicts = _full(scenario.verdicts, scenario.name)
    subs = per_subscription(scenario)
    for rule in RULES:
        if rule in CAPTURE_SCOPE or not subs:
            continue
        worst = max((m[rule] for m in subs.values()), key=_ORDER.index)
        if worst != verdicts[rule]:
            raise ValueError(f"{scenario.name}: {rule} is {verdicts[rule]} but its subscriptions' worst is {worst}")
    notable = {(r, v) for m in [verdicts, *subs.values()] for r, v in m.items() if v in _NOTABLE}
    because = {}
    for rule, verdict in sorted(notable):
        quote = scenario.cite.get(rule) or CITE.get((rule, verdict))
        if quote is None:
            raise ValueError(f"{scenario.name}: {rule} {verdict} cites no catalogue sentence")
        because[f"{rule} {verdict}"] = quote
    return {
        "purpose": scenario.purpose,
        "options": {
            "decode_as": [],
            "provisioning": f"{scenario.name}.provisioning.xml" if scenario.provisioning else None,
            "notify_timeout": 5.0,
            "model": scenario.options.get("model"),
            "internal_telephony": scenario.options.get("internal_telephony"),
        },
        "subscriptions": scenario.subscriptions,
        "verdicts": verdicts,
        "per_subscription": subs,
        "capture_verdicts": {r: verdicts[r] for r in CAPTURE_SCOPE},
        "evidence": {rule: list(frames) for rule, frames in scenario.evidence.items()},
        "because": because,
    }


# The flows count seconds from 1000.0; on the wire they are placed on 2026-01-01 (UTC), so a report that shows
# a capture's times (an Allure result runs from its first to its last frame) shows a date, not 1970.
WIRE_EPOCH = 1_767_225_600.0 - 1000.0


def write(scenario: Scenario, folder: Path = HERE) -> Path:
    observations = scenario.build()
    wire = [
        WireMessage(o.time + WIRE_EPOCH, (o.src.host, o.src.port), (o.dst.host, o.dst.port), o.data, scenario.transport)
        for o in observations
    ]
    pcap = write_capture(folder / f"{scenario.name}.pcap", wire)
    (folder / f"{scenario.name}.expected.json").write_text(json.dumps(expected(scenario), indent=2) + "\n")
    if scenario.provisioning:
        (folder / f"{scenario.name}.provisioning.xml").write_text(scenario.provisioning)
    return pcap


_README_HEAD = """# captures/: reference captures with their expected verdicts

Each capture is crafted with scapy (`peers/craft/wire.py`) from a scripted SIP flow (`peers/craft/flows.py`)
described in `scenarios.toml`, and comes with `NAME.expected.json`: the verdicts each rule of CONFORMANCE.md
must get, per subscription and over the whole capture, read off the catalogue (1.1), not off the analyzer,
each one other than `pass` or `not_applicable` with the catalogue sentence it follows. `tests/test_corpus.py`
audits every capture and compares. `make captures` regenerates the captures
and this file (deterministic: the same bytes every run). Addresses are documentation ranges (base
`192.0.2.10`, AS `198.51.100.20`), the domain `example.test`, the passwords fake.

Beside them, `recorded_<profile>.pcapng` are recorded live on loopback by `record.py` (`make record`, root
or CAP_NET_RAW): the base emulator against the AS emulator, every flow of PROTOCOL.md (REGISTER and
SUBSCRIBE with digest, initial state, handset changes, portal change, FAC call, refresh, unsubscribe, fetch),
once per AS profile; their expected verdicts are declared in `record.py` from the catalogue, and the same
test checks them. Re-recording changes the bytes (times, ports, nonces), not the verdicts.

## expected.json
```json
{"purpose": "one line",
 "options": {"decode_as": [], "provisioning": "NAME.provisioning.xml or null", "notify_timeout": 5.0,
             "model": "N670 or null", "internal_telephony": true},
 "subscriptions": 1,
 "verdicts": {"FKS-SUB-1": "pass", "...": "every rule ID of the catalogue: its worst verdict in the capture"},
 "per_subscription": {"CALL-ID (* for the only one)": {"FKS-SUB-1": "pass", "...": "every subscription-scope rule"}},
 "capture_verdicts": {"FKS-PRV-1": "pass", "...": "the capture-scope rules"},
 "evidence": {"FKS-NTF-6": [5, 6]},
 "because": {"FKS-NTF-6 fail": "the catalogue sentence, word for word"}}
```
`tests/test_corpus.py` compares every subscription's verdicts, not only the worst per rule, and the frames
`evidence` pins; `tests/test_catalogue.py` checks each `because` quote is in the catalogue and that every
verdict the catalogue lists for a rule is expected by at least one capture. Recorded captures carry
`verdicts` and `because` only.
`options` are the `fks audit` options the capture is judged with (`--provisioning`, `--model`,
`--internal-telephony`, ...).
"""

_README_TAIL = """
## Judgement calls
Where the catalogue leaves room, these captures pin the reading the analyzer implements:
- FKS-SUB-5 is judged per grant (catalogue 1.1): each grant must be refreshed (an in-dialog SUBSCRIBE with
  Expires > 0 that gets a 2xx, a change request included) or ended before it runs out; the grant still
  running when the capture ends makes the subscription `inconclusive`, whatever earlier refreshes passed.
  A refused subscription (489) gets `pass` for its establishing Expires.
- The initial-state window of FKS-NTF-2 is T_notify after the 2xx, cut at the next SUBSCRIBE of the dialog.
  With no NOTIFY at all, FKS-NTF-2 is `inconclusive` (FKS-NTF-1 carries the `fail`).
- A NOTIFY counts as unsolicited (FKS-AS-1) when no SUBSCRIBE of its dialog precedes it within T_notify
  (first copies: a NOTIFY 5.3 s after a SUBSCRIBE is unsolicited even when that SUBSCRIBE was retransmitted);
  the confirming NOTIFYs that FKS-HS-4 asks for on a user's other subscriptions are therefore judged by
  FKS-AS-1 too. Terminating NOTIFYs are left to the TRM rules.
- An invalid change request (FKS-HS-1 `fail`) is not expected to be confirmed: FKS-HS-3 skips it.
- A document with a DTD is read with the DTD cut out, never expanded, and fails FKS-NTF-5; the NOTIFY still
  carries the feature's document for FKS-AS-1 (each fault is judged once, by the rule that owns it).
"""


def index() -> str:
    """captures/README.md: the story of each capture and which rules it makes fail, warn or stay open."""
    rows = []
    coverage: dict[str, dict[str, list[str]]] = {r: {"pass": [], "warn": [], "fail": []} for r in RULES}
    for scenario in SCENARIOS:
        spec = expected(scenario)
        verdicts: dict[str, str] = spec["verdicts"]  # type: ignore[assignment]
        for rule, verdict in verdicts.items():
            if verdict in coverage[rule]:
                coverage[rule][verdict].append(scenario.name)
        notable = [f"{r.removeprefix('FKS-')} {v}" for r, v in verdicts.items() if v in _NOTABLE]
        rows.append(
            f"| `{scenario.name}` | {scenario.purpose} | {spec['subscriptions']} | {', '.join(notable) or '-'} |"
        )
    matrix = [
        f"| {r} | {len(c['pass'])} | {len(c['warn'])} | {len(c['fail'])} | `{(c['fail'] or c['warn'] or ['-'])[0]}` |"
        for r, c in coverage.items()
    ]
    return "\n".join(
        [
            _README_HEAD,
            "## Index",
            "| capture | story | subscriptions | fail, warn, inconclusive |",
            "|---|---|---|---|",
            *rows,
            "",
            "## Coverage (captures per rule and verdict)",
            "| rule | pass | warn | fail | for example |",
            "|---|---|---|---|---|",
            *matrix,
            _README_TAIL,
        ]
    )


def main() -> int:
    for scenario in SCENARIOS:
        print(write(scenario).name)
    (HERE / "README.md").write_text(index())
    return 0


if __name__ == "__main__":
    sys.exit(main())
