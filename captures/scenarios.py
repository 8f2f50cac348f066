"""The reference captures of ``captures/``: each one a scripted flow, its purpose and its expected verdicts.

Run ``python captures/scenarios.py`` (``make captures``) to write ``NAME.pcap`` (crafted with scapy, see
``peers/wire.py``), ``NAME.expected.json`` and, where the PRV rules need one, ``NAME.provisioning.xml``.
Deterministic: the same bytes every run.

The expected verdicts are read off CONFORMANCE.md, one judgement per rule, not off the analyzer's output:
``tests/test_corpus.py`` fails when the two disagree. Every rule not named in a scenario is expected
``not_applicable`` (its trigger is absent). A plain established subscription that the capture leaves
running passes everything it triggers but FKS-SUB-5, which stays ``inconclusive`` (the capture ends before
the granted expiry, so whether the phone refreshes in time cannot be judged).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from analyzer.observation import Observation
from peers.flows import (
    FULL_STATE,
    Flow,
    dnd_event,
    fwd_event,
    merge,
    one_change_two_dialogs,
    set_dnd,
    set_fwd,
)
from peers.wire import WireMessage, write_capture

HERE = Path(__file__).resolve().parent
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
HYPHENLESS = b"http://www.ecmainternational.org/standards/ecma-323/csta/ed3"
NS = b"http://www.ecma-international.org/standards/ecma-323/csta/ed3"

# What an established subscription (SUBSCRIBE, 200, full-state NOTIFY, 200) left running earns.
ESTABLISHED = {
    **{r: "pass" for r in ("FKS-SUB-1", "FKS-SUB-2", "FKS-SUB-3", "FKS-SUB-4", "FKS-RSP-1", "FKS-RSP-2")},
    **{f"FKS-NTF-{i}": "pass" for i in range(1, 8)},
    "FKS-SUB-5": "inconclusive",
    "FKS-SIP-1": "pass",
}
TERMINATED = {"FKS-TRM-1": "pass", "FKS-TRM-2": "pass"}
REQUESTED = {r: "pass" for r in ("FKS-SUB-1", "FKS-SUB-2", "FKS-SUB-3", "FKS-SUB-4", "FKS-SUB-5", "FKS-SIP-1")}


@dataclass
class Scenario:
    name: str
    purpose: str
    build: Callable[[], list[Observation]]
    verdicts: dict[str, str]
    subscriptions: int = 1
    provisioning: str | None = None
    options: dict[str, object] = field(default_factory=dict)
    transport: str = "udp"


def provisioning(*accounts: tuple[str, str, str | None]) -> str:
    """A Gigaset provisioning file with one provider and ``(id, user, FeatureKeySyncActive)`` accounts."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<provisioning version="1.1" productID="e2">',
        "  <nvm>",
        '    <param name="SipProvider.0.Domain" value="example.test"/>',
        '    <param name="SipProvider.0.ProxyServerAddress" value="198.51.100.20"/>',
    ]
    for ident, user, fks in accounts:
        lines += [
            f'    <param name="SipAccount.{ident}.UserName" value="{user}"/>',
            f'    <param name="SipAccount.{ident}.AuthName" value="{user}"/>',
            f'    <param name="SipAccount.{ident}.AuthPassword" value="not-a-real-secret"/>',
            f'    <param name="SipAccount.{ident}.ProviderId" value="0"/>',
        ]
        if fks is not None:
            lines.append(f'    <param name="SipAccount.{ident}.FeatureKeySyncActive" value="{fks}"/>')
    return "\n".join([*lines, "  </nvm>", "</provisioning>", ""])


def hyphenless(docs: list[bytes]) -> list[bytes]:
    return [d.replace(NS, HYPHENLESS) for d in docs]


# -- the scenarios ----------------------------------------------------------------------------------------


