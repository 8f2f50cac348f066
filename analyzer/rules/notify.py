"""NTF - notifications (AS -> phone): catalogue rules FKS-NTF-1 .. FKS-NTF-7."""

from __future__ import annotations

from analyzer.dialogs import Kind, NotifyTx, SubscribeTx, Subscription
from analyzer.rules.base import PHONE, Context, Finding, finding, ms, overdue, rule
from analyzer.rules.grant import unanswered
from analyzer.verdicts import FAIL, INCONCLUSIVE, PASS, WARN
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


@rule("FKS-NTF-1")
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
        else:
            late = f"; the first NOTIFY came after {ms(first.time - tx.final.time)}" if first else ""
            frames = [tx.index, tx.final.index] + ([first.index] if first else [])
            out.append(
                overdue(
                    ctx,
                    deadline,
                    f"capture ends within {limit:g} s of the 2xx",
                    tx.final.index,
                    f"no NOTIFY within {limit:g} s of the {tx.final.sip.status} to the {tx.kind.value} SUBSCRIBE{late}",
                    *frames,
                    observed="late NOTIFY" if first else "no NOTIFY",
                )
            )
    return out


@rule("FKS-NTF-2")
def ntf_2(sub: Subscription, ctx: Context) -> list[Finding]:
    out = []
    for tx in grants(sub):
        notifies = initial_notifies(sub, tx, ctx)
        if not notifies:
            out.append(finding(INCONCLUSIVE, "no initial NOTIFY to judge", tx.index))
            continue
        end = window_end(sub, tx, ctx)
        frames = [n.index for n in notifies]
        features: dict[str, str] = {}
        for n in notifies:
            if n.body is not None:
                features.update({name: doc.summary() for name, doc in n.body.features().items()})
        missing = [f for f in (DND, *FORWARDING) if f not in features]
        if missing and not all(n.body is None or n.body.empty for n in notifies) and ctx.ended_before(end):
            # one NOTIFY per feature is allowed: the rest may still come within T_notify (catalogue 1.1 general rule)
            what = ", ".join(missing)
            out.append(finding(INCONCLUSIVE, f"the capture ends within T_notify of the grant, before {what}", *frames))
        elif all(n.body is None or n.body.empty for n in notifies):
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


@rule("FKS-NTF-3")
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


@rule("FKS-NTF-4")
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


@rule("FKS-NTF-5")
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


@rule("FKS-NTF-6", judges=PHONE)
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


@rule("FKS-NTF-7")
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
