"""Re-record the live reference captures: every flow of PROTOCOL.md between the emulators, once per AS profile.

``python captures/record.py`` (``make record``) runs the lab (``peers/targets/lab``) on loopback for each profile of
the AS emulator, captures the wire with scapy (root or CAP_NET_RAW needed: without, it stops with that
reason), and writes ``captures/recorded_<profile>.pcapng`` with its ``.expected.json``. The expected
verdicts below are written from CONFORMANCE.md for the flow this script plays, not taken from the analyzer:
``tests/test_corpus.py`` checks every recording against them like any other reference capture. Each deviation
from a conforming run cites the catalogue sentence it follows (``"because"``); ``--expectations`` rewrites the
expected verdicts without recording again.

The flow: two handset accounts register (digest); 1001 subscribes (challenged), sets DND and CFNA from the
handset menu, gets a portal change (CFB) and dials ``*79`` (DND off, challenged INVITE), refreshes and
unsubscribes; 1002 fetches the state once, right after 1001 subscribed (``Expires: 0`` outside any dialog,
RFC 6665).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analyzer.documents import build_document
from analyzer.rules import CATALOGUE
from peers.io.recorder import can_sniff
from peers.sansio.gigaset import Handset
from peers.sansio.profiles import PROFILES, Profile
from peers.targets.lab import Lab, LabConfig
from peers.targets.labs import LoopbackLab

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenarios import CITE

HERE = Path(__file__).resolve().parent
NOTIFY_TIMEOUT = 1.0  # T_notify the recordings are judged with; the lab keeps a longer gap before the portal

# What the flow earns from a server that behaves as BroadWorks documents it (CONFORMANCE.md, rule by rule).
CONFORMING = {
    "FKS-SUB-1": "pass",
    "FKS-SUB-2": "pass",
    "FKS-SUB-3": "pass",
    "FKS-SUB-4": "pass",
    "FKS-SUB-5": "pass",  # ended by the unsubscribe before the granted expiry
    "FKS-RSP-1": "pass",  # 401, authenticated retry, 200
    "FKS-RSP-2": "pass",
    "FKS-NTF-1": "pass",
    "FKS-NTF-2": "pass",
    "FKS-NTF-3": "pass",
    "FKS-NTF-4": "pass",
    "FKS-NTF-5": "pass",
    "FKS-NTF-6": "pass",
    "FKS-NTF-7": "pass",
    "FKS-HS-1": "pass",
    "FKS-HS-2": "pass",
    "FKS-HS-3": "pass",
    "FKS-HS-4": "not_applicable",  # one subscription per AOR
    "FKS-AS-1": "pass",  # the portal change
    "FKS-AS-2": "pass",  # *79
    "FKS-TRM-1": "pass",
    "FKS-TRM-2": "pass",
    "FKS-PRV-1": "not_applicable",  # no provisioning file given to the audit
    "FKS-PRV-2": "not_applicable",
    "FKS-PRV-3": "not_applicable",
    "FKS-PRV-4": "not_applicable",
    "FKS-SIP-1": "pass",
}

# Per profile: what changes against CONFORMING (the profile's own ``catches`` and what follows from them).
DEVIATIONS: dict[str, dict[str, str]] = {
    "broadworks": {},
    "per-feature": {},
    "freeswitch": {"FKS-RSP-1": "warn", "FKS-NTF-3": "fail"},
    "kamailio": {"FKS-NTF-2": "fail"},  # initial (and refresh) NOTIFYs without a body
    "opensips": {"FKS-TRM-1": "fail"},  # the fetch of 1002 gets no NOTIFY
    "hyphenless": {"FKS-NTF-5": "warn"},
    "no-namespace": {"FKS-NTF-5": "warn"},
    "concatenated": {"FKS-NTF-4": "fail"},
    # no NOTIFY after the 200s: NTF-1 fails, and NTF-2 has no initial NOTIFY to judge
    "no-initial-notify": {"FKS-NTF-1": "fail", "FKS-NTF-2": "inconclusive"},
    # 489 to the first SUBSCRIBE: no dialog, so nothing else of the subscription can happen
    "bad-event": {
        **dict.fromkeys(CONFORMING, "not_applicable"),
        "FKS-SUB-1": "pass",
        "FKS-SUB-2": "pass",
        "FKS-SUB-3": "pass",
        "FKS-SUB-4": "pass",
        "FKS-SUB-5": "pass",
        "FKS-RSP-1": "fail",
        "FKS-SIP-1": "pass",
    },
}


def play(lab: Lab, profile: Profile) -> int:
    """The flow; returns the number of subscriptions it opened."""
    assert lab.register("1001") and lab.register("1002")
    if profile.reject_package:
        lab.subscribe_and_settle("1001")
        return 1
    if profile.initial_notify:
        lab.subscribe("1001")
    else:
        lab.subscribe_and_settle("1001")
    lab.unsubscribe("1002")  # a fetch: no subscription of 1002 exists (the portal gap lets its window pass)
    lab.set_dnd("1001", True)
    lab.set_forward("1001", "CFNA", True, "1002", rings=6)
    portal = build_document("SetForwarding", device="1001", forwarding_type="forwardBusy", active=True, target="1003")
    lab.portal_change("1001", portal)
    lab.dial("1001", "*79")
    if profile.initial_notify:
        lab.subscribe("1001")
    else:
        lab.subscribe_and_settle("1001")
    lab.unsubscribe("1001")
    return 2


def record(profile: Profile) -> Path:
    handsets = [Handset("1001", "example.test", "pw-1001"), Handset("1002", "example.test", "pw-1002")]
    config = LabConfig(
        profile=profile,
        handsets=handsets,
        passwords={"1001": "pw-1001", "1002": "pw-1002"},
        quiet=NOTIFY_TIMEOUT + 0.5,
        timeout=5.0,
    )
    path = HERE / f"recorded_{profile.name}.pcapng"
    with LoopbackLab(config) as lab:
        subscriptions = play(lab, profile)
        lab.settle()
        lab.capture(path)
    write_expectations(profile, subscriptions)
    return path


def write_expectations(profile: Profile, subscriptions: int) -> None:
    """``recorded_<profile>.expected.json``: the verdicts, each deviation with the catalogue sentence it follows."""
    expected = {**CONFORMING, **DEVIATIONS[profile.name]}
    assert list(expected) == [r.id for r in CATALOGUE]
    because = {}
    for rule, verdict in DEVIATIONS[profile.name].items():
        if verdict in ("fail", "warn", "inconclusive"):
            because[f"{rule} {verdict}"] = CITE[(rule, verdict)]
    spec = {
        "purpose": f"recorded live: base emulator against the AS emulator, profile {profile.name}: "
        f"{profile.description}",
        "options": {"decode_as": [], "provisioning": None, "notify_timeout": NOTIFY_TIMEOUT},
        "subscriptions": subscriptions,
        "verdicts": expected,
        "because": because,
    }
    (HERE / f"recorded_{profile.name}.expected.json").write_text(json.dumps(spec, indent=2) + "\n")


def main() -> int:
    if sys.argv[1:] == ["--expectations"]:  # rewrite the expected verdicts only, keep the recordings
        for name in sorted(PROFILES):
            path = HERE / f"recorded_{name}.expected.json"
            write_expectations(PROFILES[name], json.loads(path.read_text())["subscriptions"])
        return 0
    if not can_sniff():
        print("record: capturing needs root or CAP_NET_RAW; nothing recorded", file=sys.stderr)
        return 2
    for name in sorted(PROFILES):
        print(f"recorded {record(PROFILES[name]).name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