def conforming_broadworks() -> list[Observation]:
    f, other = Flow(), Flow(user="1002", call_id="reg-1002", clock=999.0)
    other.register()
    f.register()
    f.at(1.2).subscribe()
    f.respond(401, "Unauthorized", extra=[("WWW-Authenticate", 'Digest realm="example.test", nonce="n1", qop="auth"')])
    f.subscribe(auth=True)
    f.respond()
    f.notify(FULL_STATE)
    f.respond()
    f.at(10).subscribe(body=set_dnd(True))  # handset menu: DND on
    f.respond()
    f.notify([dnd_event(True)])
    f.respond()
    f.at(10).notify([fwd_event("forwardNoAns", True, "1003", "3")])  # portal: CFNA to 1003 after 3 rings
    f.respond()
    f.at(10).invite("*79")  # feature access code: DND off
    f.at(0.4).notify([dnd_event(False)])
    f.respond()
    f.at(30).subscribe()  # refresh
    f.respond()
    f.notify([dnd_event(False), *FULL_STATE[1:3], fwd_event("forwardNoAns", True, "1003", "3")])
    f.respond()
    f.at(10).subscribe(expires=0)
    f.respond(expires=0)
    f.notify([], state="terminated;reason=timeout")
    f.respond()
    return merge(other, f)


def conforming_tcp() -> list[Observation]:
    f = Flow(transport="TCP")
    f.establish()
    f.at(5).subscribe(body=set_fwd("forwardBusy", True, "1004"))
    f.respond()
    f.notify([fwd_event("forwardBusy", True, "1004")])
    f.respond()
    f.at(5).subscribe(expires=0)
    f.respond(expires=0)
    f.notify([], state="terminated;reason=timeout")
    f.respond()
    return f.observations


def two_subscriptions(notify_both: bool) -> Callable[[], list[Observation]]:
    def build() -> list[Observation]:
        a = Flow(call_id="hs1@192.0.2.10", sub_tag="ta")
        b = Flow(call_id="hs2@192.0.2.11", sub_tag="tb", clock=1000.5)
        one_change_two_dialogs(a, b, 1010.0, notify_both)
        a.at(10).options()
        return merge(a, b)

    return build


def freeswitch_like() -> list[Observation]:
    f = Flow()
    f.subscribe()
    f.respond(202, "Accepted")
    f.notify(FULL_STATE, state="active, 3600")
    f.respond()
    return f.observations


def kamailio_like() -> list[Observation]:
    f = Flow()
    f.establish(docs=[])
    return f.observations


def bad_event_489() -> list[Observation]:
    f = Flow()
    f.subscribe(event="presence")
    f.respond(489, "Bad Event")
    return f.observations


def no_final_response() -> list[Observation]:
    f = Flow()
    f.subscribe()
    for gap in (0.5, 1.0, 2.0, 4.0):
        f.at(gap).subscribe(retransmit=True)
    f.at(40).options()
    return f.observations


def no_initial_notify() -> list[Observation]:
    f = Flow()
    f.subscribe()
    f.respond()
    f.at(10).options()
    return f.observations


def capture_ends_early() -> list[Observation]:
    f = Flow()
    f.subscribe()
    f.respond()
    return f.observations


def grant_deviations() -> list[Observation]:
    f = Flow()
    f.subscribe(expires=600, accept=None)
    f.respond(expires=3600)
    f.notify([dnd_event(False), fwd_event("forwardBusy", False)])
    f.respond()
    return f.observations


def hyphenless_namespace() -> list[Observation]:
    f = Flow()
    f.establish(docs=hyphenless(FULL_STATE))
    return f.observations


def malformed_bodies() -> list[Observation]:
    f = Flow()
    f.establish()
    concatenated = ("application/x-as-feature-event+xml", dnd_event(True) + fwd_event("forwardBusy", True, "1004"))
    f.at(10).notify(raw_body=concatenated)
    f.respond()
    dtd = b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x "true">]>\n' + dnd_event(True).split(b"?>\n", 1)[1]
    f.at(10).notify([dtd])
    f.respond()
    f.at(10).notify([fwd_event("forwardImmediate", True, "")])
    f.respond()
    return f.observations


def notify_dialog_faults() -> list[Observation]:
    f = Flow()
    f.establish()
    f.at(10).notify([dnd_event(True)])
    f.respond(481, "Call/Transaction Does Not Exist")
    f.at(10).notify([dnd_event(False)], from_tag="someone-else", cseq=1)
    f.respond()
    return f.observations


