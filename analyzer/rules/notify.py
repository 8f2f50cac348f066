"""NTF - notifications (AS -> phone): catalogue rules FKS-NTF-1 .. FKS-NTF-7."""

from __future__ import annotations

from analyzer.dialogs import Kind, NotifyTx, SubscribeTx, Subscription
from analyzer.rules.base import (
    BROADWORKS,
    FAIL,
    GIGASET,
    INCONCLUSIVE,
    PASS,
    PHONE,
    WARN,
    Context,
    Finding,
    Text,
    finding,
    ms,
    rule,
)
from analyzer.rules.grant import unanswered
from analyzer.vocab import DND, FORWARDING, MEDIA_TYPE, PACKAGE


def grants(sub: Subscription) -> list[SubscribeTx]:
    """Granted establishing and refreshing SUBSCRIBEs: each one calls for a full-state NOTIFY."""
    return [tx for tx in sub.subscribes if tx.kind in (Kind.ESTABLISH, Kind.REFRESH) and tx.granted and tx.final]


def window_end(sub: Subscription, tx: SubscribeTx, ctx: Context) -> float:
    """Until when a NOTIFY answers ``tx``: T_notify after its 2xx, or the next SUBSCRIBE of the dialog if
    sooner (what follows that one answers it, not ``tx``)."""
    assert tx.final is not None
    end = tx.final.time + ctx.options.notify_timeout
    following = [t.time for t in sub.subscribes if t.time > tx.time]
    return min(end, following[0]) if following else end


def initial_notifies(sub: Subscription, tx: SubscribeTx, ctx: Context) -> list[NotifyTx]:
    """The NOTIFYs answering ``tx``: those of its window (else the first one after it, when it came late)."""
    window = sub.notifies_between(tx.time, window_end(sub, tx, ctx))
    if window:
        return window
    later = [
        n for n in sub.notifies if n.time >= tx.time and not any(tx.time < t.time <= n.time for t in sub.subscribes)
    ]
    return later[:1]


@rule(
    "FKS-NTF-1",
    "A NOTIFY follows every 2xx to an establishing or refreshing SUBSCRIBE within T_notify",
    sources="GS 6665",
    verdicts="pass fail inconclusive",
    expectation="NOTIFY in the dialog within T_notify of the 2xx",
    idle="no establishing or refreshing SUBSCRIBE was granted",
    text=Text(
        "After every 2xx to an establishing or refreshing SUBSCRIBE the AS sends a NOTIFY in that dialog "
        "within T_notify (5 s unless configured), measured from the first copy of the 2xx to the first copy of "
        "the NOTIFY. This NOTIFY is how the phone learns the current state.",
        {
            "pass": "a NOTIFY followed each 2xx within T_notify",
            "fail": "no NOTIFY, or a late one, after a 2xx",
            "inconclusive": "the capture ends less than T_notify after the 2xx",
        },
        (
            f"{GIGASET}: after granting, BroadWorks sends the current state in a NOTIFY, also after every re-subscribe",
            "RFC 6665 section 4.2.1.2 and 4.2.2: a NOTIFY follows the acceptance or refresh of a subscription",
        ),
    ),
)
def ntf_1(sub: Subscription, ctx: Context) -> list[Finding]:
    out = []
    limit = ctx.options.notify_timeout
    for tx in grants(sub):
        assert tx.final is not None
        after = initial_notifies(sub, tx, ctx)
        first = after[0] if after else None
        deadline = window_end(sub, tx, ctx)
        if first is not None and first.time <= deadline:
            delay = max(0.0, first.time - tx.final.time)
            out.append(
                finding(PASS, f"NOTIFY {ms(delay)} after the {tx.final.sip.status}", tx.final.index, first.index)
            )
        elif ctx.ended_before(deadline):
            out.append(finding(INCONCLUSIVE, f"capture ends within {limit:g} s of the 2xx", tx.final.index))
        else:
            late = f"; the first NOTIFY came after {ms(first.time - tx.final.time)}" if first else ""
            frames = [tx.index, tx.final.index] + ([first.index] if first else [])
            out.append(
                finding(
                    FAIL,
                    f"no NOTIFY within {limit:g} s of the {tx.final.sip.status} to the {tx.kind.value} SUBSCRIBE{late}",
                    *frames,
                    observed="late NOTIFY" if first else "no NOTIFY",
                )
            )
    return out


