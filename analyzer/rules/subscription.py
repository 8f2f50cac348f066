"""SUB - the subscription (phone -> AS): catalogue rules FKS-SUB-1 .. FKS-SUB-5."""

from __future__ import annotations

from analyzer.dialogs import Kind, SubscribeTx, Subscription
from analyzer.rules.base import Context, Finding, finding, ms, overdue, rule
from analyzer.sip import uri_user
from analyzer.verdicts import FAIL, PASS, WARN
from analyzer.vocab import MEDIA_TYPE, PACKAGE

_NO_SUBSCRIBE = "no SUBSCRIBE of this dialog in the traffic"


def _subscription_requests(sub: Subscription) -> list[SubscribeTx]:
    return [tx for tx in sub.subscribes if tx.kind in (Kind.ESTABLISH, Kind.REFRESH)]


@rule("FKS-SUB-1")
def sub_1(sub: Subscription, ctx: Context) -> list[Finding]:
    out = []
    for tx in sub.subscribes:
        event = tx.request.sip.event
        raw = tx.request.sip.headers.get("Event")
        if event is not None and event[0] == PACKAGE:
            out.append(finding(PASS, f"Event: {raw}", tx.index))
        else:
            out.append(
                finding(
                    FAIL,
                    f"SUBSCRIBE uses {MEDIA_TYPE} but its Event is {raw or 'absent'}",
                    tx.index,
                    observed=f"Event: {raw}" if raw else "no Event header",
                )
            )
    return out


@rule("FKS-SUB-2")
def sub_2(sub: Subscription, ctx: Context) -> list[Finding]:
    out = []
    for tx in _subscription_requests(sub)[:1] or sub.subscribes[:1]:
        sip = tx.request.sip
        frm, to = sip.from_, sip.to
        if frm is None or to is None:
            continue  # FKS-SIP-1 reports the missing header
        ruri_user = uri_user(sip.uri or "")
        if to.aor == frm.aor and ruri_user == frm.user:
            out.append(finding(PASS, f"subscribes to its own AOR {frm.aor}", tx.index))
        else:
            out.append(
                finding(
                    WARN,
                    f"From {frm.aor} subscribes to To {to.aor} (Request-URI user {ruri_user})",
                    tx.index,
                    expected=f"To {frm.aor}, Request-URI user {frm.user}",
                    observed=f"To {to.aor}, Request-URI user {ruri_user}",
                )
            )
    return out


@rule("FKS-SUB-3")
def sub_3(sub: Subscription, ctx: Context) -> list[Finding]:
    out = []
    for tx in _subscription_requests(sub):
        accepts = tx.request.sip.headers.get_all("Accept")
        types = [a.split(";")[0].strip().lower() for a in accepts]
        if not accepts:
            out.append(finding(WARN, "SUBSCRIBE has no Accept header", tx.index, observed="no Accept"))
        elif MEDIA_TYPE in types:
            out.append(finding(PASS, f"Accept: {', '.join(accepts)}", tx.index))
        else:
            out.append(
                finding(
                    FAIL,
                    f"Accept lists {', '.join(accepts)} but not {MEDIA_TYPE}",
                    tx.index,
                    observed=f"Accept: {', '.join(accepts)}",
                )
            )
    return out


@rule("FKS-SUB-4")
def sub_4(sub: Subscription, ctx: Context) -> list[Finding]:
    out = []
    for tx in sub.subscribes:
        if tx.kind is Kind.CHANGE:
            continue
        if tx.body is None:
            if tx.kind is not Kind.TERMINATE:
                out.append(finding(PASS, f"{tx.kind.value} SUBSCRIBE without a body", tx.index))
            continue
        out.append(
            finding(
                WARN,
                f"{tx.kind.value} SUBSCRIBE carries a {tx.body.media_type or 'untyped'} body",
                tx.index,
                observed=f"{len(tx.request.sip.body)} body bytes",
            )
        )
    return out


@rule("FKS-SUB-5")
def sub_5(sub: Subscription, ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    for tx in sub.subscribes:
        if tx.kind is Kind.ESTABLISH:
            expires = tx.requested_expires
            if expires is None or expires <= 0:
                word = "no Expires" if expires is None else f"Expires: {expires}"
                out.append(finding(FAIL, f"establishing SUBSCRIBE with {word}", tx.index, observed=word))
            else:
                out.append(finding(PASS, f"establishing SUBSCRIBE asks Expires {expires}", tx.index))
    out += _refresh_windows(sub, ctx)  # catalogue 1.1: judged per grant, the last one too
    return out


def _refresh_windows(sub: Subscription, ctx: Context) -> list[Finding]:
    """One finding per granted expiry: refreshed in time, lapsed, or still open when the capture ends. A refresh
    is any later in-dialog SUBSCRIBE with Expires > 0 that gets a 2xx, a change request included."""
    out = []
    grants = [tx for tx in sub.subscribes if tx.kind is not Kind.TERMINATE and tx.granted and tx.final]
    ended = sub.terminated_at()
    for tx in grants:
        assert tx.final is not None
        expires = tx.granted_expires if tx.granted_expires is not None else tx.requested_expires
        if not expires:
            continue
        deadline = tx.final.time + expires
        later = [t for t in grants if t.time > tx.time and (t.requested_expires is None or t.requested_expires > 0)]
        if later and later[0].time <= deadline:
            out.append(
                finding(
                    PASS,
                    f"refreshed {ms(later[0].time - tx.final.time)} into a {expires} s grant",
                    later[0].index,
                )
            )
        elif ended is not None and ended <= deadline:
            out.append(finding(PASS, "subscription ended before its expiry", tx.final.index))
        else:
            frames = [tx.final.index] + ([later[0].index] if later else [])
            out.append(
                overdue(
                    ctx,
                    deadline,
                    f"capture ends before the granted expiry ({expires} s)",
                    tx.final.index,
                    f"subscription lapsed: no refresh within the granted {expires} s",
                    *frames,
                    expected=f"refresh before {expires} s",
                    observed="late refresh" if later else "no refresh",
                )
            )
    return out


RULES = [sub_1, sub_2, sub_3, sub_4, sub_5]