def handset_change_faults() -> list[Observation]:
    f = Flow()
    f.establish()
    f.at(5).subscribe(body=set_dnd(True), in_dialog=False)  # out of dialog
    f.respond()
    f.notify([dnd_event(True)])
    f.respond()
    f.at(10).subscribe(body=set_fwd("forwardImmediate", True, ""))  # activates CFA without a target
    f.respond()
    f.at(10).subscribe(body=set_fwd("forwardNoAns", True, "1002", "4"))
    f.respond()
    f.notify([fwd_event("forwardNoAns", True, "1002", "3")])  # the AS applied 3 rings
    f.respond()
    f.at(10).options()
    return f.observations


def handset_change_unconfirmed() -> list[Observation]:
    f = Flow()
    f.establish()
    f.at(5).subscribe(body=set_dnd(True))
    f.respond()
    f.at(10).subscribe(body=set_fwd("forwardBusy", True, "1005"))
    f.respond(403, "Forbidden")
    f.at(10).options()
    return f.observations


def fac_without_notify() -> list[Observation]:
    f = Flow()
    f.establish()
    f.at(10).invite("*78")
    f.at(10).options()
    return f.observations


def unsubscribe_without_final_notify() -> list[Observation]:
    f = Flow()
    f.establish()
    f.at(10).subscribe(expires=0)
    f.respond(expires=0)
    f.at(10).options()
    return f.observations


def notify_after_termination() -> list[Observation]:
    f = Flow()
    f.establish()
    f.at(10).notify([], state="terminated;reason=deactivated")
    f.respond()
    f.at(10).notify([dnd_event(True)])
    f.respond()
    return f.observations


def lapsed_subscription() -> list[Observation]:
    f = Flow()
    f.subscribe(expires=60, to_user="1009", accept="application/pidf+xml")
    f.respond(expires=60)
    f.notify(FULL_STATE, state="active;expires=60")
    f.respond()
    f.at(120).options()
    return f.observations


def hygiene_faults() -> list[Observation]:
    f = Flow()
    f.subscribe(body=b"please", ctype="text/plain")
    f.respond()
    n = f.notify(FULL_STATE)
    f.respond()
    obs = f.observations
    bad = obs[n - 1]
    head, _, body = bad.data.partition(b"\r\n\r\n")
    head = head.replace(f"Content-Length: {len(body)}".encode(), f"Content-Length: {len(body) + 40}".encode())
    obs[n - 1] = Observation(bad.index, bad.time, bad.src, bad.dst, bad.transport, head + b"\r\n\r\n" + body)
    return obs


def provisioning_faults() -> list[Observation]:
    disabled, silent = Flow(user="1001"), Flow(user="1002", call_id="x@192.0.2.10", clock=1000.1)
    disabled.register()
    disabled.at(1).establish()
    silent.register()
    silent.at(12).options()
    return merge(disabled, silent)


def n670_silent() -> list[Observation]:
    enabled, disabled = Flow(user="1001"), Flow(user="1002", clock=1000.1)
    enabled.register()
    disabled.register()
    enabled.at(10).options()
    return merge(enabled, disabled)


def n670_subscribes_anyway() -> list[Observation]:
    f = Flow()
    f.register()
    f.at(1).establish()
    return f.observations


def noise_only() -> list[Observation]:
    f = Flow()
    f.register()
    f.invite("1002")
    presence = Flow(call_id="p1@192.0.2.10")
    presence.subscribe(event="presence", accept="application/pidf+xml")
    presence.respond()
    presence.notify(raw_body=("application/pidf+xml", b"<presence/>"), event="presence")
    presence.respond()
    csta = Flow(call_id="u1@192.0.2.10", clock=1001.0)
    csta.subscribe(event="uaCSTA", accept="application/csta+xml")
    csta.respond()
    return merge(f, presence, csta)