@rule(
    "FKS-NTF-2",
    "The initial NOTIFY reports DND, CFA, CFB and CFNA",
    sources="GS BW",
    verdicts="pass warn fail inconclusive",
    expectation="documents for DND, CFA (forwardImmediate), CFB (forwardBusy), CFNA (forwardNoAns)",
    idle="no establishing or refreshing SUBSCRIBE was granted",
    text=Text(
        "The NOTIFY that answers a grant (or the NOTIFYs the AS sends within T_notify, one per feature) "
        "reports the current state of every synchronised feature: Do Not Disturb in a DoNotDisturbEvent, and "
        "the three forwardings in ForwardingEvent documents with forwardingType forwardImmediate (CFA), "
        "forwardBusy (CFB) and forwardNoAns (CFNA).",
        {
            "pass": "DND, CFA, CFB and CFNA are all reported",
            "warn": "a forwarding type is missing (the user may not have that service assigned)",
            "fail": "no DND document, or the initial NOTIFY has an empty body",
            "inconclusive": "no initial NOTIFY arrived to judge (FKS-NTF-1 says why)",
        },
        (
            f"{GIGASET}: the NOTIFY after the grant carries the state of DND, CFA, CFB and CFNA",
            f"{BROADWORKS}: the initial NOTIFY holds one document per feature, unassigned features omitted",
        ),
    ),
)
def ntf_2(sub: Subscription, ctx: Context) -> list[Finding]:
    out = []
    for tx in grants(sub):
        notifies = initial_notifies(sub, tx, ctx)
        if not notifies:
            out.append(finding(INCONCLUSIVE, "no initial NOTIFY to judge", tx.index))
            continue
        frames = [n.index for n in notifies]
        features: dict[str, str] = {}
        for n in notifies:
            if n.body is not None:
                features.update({name: doc.summary() for name, doc in n.body.features().items()})
        if all(n.body is None or n.body.empty for n in notifies):
            out.append(
                finding(
                    FAIL,
                    "initial NOTIFY without a body: the state is not reported",
                    *frames,
                    observed="no body",
                )
            )
        elif "DND" not in features:
            out.append(
                finding(
                    FAIL,
                    "initial NOTIFY reports no DoNotDisturbEvent",
                    *frames,
                    observed=", ".join(features.values()) or "no readable document",
                )
            )
        elif missing := [f for f in FORWARDING if f not in features]:
            out.append(
                finding(
                    WARN,
                    f"initial NOTIFY omits {', '.join(missing)} (not assigned to the user?)",
                    *frames,
                    observed=", ".join(features.values()),
                )
            )
        else:
            out.append(finding(PASS, ", ".join(features[f] for f in (DND, *FORWARDING)), *frames))
    return out


def _granted_expiry(sub: Subscription, when: float) -> int | None:
    granted = [
        tx.granted_expires
        for tx in sub.subscribes
        if tx.granted and tx.final is not None and tx.final.time <= when and tx.granted_expires is not None
    ]
    return granted[-1] if granted else None


@rule(
    "FKS-NTF-3",
    "NOTIFY carries Event: as-feature-event and a well-formed Subscription-State",
    sources="6665",
    verdicts="pass warn fail",
    expectation="Event: as-feature-event[;id]; Subscription-State active;expires=N | pending | terminated",
    idle="no NOTIFY in this dialog",
    text=Text(
        "Every NOTIFY carries Event: as-feature-event (with the subscription's id parameter when the SUBSCRIBE "
        "had one) and a well-formed Subscription-State: active;expires=N, pending[;expires=N] or "
        "terminated[;reason=R], where N is not above the granted expiry. Malformed values such as active, 3600 "
        "break parsers. The ;expires= parameter on active or pending is recommended (SHOULD), so its absence "
        "is tolerated with a warning.",
        {
            "pass": "Event and Subscription-State are present and well formed",
            "warn": "active or pending without ;expires=",
            "fail": "a wrong or missing Event, a missing or malformed Subscription-State (e.g. active, 3600), "
            "or expires above the grant",
        },
        (
            "RFC 6665 section 4.2.2: the notifier's Subscription-State and its expires parameter (SHOULD)",
            "RFC 6665 section 3.2.1: the NOTIFY's Event header matches the subscription, id included",
        ),
    ),
)
def ntf_3(sub: Subscription, ctx: Context) -> list[Finding]:
    out = []
    event_id = sub.event_id
    for n in sub.notifies:
        sip = n.request.sip
        raw_event, raw_state = sip.headers.get("Event"), sip.headers.get("Subscription-State")
        problems = []
        event = sip.event
        if event is None or event[0] != PACKAGE:
            problems.append(f"Event is {raw_event or 'absent'}")
        elif event_id is not None and event[1].get("id") != event_id:
            problems.append(f"Event id {event[1].get('id')} differs from the subscription's id {event_id}")
        warns = []
        state = n.state
        if state is None:
            problems.append("no Subscription-State")
        elif state.problem:
            problems.append(state.problem)
        elif state.expires is not None:
            granted = _granted_expiry(sub, n.time)
            if granted is not None and state.expires > granted:
                problems.append(f"expires={state.expires} exceeds the granted {granted}")
        elif state.state in ("active", "pending"):
            warns.append(f"Subscription-State {state.state} without ;expires= (RFC 6665 says SHOULD)")
        observed = f"Event: {raw_event}; Subscription-State: {raw_state}"
        if problems:
            out.append(finding(FAIL, "; ".join(problems), n.index, observed=observed))
        elif warns:
            out.append(finding(WARN, "; ".join(warns), n.index, observed=observed))
        else:
            out.append(finding(PASS, f"Subscription-State: {raw_state}", n.index))
    return out


