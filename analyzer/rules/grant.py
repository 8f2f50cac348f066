"""RSP - the AS grants the subscription: catalogue rules FKS-RSP-1 and FKS-RSP-2."""

from __future__ import annotations

from analyzer.dialogs import Kind, SubscribeTx, Subscription, Transaction
from analyzer.rules.base import Context, Finding, finding, overdue, rule
from analyzer.verdicts import FAIL, INCONCLUSIVE, PASS, WARN


def retried(tx: SubscribeTx, txs: list[SubscribeTx]) -> bool:
    """Whether a 401/407 challenge was followed by a retry of the same kind (which is then judged instead)."""
    return tx.challenged and any(t.time > tx.time and t.kind is tx.kind for t in txs)


def unanswered(tx: Transaction, ctx: Context, what: str) -> Finding:
    """No final response: a fail once Timer F has run out inside the capture, else inconclusive."""
    return overdue(
        ctx,
        tx.time + ctx.options.final_timeout,
        f"capture ends before a final response to the {what}",
        tx.index,
        f"no final response to the {what} within {ctx.options.final_timeout:g} s",
        tx.index,
        *(m.index for m in tx.retransmissions),
        observed="no final response",
    )


@rule("FKS-RSP-1")
def rsp_1(sub: Subscription, ctx: Context) -> list[Finding]:
    out = []
    for tx in sub.subscribes:
        if tx.kind not in (Kind.ESTABLISH, Kind.REFRESH) or retried(tx, sub.subscribes):
            continue
        status = tx.status
        final = tx.final
        what = f"{tx.kind.value} SUBSCRIBE"
        if final is None or status is None:
            out.append(unanswered(tx, ctx, what))
        elif status == 200:
            challenged = any(t.challenged and t.kind is tx.kind for t in sub.subscribes if t.time < tx.time)
            note = " after a digest challenge" if challenged else ""
            out.append(finding(PASS, f"200 OK to the {what}{note}", tx.index, final.index))
        elif 200 <= status < 300:
            out.append(
                finding(
                    WARN,
                    f"{status} {final.sip.reason} to the {what} (BroadWorks grants with 200)",
                    tx.index,
                    final.index,
                    expected="200 OK",
                    observed=f"{status} {final.sip.reason}",
                )
            )
        elif tx.challenged:
            # catalogue 1.1: a challenge the subscriber never answers is inconclusive for the AS
            out.append(
                finding(
                    INCONCLUSIVE,
                    f"{status} {final.sip.reason} to the {what}: the subscriber gave up (no authenticated retry)",
                    tx.index,
                    final.index,
                    observed=f"{status} {final.sip.reason}",
                )
            )
        else:
            reason = "package not supported" if status == 489 else ""
            out.append(
                finding(
                    FAIL,
                    f"{status} {final.sip.reason} to the {what}" + (f" ({reason})" if reason else ""),
                    tx.index,
                    final.index,
                    expected="200 OK",
                    observed=f"{status} {final.sip.reason}",
                )
            )
    return out


@rule("FKS-RSP-2")
def rsp_2(sub: Subscription, ctx: Context) -> list[Finding]:
    out = []
    for tx in sub.subscribes:
        if not tx.granted or tx.final is None:
            continue
        granted, requested = tx.final.sip.expires, tx.requested_expires
        frames = (tx.index, tx.final.index)
        if granted is None:
            raw = tx.final.sip.headers.get("Expires")
            word = f"malformed Expires {raw!r}" if raw is not None else "no Expires"
            out.append(finding(FAIL, f"{tx.final.sip.status} to the SUBSCRIBE has {word}", *frames, observed=word))
        elif requested is not None and granted > requested:
            out.append(
                finding(
                    FAIL,
                    f"granted Expires {granted} exceeds the requested {requested}",
                    *frames,
                    expected=f"Expires <= {requested}",
                    observed=f"Expires: {granted}",
                )
            )
        else:
            asked = f" (asked {requested})" if requested is not None else ""
            out.append(finding(PASS, f"granted Expires {granted}{asked}", *frames))
    return out


RULES = [rsp_1, rsp_2]