SCENARIOS = [
    Scenario(
        "conforming_broadworks",
        "BroadWorks-like AS: challenge, multipart state, handset DND, portal CFNA, FAC *79, refresh, unsubscribe",
        conforming_broadworks,
        {
            **ESTABLISHED,
            **{r: "pass" for r in ("FKS-SUB-5", "FKS-HS-1", "FKS-HS-2", "FKS-HS-3", "FKS-AS-1", "FKS-AS-2")},
            **{r: "pass" for r in ("FKS-TRM-1", "FKS-TRM-2", "FKS-PRV-1", "FKS-PRV-2", "FKS-PRV-4")},
        },
        provisioning=provisioning(("029e74a599", "1001", "1"), ("029e74a59a", "1002", None)),
        options={"model": "N870", "internal_telephony": False},
    ),
    Scenario(
        "conforming_tcp",
        "the same conversation over one TCP connection: handset CFB change, unsubscribe",
        conforming_tcp,
        {**ESTABLISHED, **{r: "pass" for r in ("FKS-SUB-5", "FKS-HS-1", "FKS-HS-2", "FKS-HS-3")}, **TERMINATED},
        transport="tcp",
    ),
    Scenario(
        "two_handsets_both_notified",
        "one user, two subscriptions: a handset change is confirmed on both",
        two_subscriptions(True),
        {**ESTABLISHED, **{r: "pass" for r in ("FKS-HS-1", "FKS-HS-2", "FKS-HS-3", "FKS-HS-4", "FKS-AS-1")}},
        subscriptions=2,
    ),
    Scenario(
        "two_handsets_one_notified",
        "one user, two subscriptions: the change is confirmed on the changing one only",
        two_subscriptions(False),
        {**ESTABLISHED, "FKS-HS-1": "pass", "FKS-HS-2": "pass", "FKS-HS-3": "pass", "FKS-HS-4": "fail"},
        subscriptions=2,
    ),
    Scenario(
        "freeswitch_like",
        "202 Accepted grant and a malformed Subscription-State 'active, 3600'",
        freeswitch_like,
        {**ESTABLISHED, "FKS-RSP-1": "warn", "FKS-NTF-3": "fail"},
    ),
    Scenario(
        "kamailio_like_empty_notify",
        "initial NOTIFY without a body: the state is not reported",
        kamailio_like,
        {**ESTABLISHED, "FKS-NTF-2": "fail", "FKS-NTF-4": "not_applicable", "FKS-NTF-5": "not_applicable"},
    ),
    Scenario(
        "bad_event_489",
        "SUBSCRIBE accepting the feature type under Event: presence, refused with 489 Bad Event",
        bad_event_489,
        {**REQUESTED, "FKS-SUB-1": "fail", "FKS-RSP-1": "fail"},
    ),
    Scenario(
        "no_final_response",
        "SUBSCRIBE retransmitted and never answered; the capture runs past Timer F",
        no_final_response,
        {**REQUESTED, "FKS-RSP-1": "fail"},
    ),
    Scenario(
        "no_initial_notify",
        "200 OK but no NOTIFY although the capture runs 10 s on",
        no_initial_notify,
        {
            **ESTABLISHED,
            "FKS-NTF-1": "fail",
            "FKS-NTF-2": "inconclusive",
            **{f"FKS-NTF-{i}": "not_applicable" for i in range(3, 8)},
        },
    ),
    Scenario(
        "capture_ends_early",
        "the capture stops right after the 200 OK: NOTIFY timing cannot be judged",
        capture_ends_early,
        {
            **ESTABLISHED,
            "FKS-NTF-1": "inconclusive",
            "FKS-NTF-2": "inconclusive",
            **{f"FKS-NTF-{i}": "not_applicable" for i in range(3, 8)},
        },
    ),
    Scenario(
        "grant_deviations",
        "no Accept header; 2xx grants more than asked; initial NOTIFY without CFA and CFNA",
        grant_deviations,
        {**ESTABLISHED, "FKS-SUB-3": "warn", "FKS-RSP-2": "fail", "FKS-NTF-2": "warn"},
    ),
    Scenario(
        "hyphenless_namespace",
        "documents in the hyphenless ecmainternational.org namespace",
        hyphenless_namespace,
        {**ESTABLISHED, "FKS-NTF-5": "warn"},
    ),
    Scenario(
        "malformed_bodies",
        "portal NOTIFYs: two documents concatenated, a DTD with an entity, an empty forwardTo while active",
        malformed_bodies,
        {**ESTABLISHED, "FKS-NTF-4": "fail", "FKS-NTF-5": "fail", "FKS-AS-1": "pass"},
    ),
    Scenario(
        "notify_dialog_faults",
        "a NOTIFY answered 481; a NOTIFY with a foreign From tag and a CSeq that goes back",
        notify_dialog_faults,
        {**ESTABLISHED, "FKS-NTF-6": "fail", "FKS-NTF-7": "fail", "FKS-AS-1": "pass"},
    ),
    Scenario(
        "handset_change_faults",
        "change request out of dialog; CFA activated without target and accepted; CFNA confirmed with 3 rings, not 4",
        handset_change_faults,
        {**ESTABLISHED, "FKS-SUB-5": "pass", "FKS-HS-1": "fail", "FKS-HS-2": "warn", "FKS-HS-3": "warn"},
    ),
    Scenario(
        "handset_change_unconfirmed",
        "DND change accepted but never confirmed; a valid CFB change refused with 403",
        handset_change_unconfirmed,
        {**ESTABLISHED, "FKS-SUB-5": "pass", "FKS-HS-1": "pass", "FKS-HS-2": "fail", "FKS-HS-3": "fail"},
    ),
    Scenario(
        "fac_without_notify",
        "the handset dials *78 (DND on) and no NOTIFY follows",
        fac_without_notify,
        {**ESTABLISHED, "FKS-AS-2": "fail"},
    ),
    Scenario(
        "unsubscribe_without_final_notify",
        "Expires: 0 gets 200 but no terminated NOTIFY (OpenSIPS behaviour out of dialog)",
        unsubscribe_without_final_notify,
        {**ESTABLISHED, "FKS-SUB-5": "pass", "FKS-TRM-1": "fail"},
    ),
    Scenario(
        "notify_after_termination",
        "the AS terminates the subscription, then notifies DND on the dead dialog",
        notify_after_termination,
        {**ESTABLISHED, "FKS-SUB-5": "pass", "FKS-TRM-2": "fail", "FKS-AS-1": "fail"},
    ),
    Scenario(
        "lapsed_subscription",
        "subscribes to another user's AOR, Accept without the feature type, and never refreshes a 60 s grant",
        lapsed_subscription,
        {**ESTABLISHED, "FKS-SUB-2": "warn", "FKS-SUB-3": "fail", "FKS-SUB-5": "fail"},
    ),
    Scenario(
        "hygiene_faults",
        "establishing SUBSCRIBE with a stray text/plain body; a NOTIFY whose Content-Length exceeds its body",
        hygiene_faults,
        {**ESTABLISHED, "FKS-SUB-4": "warn", "FKS-SIP-1": "fail"},
    ),
    Scenario(
        "provisioning_faults",
        "disabled account subscribes; enabled account never does; FeatureKeySyncActive 'true'",
        provisioning_faults,
        {**ESTABLISHED, "FKS-PRV-1": "fail", "FKS-PRV-2": "fail", "FKS-PRV-4": "fail"},
        provisioning=provisioning(("00001", "1001", "0"), ("00002", "1002", "1"), ("00003", "1003", "true")),
        options={"model": "N870", "internal_telephony": False},
    ),
    Scenario(
        "n670_internal_telephony_silent",
        "N670 with internal telephony: the enabled account rightly stays silent, its setting is ineffective",
        n670_silent,
        {"FKS-PRV-1": "pass", "FKS-PRV-3": "warn", "FKS-PRV-4": "pass"},
        subscriptions=0,
        provisioning=provisioning(("00001", "1001", "1"), ("00002", "1002", "0")),
        options={"model": "N670", "internal_telephony": True},
    ),
    Scenario(
        "n670_internal_telephony_unused",
        "N670 with internal telephony and no account enabling the feature",
        n670_silent,
        {"FKS-PRV-1": "pass", "FKS-PRV-3": "pass", "FKS-PRV-4": "pass"},
        subscriptions=0,
        provisioning=provisioning(("00001", "1001", "0"), ("00002", "1002", "0")),
        options={"model": "N670", "internal_telephony": True},
    ),
    Scenario(
        "n670_subscribes_anyway",
        "N670 with internal telephony subscribes although the feature is unsupported there",
        n670_subscribes_anyway,
        {**ESTABLISHED, "FKS-PRV-3": "fail", "FKS-PRV-4": "pass"},
        provisioning=provisioning(("00001", "1001", "1")),
        options={"model": "N670", "internal_telephony": True},
    ),
    Scenario(
        "noise_only",
        "REGISTER, INVITE, a presence and a uaCSTA subscription: no feature sync at all",
        noise_only,
        {},
        subscriptions=0,
    ),
]