@rule(
    "FKS-NTF-4",
    "The NOTIFY body is one feature document or multipart/mixed of feature documents",
    sources="BW",
    verdicts="pass fail",
    expectation=f"Content-Type {MEDIA_TYPE} with one document, or multipart/mixed of {MEDIA_TYPE} parts",
    idle="no NOTIFY with a body in this dialog",
    text=Text(
        "A NOTIFY body is framed in one of two ways: Content-Type: application/x-as-feature-event+xml with "
        "exactly one XML document, or multipart/mixed with a boundary, each part being "
        "application/x-as-feature-event+xml. Several documents run together in one body that is not multipart "
        "fail, because phones read only the first of them.",
        {
            "pass": "one document with the package's media type, or a well-framed multipart/mixed",
            "fail": "concatenated documents, a missing or foreign Content-Type, a multipart without boundary "
            "or parts, or a part of another type",
        },
        (
            f"{BROADWORKS}: the initial NOTIFY as multipart/mixed, one application/x-as-feature-event+xml part "
            "per feature",
        ),
    ),
)
def ntf_4(sub: Subscription, ctx: Context) -> list[Finding]:
    out = []
    for n in sub.notifies:
        body = n.body
        if body is None or body.empty:
            continue
        fails = [f.reason for f in body.faults if f.severity is FAIL]
        if fails:
            out.append(finding(FAIL, "; ".join(fails), n.index, observed=f"Content-Type {body.media_type}"))
        elif body.framing == "multipart":
            out.append(finding(PASS, f"multipart/mixed with {len(body.documents) + len(body.unparsed)} parts", n.index))
        else:
            out.append(finding(PASS, f"one {MEDIA_TYPE} document", n.index))
    return out


@rule(
    "FKS-NTF-5",
    "Every event document is well-formed, namespaced and valid",
    sources="BW",
    verdicts="pass warn fail",
    expectation="DoNotDisturbEvent/ForwardingEvent in the ECMA-323 ed3 namespace with valid children",
    idle="no feature document in any NOTIFY of this dialog",
    text=Text(
        "Each event document in a NOTIFY is well-formed XML whose root is DoNotDisturbEvent or ForwardingEvent "
        "in the namespace http://www.ecma-international.org/standards/ecma-323/csta/ed3 (ECMA-323 CSTA "
        "edition 3). device is present; doNotDisturbOn and forwardStatus are true or false; forwardingType is "
        "forwardImmediate, forwardBusy or forwardNoAns; forwardTo is not empty when forwardStatus is true; "
        "ringCount, when it has a value, is an integer and appears only for forwardNoAns. Children may come in "
        "any order. The namespace without the hyphen (ecmainternational, shipped by OpenSIPS until 2024) or "
        "no namespace at all is tolerated. A document with a DTD or entity declarations is refused and never "
        "expanded.",
        {
            "pass": "every document is valid",
            "warn": "the hyphenless ecmainternational namespace, or no namespace",
            "fail": "XML that is not well formed, a DTD or entities, another root, a missing device, a value "
            "outside true/false, an unknown forwardingType, an empty forwardTo while active, a bad "
            "ringCount",
        },
        (f"{BROADWORKS}: the ECMA-323 ed3 vocabulary, namespace and element names of the event documents",),
    ),
)
def ntf_5(sub: Subscription, ctx: Context) -> list[Finding]:
    out = []
    for n in sub.notifies:
        if n.body is None:
            continue
        for reason in n.body.unparsed:
            out.append(finding(FAIL, f"unreadable document: {reason}", n.index))
        for doc in n.body.documents:
            if doc.kind != "event":
                out.append(finding(FAIL, f"NOTIFY carries {doc.root}, not an event document", n.index))
            elif doc.problems:
                worst = FAIL if doc.worst is FAIL else WARN
                reasons = "; ".join(p.reason for p in doc.problems if p.severity == doc.worst)
                out.append(finding(worst, f"{doc.root}: {reasons}", n.index))
            else:
                out.append(finding(PASS, f"{doc.root} valid ({doc.summary()})", n.index))
    return out


