"""TRM - ending a subscription: catalogue rules FKS-TRM-1 and FKS-TRM-2."""

from __future__ import annotations

from analyzer.dialogs import Kind, Subscription
from analyzer.rules.base import FAIL, INCONCLUSIVE, PASS, Context, Finding, Text, finding, rule
from analyzer.rules.grant import retried, unanswered


@rule(
    "FKS-TRM-1",
    "Expires: 0 gets a 2xx and a final NOTIFY with Subscription-State terminated",
    sources="6665",
    verdicts="pass fail inconclusive",
    expectation="2xx, then NOTIFY with Subscription-State: terminated within T_notify",
    idle="no SUBSCRIBE with Expires: 0 in this dialog",
    text=Text(
        "A SUBSCRIBE with Expires: 0 ends the subscription: the AS answers it with a 2xx and sends a final "
        "NOTIFY with Subscription-State: terminated (within T_notify).",
        {
            "pass": "2xx, then a NOTIFY with Subscription-State: terminated",
            "fail": "a failure answer, no answer within T_final, or no terminating NOTIFY within T_notify",
            "inconclusive": "the capture ends before the answer or the terminating NOTIFY was due",
        },
        ("RFC 6665 section 4.1.2.3 (unsubscribing) and section 4.2.2 (the final NOTIFY says terminated)",),
    ),
)
def trm_1(sub: Subscription, ctx: Context) -> list[Finding]:
    out = []
    limit = ctx.options.notify_timeout
    for tx in sub.subscribes:
        if tx.kind is not Kind.TERMINATE or retried(tx, sub.subscribes):
            continue
        final = tx.final
        if final is None:
            out.append(unanswered(tx, ctx, "unsubscribe"))
            continue
        if not tx.granted:
            answer = f"{final.sip.status} {final.sip.reason}"
            out.append(finding(FAIL, f"Expires: 0 answered {answer}", tx.index, final.index, observed=answer))
            continue
        done = next(
            (
                n
                for n in sub.notifies_between(tx.time, final.time + limit)
                if n.state is not None and n.state.state == "terminated"
            ),
            None,
        )
        if done is not None:
            reason = f";reason={done.state.reason}" if done.state and done.state.reason else ""
            out.append(
                finding(
                    PASS,
                    f"{final.sip.status}, then NOTIFY terminated{reason}",
                    tx.index,
                    final.index,
                    done.index,
                )
            )
        elif ctx.ended_before(final.time + limit):
            out.append(finding(INCONCLUSIVE, "capture ends before the terminating NOTIFY was due", tx.index))
        else:
            out.append(
                finding(
                    FAIL,
                    f"no NOTIFY with Subscription-State terminated within {limit:g} s of the {final.sip.status}",
                    tx.index,
                    final.index,
                    expected="NOTIFY terminated",
                    observed="no terminating NOTIFY",
                )
            )
    return out


@rule(
    "FKS-TRM-2",
    "No active NOTIFY follows the terminating NOTIFY",
    sources="6665",
    verdicts="pass fail",
    expectation="nothing but terminated after Subscription-State: terminated",
    idle="no terminating NOTIFY in this dialog",
    text=Text(
        "Once the AS has sent a NOTIFY with Subscription-State: terminated in a dialog, no NOTIFY with "
        "Subscription-State: active follows in that dialog: the subscription is over.",
        {
            "pass": "nothing active after the terminating NOTIFY",
            "fail": "a NOTIFY with Subscription-State: active after the terminating one",
        },
        ("RFC 6665 section 4.4.1: a terminated subscription ends its dialog usage",),
    ),
)
def trm_2(sub: Subscription, ctx: Context) -> list[Finding]:
    ordered = sorted(sub.notifies, key=lambda n: (n.time, n.index))
    first = next((n for n in ordered if n.state is not None and n.state.state == "terminated"), None)
    if first is None:
        return []
    after = [n for n in ordered if n.time >= first.time and n is not first and n.state and n.state.state == "active"]
    if after:
        return [
            finding(
                FAIL,
                f"NOTIFY with Subscription-State active after the terminating NOTIFY (frame {first.index})",
                first.index,
                *(n.index for n in after),
            )
        ]
    return [finding(PASS, "no active NOTIFY after the terminating one", first.index)]


RULES = [trm_1, trm_2]
