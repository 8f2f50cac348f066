"""AS - a change made on the portal or by feature access code (AS -> phone): FKS-AS-1 and FKS-AS-2."""

from __future__ import annotations

from analyzer.dialogs import Call, NotifyTx, Subscription
from analyzer.fac import match_fac
from analyzer.rules.base import FAIL, GIGASET, INCONCLUSIVE, PASS, Context, Finding, Text, finding, ms, rule
from analyzer.rules.handset import confirms


def unsolicited(sub: Subscription, ctx: Context) -> list[NotifyTx]:
    """NOTIFYs with no SUBSCRIBE of the dialog in the preceding T_notify (terminating NOTIFYs aside)."""
    out = []
    for n in sub.notifies:
        if n.state is not None and n.state.state == "terminated":
            continue
        if any(n.time - ctx.options.notify_timeout <= tx.time <= n.time for tx in sub.subscribes):
            continue
        out.append(n)
    return out


def foreign_tags(sub: Subscription, n: NotifyTx) -> str:
    """Catalogue 1.1: with the start of the subscription in the capture, a NOTIFY whose tags are not this
    dialog's belongs to another, unknown dialog, even under a known Call-ID. Empty when the tags match."""
    if not sub.seen_from_start:
        return ""
    sip = n.request.sip
    out = []
    if sub.subscriber_tag and sip.to_tag != sub.subscriber_tag:
        out.append(f"To tag {sip.to_tag} is not the SUBSCRIBE's From tag {sub.subscriber_tag}")
    notifier = sub.notifier_tag
    if notifier and sip.from_tag != notifier:
        out.append(f"From tag {sip.from_tag} is not the 2xx's To tag {notifier}")
    return "; ".join(out) + (f" (Call-ID {sub.call_id})" if out else "")


@rule(
    "FKS-AS-1",
    "A change at the AS arrives as an unsolicited NOTIFY in an active dialog with the feature's document",
    sources="GS",
    verdicts="pass fail inconclusive",
    expectation="in an active subscription dialog, carrying the changed feature's document",
    idle="no unsolicited NOTIFY (no portal or FAC change) in this dialog",
    text=Text(
        "A change made at the AS (web portal, admin API, feature access code) reaches the phone as an "
        "unsolicited NOTIFY, meaning no SUBSCRIBE of the dialog in the preceding T_notify, sent in an active "
        "subscription dialog and carrying the changed feature's document. A NOTIFY for a terminated or unknown "
        "dialog is wrong. Unknown means the capture holds the start of that Call-ID's subscriptions and none "
        "of their dialogs has this NOTIFY's tags: a To tag other than the SUBSCRIBE's From tag is another, "
        "unknown dialog, even under a known Call-ID. When the dialog began before the capture, it cannot be "
        "told apart.",
        {
            "pass": "the unsolicited NOTIFY is in an active dialog and carries a feature document",
            "fail": "a NOTIFY for a terminated, expired or unknown dialog, one answered 481 by the phone, or "
            "one without a feature document",
            "inconclusive": "the NOTIFY's dialog began before the capture (and the phone did not answer 481)",
        },
        (f"{GIGASET}: changes made on the web portal or by feature access code are notified to the phone",),
    ),
)
def as_1(sub: Subscription, ctx: Context) -> list[Finding]:
    out = []
    for n in unsolicited(sub, ctx):
        ended = sub.terminated_at()
        final = n.final
        features = n.body.features() if n.body else {}
        stranger = foreign_tags(sub, n)
        if stranger:
            out.append(finding(FAIL, f"NOTIFY for an unknown dialog: {stranger}", n.index, observed=stranger))
        elif ended is not None and ended < n.time:
            out.append(finding(FAIL, "NOTIFY for a terminated subscription", n.index, observed="dialog terminated"))
        elif not sub.seen_from_start and not sub.subscribes:
            if final is not None and final.sip.status == 481:
                out.append(finding(FAIL, "NOTIFY for a dialog the phone does not know (481)", n.index, final.index))
            else:
                out.append(finding(INCONCLUSIVE, "NOTIFY in a dialog whose SUBSCRIBE is not in the capture", n.index))
        elif not sub.active_at(n.time):
            out.append(finding(FAIL, "NOTIFY outside an active subscription (expired or never granted)", n.index))
        elif not features:
            out.append(finding(FAIL, "unsolicited NOTIFY without a feature document", n.index, observed="no document"))
        else:
            out.append(finding(PASS, "change notified: " + ", ".join(d.summary() for d in features.values()), n.index))
    return out


def _calls(sub: Subscription, ctx: Context) -> list[tuple[Call, str, bool, str]]:
    out = []
    for call in ctx.trace.calls:
        if call.aor != sub.aor or not sub.active_at(call.time):
            continue  # another user's call, or one made while this dialog was not running
        hit = match_fac(call.user, ctx.options.facs)
        if hit is not None:
            _, fac, target = hit
            out.append((call, fac.feature, fac.on, target))
    return out


@rule(
    "FKS-AS-2",
    "A feature access code call is followed by a NOTIFY with the new state within T_notify",
    sources="GS",
    verdicts="pass fail not_applicable inconclusive",
    expectation="NOTIFY reporting the feature with the state the code sets",
    idle="no feature access code call by this user",
    text=Text(
        "When the phone dials a feature access code (an INVITE whose Request-URI user is a configured code; "
        "the default table is *78/*79 DND on/off, *72/*73 CFA, *90/*91 CFB, *92/*93 CFNA), a NOTIFY reporting "
        "that feature in its new state follows within T_notify in the user's active subscription.",
        {
            "pass": "the NOTIFY reports the state the code sets",
            "fail": "no NOTIFY for the feature within T_notify, or one reporting another state",
            "not_applicable": "no feature access code call in the traffic",
            "inconclusive": "the capture ends less than T_notify after the call",
        },
        (f"{GIGASET}: changes made by feature access code are notified to the phone",),
    ),
)
def as_2(sub: Subscription, ctx: Context) -> list[Finding]:
    out = []
    limit = ctx.options.notify_timeout
    for call, feature, on, target in _calls(sub, ctx):
        want = f"{feature} {'on' if on else 'off'}" + (f" -> {target}" if target else "")
        notifies = [n for n in sub.notifies_between(call.time, call.time + limit) if confirms(n, feature)]
        if notifies:
            doc = confirms(notifies[0], feature)
            assert doc is not None
            state = doc.dnd if feature == "DND" else doc.active
            if state == on:
                delay = ms(notifies[0].time - call.time)
                out.append(
                    finding(PASS, f"{call.user} -> {doc.summary()} after {delay}", call.frame, notifies[0].index)
                )
            else:
                out.append(
                    finding(
                        FAIL,
                        f"{call.user} should set {want} but the NOTIFY reports {doc.summary()}",
                        call.frame,
                        notifies[0].index,
                        expected=want,
                        observed=doc.summary(),
                    )
                )
        elif ctx.ended_before(call.time + limit):
            out.append(finding(INCONCLUSIVE, f"capture ends within {limit:g} s of the {call.user} call", call.frame))
        else:
            out.append(
                finding(
                    FAIL,
                    f"no NOTIFY reporting {feature} within {limit:g} s of the {call.user} call",
                    call.frame,
                    expected=want,
                    observed="no NOTIFY",
                )
            )
    return out


RULES = [as_1, as_2]