@rule(
    "FKS-NTF-6",
    "The phone answers every NOTIFY with 200 OK",
    sources="6665 3261",
    verdicts="pass fail inconclusive",
    expectation="200 OK to every NOTIFY",
    idle="no NOTIFY in this dialog",
    judges=PHONE,
    text=Text(
        "The phone answers every NOTIFY with 200 OK. A 481 means the phone does not know the dialog (it lost "
        "or never had the subscription); no final answer within T_final (Timer F) means the NOTIFY transaction "
        "failed.",
        {
            "pass": "200 OK to every NOTIFY",
            "fail": "481, another non-200 answer, or no answer within T_final",
            "inconclusive": "the capture ends before T_final runs out for an unanswered NOTIFY",
        },
        (
            "RFC 6665 section 4.1.3: the subscriber answers NOTIFY with 200; 481 for an unknown subscription",
            "RFC 3261 sections 12.2.2 (481 in a dialog) and 17.1.2.2 (Timer F)",
        ),
    ),
)
def ntf_6(sub: Subscription, ctx: Context) -> list[Finding]:
    out = []
    for n in sub.notifies:
        final = n.final
        if final is None:
            out.append(unanswered(n, ctx, "NOTIFY"))
        elif final.sip.status == 200:
            out.append(finding(PASS, "200 OK to the NOTIFY", n.index, final.index))
        else:
            status = f"{final.sip.status} {final.sip.reason}"
            why = " (the phone does not know the dialog)" if final.sip.status == 481 else ""
            out.append(finding(FAIL, f"{status} to the NOTIFY{why}", n.index, final.index, observed=status))
    return out


@rule(
    "FKS-NTF-7",
    "NOTIFYs belong to the subscription dialog",
    sources="6665 3261",
    verdicts="pass fail",
    expectation="same Call-ID; From tag = 2xx To tag; To tag = SUBSCRIBE From tag; CSeq increasing",
    idle="no NOTIFY in this dialog",
    text=Text(
        "NOTIFYs belong to the subscription dialog: the Call-ID of the SUBSCRIBE, a From tag equal to the To "
        "tag of the 2xx, a To tag equal to the From tag of the SUBSCRIBE, and a CSeq that increases from one "
        "NOTIFY to the next (gaps allowed).",
        {
            "pass": "every NOTIFY is in the dialog with an increasing CSeq",
            "fail": "a NOTIFY with another Call-ID or tags, or a CSeq that does not increase",
        },
        (
            "RFC 6665 section 4.4.1: the SUBSCRIBE creates the dialog NOTIFYs are sent in",
            "RFC 3261 section 12.2: requests within a dialog, tags and CSeq ordering",
        ),
    ),
)
def ntf_7(sub: Subscription, ctx: Context) -> list[Finding]:
    out = []
    notifier_tag = sub.notifier_tag
    previous: int | None = None
    for n in sorted(sub.notifies, key=lambda t: (t.time, t.index)):
        sip = n.request.sip
        problems = []
        if sip.call_id != sub.call_id:
            problems.append(f"Call-ID {sip.call_id} is not the dialog's {sub.call_id}")
        if sub.subscriber_tag is not None and sip.to_tag != sub.subscriber_tag:
            problems.append(f"To tag {sip.to_tag} is not the subscriber's tag {sub.subscriber_tag}")
        if notifier_tag is not None and sip.from_tag != notifier_tag:
            problems.append(f"From tag {sip.from_tag} is not the 2xx's To tag {notifier_tag}")
        cseq = sip.cseq_number
        if cseq is not None and previous is not None and cseq <= previous:
            problems.append(f"CSeq {cseq} does not increase (previous NOTIFY had {previous})")
        if cseq is not None:
            previous = cseq if previous is None else max(previous, cseq)
        if problems:
            out.append(finding(FAIL, "; ".join(problems), n.index))
        else:
            out.append(finding(PASS, f"in dialog, CSeq {cseq}", n.index))
    return out


RULES = [ntf_1, ntf_2, ntf_3, ntf_4, ntf_5, ntf_6, ntf_7]
