"""SIP - message hygiene inside feature-sync dialogs: catalogue rule FKS-SIP-1."""

from __future__ import annotations

from analyzer.dialogs import Subscription
from analyzer.rules.base import EITHER, Context, Finding, declared, finding
from analyzer.verdicts import FAIL, PASS


def sip_1(sub: Subscription, ctx: Context) -> list[Finding]:
    out = []
    retransmissions = 0
    messages = 0
    for tx in sub.transactions():
        retransmissions += len(tx.retransmissions) + len(tx.response_retransmissions)
        for m in tx.messages():
            messages += 1
            problems = list(m.sip.problems)
            if m.obs.transport != "udp" and m.sip.headers.get("Content-Length") is None:
                problems.append(f"no Content-Length over {m.obs.transport.upper()}")
            if problems:
                out.append(finding(FAIL, f"{m.sip.summary}: {'; '.join(problems)}", m.index))
    if not out:
        note = f"; {retransmissions} retransmission(s) recognised" if retransmissions else ""
        out.append(finding(PASS, f"{messages} message(s) well formed{note}"))
    return out


def sip_1_capture(ctx: Context) -> list[Finding]:
    """Messages that do not parse as SIP at all belong to no dialog; those naming this package count here."""
    out = []
    for obs, error in ctx.trace.unparsed:
        out.append(finding(FAIL, f"unparsable feature-sync message: {error}", obs.index))
    return out


SIP_1 = declared("FKS-SIP-1", subscription_check=sip_1, capture_check=sip_1_capture, judges=EITHER)

RULES = [SIP_1]
