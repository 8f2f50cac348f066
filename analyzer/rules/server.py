"""AS - a change made on the portal or by feature access code (AS -> phone): FKS-AS-1 and FKS-AS-2."""

from __future__ import annotations

from analyzer.dialogs import Call, NotifyTx, Subscription
from analyzer.fac import match_fac
from analyzer.rules.base import Context, Finding, finding, ms, overdue, rule
from analyzer.rules.handset import confirms
from analyzer.verdicts import FAIL, INCONCLUSIVE, PASS


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


@rule("FKS-AS-1")
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


@rule("FKS-AS-2")
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
        else:
            out.append(
                overdue(
                    ctx,
                    call.time + limit,
                    f"capture ends within {limit:g} s of the {call.user} call",
                    call.frame,
                    f"no NOTIFY reporting {feature} within {limit:g} s of the {call.user} call",
                    call.frame,
                    expected=want,
                    observed="no NOTIFY",
                )
            )
    return out


RULES = [as_1, as_2]