def expected(scenario: Scenario) -> dict[str, object]:
    verdicts = dict.fromkeys(RULES, "not_applicable")
    unknown = set(scenario.verdicts) - set(RULES)
    if unknown:
        raise ValueError(f"{scenario.name}: unknown rules {sorted(unknown)}")
    verdicts.update(scenario.verdicts)
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
    }


def write(scenario: Scenario, folder: Path = HERE) -> Path:
    observations = scenario.build()
    wire = [
        WireMessage(o.time, (o.src.host, o.src.port), (o.dst.host, o.dst.port), o.data, scenario.transport)
        for o in observations
    ]
    pcap = write_capture(folder / f"{scenario.name}.pcap", wire)
    (folder / f"{scenario.name}.expected.json").write_text(json.dumps(expected(scenario), indent=2) + "\n")
    if scenario.provisioning:
        (folder / f"{scenario.name}.provisioning.xml").write_text(scenario.provisioning)
    return pcap


_README_HEAD = """# captures/: reference captures with their expected verdicts

Each capture is crafted with scapy (`peers/wire.py`) from a scripted SIP flow (`peers/flows.py`) described in
`scenarios.py`, and comes with `NAME.expected.json`: the worst verdict each rule of CONFORMANCE.md must get
over the whole capture (all subscriptions and the capture-level rules), read off the catalogue, not off the
analyzer. `tests/test_corpus.py` audits every capture and compares; it also checks that every rule has at
least one capture where it passes and one where it fails or warns. `make captures` regenerates the captures
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
 "verdicts": {"FKS-SUB-1": "pass", "...": "every rule ID of the catalogue"}}
```
`options` are the `fks audit` options the capture is judged with (`--provisioning`, `--model`,
`--internal-telephony`, ...).
"""

