"""TRM - ending a subscription: catalogue rules FKS-TRM-1 and FKS-TRM-2."""

from __future__ import annotations

from analyzer.dialogs import Kind, Subscription
from analyzer.rules.base import Context, Finding, finding, overdue, rule
from analyzer.rules.grant import retried, unanswered
from analyzer.verdicts import FAIL, PASS


@rule("FKS-TRM-1")
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
        else:
            out.append(
                overdue(
                    ctx,
                    final.time + limit,
                    "capture ends before the terminating NOTIFY was due",
                    tx.index,
                    f"no NOTIFY with Subscription-State terminated within {limit:g} s of the {final.sip.status}",
                    tx.index,
                    final.index,
                    expected="NOTIFY terminated",
                    observed="no terminating NOTIFY",
                )
            )
    return out


@rule("FKS-TRM-2")
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
