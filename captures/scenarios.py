"""The reference captures of ``captures/``: each one a scripted flow, its purpose and its expected verdicts.

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

from builders import (
    bad_event_489,
    capture_ends_early,
    challenge_abandoned,
    conforming_broadworks,
    conforming_tcp,
    fac_without_notify,
    freeswitch_like,
    grant_deviations,
    handset_change_202,
    handset_change_capture_ends,
    handset_change_faults,
    handset_change_out_of_dialog,
    handset_change_refused_notified,
    handset_change_unconfirmed,
    hygiene_faults,
    hyphenless_namespace,
    joined_mid_dialog,
    kamailio_like,
    lapsed_subscription,
    malformed_bodies,
    n670_silent,
    n670_subscribes_anyway,
    no_final_response,
    no_initial_notify,
    noise_only,
    notify_after_termination,
    notify_capture_ends,
    notify_dialog_faults,
    notify_unanswered,
    notify_without_expires,
    provisioning,
    provisioning_faults,
    refresh_then_lapse,
    subscribe_window_open,
    timers_from_first_copy,
    two_subscriptions,
    unsubscribe_capture_ends,
    unsubscribe_without_final_notify,
)

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
        per_subscription={
            "hs1@192.0.2.10": {**ESTABLISHED, **{r: "pass" for r in ("FKS-HS-1", "FKS-HS-2", "FKS-HS-3", "FKS-HS-4")}},
            # the confirmation on the other subscription comes unsolicited: FKS-AS-1 judges it
            "hs2@192.0.2.11": {**ESTABLISHED, "FKS-AS-1": "pass"},
        },
    ),
    Scenario(
        "two_handsets_one_notified",
        "one user, two subscriptions: the change is confirmed on the changing one only",
        two_subscriptions(False),
        {**ESTABLISHED, "FKS-HS-1": "pass", "FKS-HS-2": "pass", "FKS-HS-3": "pass", "FKS-HS-4": "fail"},
        subscriptions=2,
        per_subscription={
            "hs1@192.0.2.10": {
                **ESTABLISHED,
                **{r: "pass" for r in ("FKS-HS-1", "FKS-HS-2", "FKS-HS-3")},
                "FKS-HS-4": "fail",
            },
            "hs2@192.0.2.11": ESTABLISHED,
        },
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
        cite={"FKS-RSP-1": "no final response within `T_final` is a `fail`"},
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
        {**ESTABLISHED, "FKS-NTF-6": "fail", "FKS-NTF-7": "fail", "FKS-AS-1": "fail"},
        cite={
            "FKS-AS-1": "a To tag other than the SUBSCRIBE's From tag is another, unknown dialog, even with a known "
            "Call-ID"
        },
        evidence={"FKS-NTF-6": (5, 6), "FKS-AS-1": (7,)},
    ),
    Scenario(
        "handset_change_faults",
        "change request out of dialog; CFA activated without target and accepted; CFNA confirmed with 3 rings, not 4",
        handset_change_faults,
        {**ESTABLISHED, "FKS-HS-1": "fail", "FKS-HS-2": "warn", "FKS-HS-3": "warn"},
    ),
    Scenario(
        "handset_change_unconfirmed",
        "DND change accepted but never confirmed; a valid CFB change refused with 403",
        handset_change_unconfirmed,
        {**ESTABLISHED, "FKS-HS-1": "pass", "FKS-HS-2": "fail", "FKS-HS-3": "fail"},
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
        "refresh_then_lapse",
        "a 60 s grant refreshed in time, then the refreshed grant runs out while traffic goes on",
        refresh_then_lapse,
        {**ESTABLISHED, "FKS-SUB-5": "fail"},
        evidence={"FKS-SUB-5": (6,)},
    ),
    Scenario(
        "challenge_abandoned",
        "the AS challenges with 401 and the subscriber never retries; the capture runs past Timer F",
        challenge_abandoned,
        {**REQUESTED, "FKS-RSP-1": "inconclusive"},
        evidence={"FKS-RSP-1": (1, 2)},
    ),
    Scenario(
        "notify_without_expires",
        "the initial NOTIFY says Subscription-State: active without ;expires=",
        notify_without_expires,
        {**ESTABLISHED, "FKS-NTF-3": "warn"},
        evidence={"FKS-NTF-3": (3,)},
    ),
    Scenario(
        "handset_change_refused_notified",
        "a valid DND change refused with 403, then a NOTIFY reporting DND still off",
        handset_change_refused_notified,
        {**ESTABLISHED, "FKS-HS-1": "pass", "FKS-HS-2": "warn"},
        cite={
            "FKS-HS-2": "A valid request refused with a 4xx (the AS may refuse, e.g. a service not assigned) is a "
            "`warn` when a NOTIFY in that dialog then reports the feature's unchanged state within `T_notify`"
        },
        evidence={"FKS-HS-2": (5, 6, 7)},
    ),
    Scenario(
        "handset_change_out_of_dialog",
        "a valid DND change sent outside the subscription dialog, accepted and confirmed",
        handset_change_out_of_dialog,
        {**ESTABLISHED, "FKS-HS-1": "warn", "FKS-HS-2": "pass", "FKS-HS-3": "pass"},
        evidence={"FKS-HS-1": (5,)},
    ),
    Scenario(
        "handset_change_202",
        "a valid DND change granted with 202 Accepted and confirmed",
        handset_change_202,
        {**ESTABLISHED, "FKS-HS-1": "pass", "FKS-HS-2": "warn", "FKS-HS-3": "pass"},
        cite={"FKS-HS-2": "A valid change request gets a 2xx (202 `warn`)"},
        evidence={"FKS-HS-2": (5, 6)},
    ),
    Scenario(
        "joined_mid_dialog",
        "two dialogs begun before the capture: a portal NOTIFY answered 200, another answered 481",
        joined_mid_dialog,
        {**JOINED, "FKS-NTF-6": "fail", "FKS-AS-1": "fail"},
        subscriptions=2,
        per_subscription={
            "m1@192.0.2.10": {**JOINED, "FKS-AS-1": "inconclusive"},
            "m2@192.0.2.10": {**JOINED, "FKS-NTF-6": "fail", "FKS-AS-1": "fail"},
        },
        cite={
            "FKS-AS-1": "a NOTIFY whose dialog began before the capture is `inconclusive`, unless the phone "
            "answers it 481 (`fail`)"
        },
    ),
    Scenario(
        "timers_from_first_copy",
        "1001: NOTIFY 5.3 s after the first copy of a retransmitted 200; 1002: NOTIFY sent at 4.8 s, resent at 5.3 s",
        timers_from_first_copy,
        {**ESTABLISHED, "FKS-NTF-1": "fail", "FKS-AS-1": "pass"},
        subscriptions=2,
        per_subscription={
            # 5.3 s after the SUBSCRIBE's first copy, the late NOTIFY is unsolicited by the catalogue's definition
            # ("no SUBSCRIBE in the preceding T_notify"), so FKS-AS-1 judges it too: it carries the state
            "t1@192.0.2.10": {**ESTABLISHED, "FKS-NTF-1": "fail", "FKS-AS-1": "pass"},
            "t2@192.0.2.10": ESTABLISHED,
        },
        cite={
            "FKS-NTF-1": "from the first copy of the trigger to the first copy of the answer; time lost to "
            "retransmission counts, because the phone lives it."
        },
    ),
    Scenario(
        "notify_unanswered",
        "a portal NOTIFY the phone never answers, retransmitted; the capture runs past Timer F",
        notify_unanswered,
        {**ESTABLISHED, "FKS-NTF-6": "fail", "FKS-AS-1": "pass"},
    ),
    Scenario(
        "unsubscribe_capture_ends",
        "Expires: 0 gets its 200 and the capture stops before the terminated NOTIFY was due",
        unsubscribe_capture_ends,
        {**ESTABLISHED, "FKS-SUB-5": "pass", "FKS-TRM-1": "inconclusive"},
    ),
    Scenario(
        "handset_change_capture_ends",
        "a DND change accepted with 200; the capture stops before its confirmation was due",
        handset_change_capture_ends,
        {**ESTABLISHED, "FKS-HS-1": "pass", "FKS-HS-2": "pass", "FKS-HS-3": "inconclusive"},
    ),
    Scenario(
        "notify_capture_ends",
        "a portal NOTIFY sent as the capture stops: its answer cannot be judged",
        notify_capture_ends,
        {**ESTABLISHED, "FKS-NTF-6": "inconclusive", "FKS-AS-1": "pass"},
    ),
    Scenario(
        "subscribe_window_open",
        "an enabled and a disabled account register; the capture stops inside T_subscribe",
        subscribe_window_open,
        {"FKS-PRV-1": "pass", "FKS-PRV-2": "inconclusive", "FKS-PRV-4": "pass"},
        subscriptions=0,
        provisioning=provisioning(("00001", "1001", "1"), ("00002", "1002", None)),
        options={"model": "N870", "internal_telephony": False},
    ),
    Scenario(
        "noise_only",
        "REGISTER, INVITE, a presence and a uaCSTA subscription: no feature sync at all",
        noise_only,
        {},
        subscriptions=0,
    ),
]