_README_TAIL = """
## Judgement calls
Where the catalogue leaves room, these captures pin the reading the analyzer implements:
- A plain established subscription left running gets FKS-SUB-5 `inconclusive` (the capture ends before the
  granted expiry). Any in-dialog SUBSCRIBE with Expires > 0 (a refresh or a change request) sent before the
  granted expiry counts as a refresh in time (RFC 6665), so a dialog with a change request gets `pass`.
- FKS-SUB-5 also passes when the subscription ends (Expires: 0 granted, or a terminated NOTIFY) before its
  expiry; a refused subscription (489) gets `pass` for its establishing Expires.
- The initial-state window of FKS-NTF-2 is T_notify after the 2xx, cut at the next SUBSCRIBE of the dialog.
  With no NOTIFY at all, FKS-NTF-2 is `inconclusive` (FKS-NTF-1 carries the `fail`).
- A NOTIFY counts as unsolicited (FKS-AS-1) when no SUBSCRIBE of its dialog precedes it within T_notify;
  the confirming NOTIFYs that FKS-HS-4 asks for on a user's other subscriptions are therefore judged by
  FKS-AS-1 too. Terminating NOTIFYs are left to the TRM rules.
- An invalid change request (FKS-HS-1 `fail`) is not expected to be confirmed: FKS-HS-3 skips it.
- A document with a DTD is read with the DTD cut out, never expanded, and fails FKS-NTF-5; the NOTIFY still
  carries the feature's document for FKS-AS-1 (each fault is judged once, by the rule that owns it).
"""


_NOTABLE = ("fail", "warn", "inconclusive")


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
