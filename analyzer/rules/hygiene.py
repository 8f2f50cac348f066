"""SIP - message hygiene inside feature-sync dialogs: catalogue rule FKS-SIP-1."""

from __future__ import annotations

from analyzer.dialogs import Subscription
from analyzer.rules.base import EITHER, FAIL, PASS, Context, Finding, Rule, Text, finding, text_fields
from analyzer.verdicts import Verdict


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


SIP_1 = Rule(
    "FKS-SIP-1",
    "Every message parses as SIP; retransmissions are recognised",
    ("3261",),
    frozenset({Verdict.PASS, Verdict.FAIL}),
    "valid start line; Via, From, To, Call-ID, CSeq (Max-Forwards in requests); Content-Length = body length",
    subscription_check=sip_1,
    capture_check=sip_1_capture,
    idle="no feature-sync message in the traffic",
    judges=EITHER,
    **text_fields(
        Text(
            "Every message of a feature-sync dialog parses as SIP: a valid start line; Via, From, To, Call-ID and "
            "CSeq present, and Max-Forwards in requests; a Content-Length that agrees with the body (and present "
            "over TCP). Retransmissions are recognised as such and never counted as new transactions.",
            {
                "pass": "every message is well formed",
                "fail": "a message that does not parse, lacks a mandatory header or has a wrong Content-Length",
            },
            ("RFC 3261 sections 7 (message format), 8.1.1 (mandatory headers) and 20.14 (Content-Length)",),
        )
    ),
)

RULES = [SIP_1]
