"""HS - a change made in the handset menu (phone -> AS): catalogue rules FKS-HS-1 .. FKS-HS-4."""

from __future__ import annotations

from analyzer.dialogs import Kind, NotifyTx, SubscribeTx, Subscription
from analyzer.documents import FeatureDocument
from analyzer.rules.base import PHONE, Context, Finding, finding, overdue, rule
from analyzer.rules.grant import retried, unanswered
from analyzer.verdicts import FAIL, INCONCLUSIVE, NOT_APPLICABLE, PASS, WARN
from analyzer.vocab import MEDIA_TYPE, PACKAGE

_IDLE = "no change request (SUBSCRIBE with a body) in this dialog"


def changes(sub: Subscription) -> list[SubscribeTx]:
    return [tx for tx in sub.subscribes if tx.kind is Kind.CHANGE]


def request_document(tx: SubscribeTx) -> FeatureDocument | None:
    """The one Set* document of a change request, if it has exactly one."""
    docs = tx.body.documents if tx.body else ()
    return docs[0] if len(docs) == 1 and docs[0].kind == "request" else None


def judge_request(tx: SubscribeTx, sub: Subscription) -> Finding:
    """FKS-HS-1 for one change request."""
    sip = tx.request.sip
    body = tx.body
    problems: list[str] = []
    event = sip.event
    if event is None or event[0] != PACKAGE:
        problems.append(f"Event is {sip.headers.get('Event') or 'absent'}")
    ctype = sip.content_type
    if ctype is None or ctype[0] != MEDIA_TYPE:
        problems.append(f"Content-Type is {ctype[0] if ctype else 'absent'}, not {MEDIA_TYPE}")
    if body is not None:
        problems += [f.reason for f in body.faults if f.severity is FAIL]
        problems += [f"unreadable document: {r}" for r in body.unparsed]
        docs = body.documents
        if len(docs) + len(body.unparsed) != 1:
            problems.append(f"{len(docs) + len(body.unparsed)} documents, expected exactly one")
        for doc in docs:
            if doc.kind != "request":
                problems.append(f"{doc.root} is not SetDoNotDisturb or SetForwarding")
            problems += [p.reason for p in doc.problems if p.severity is FAIL]
    if problems:
        return finding(FAIL, "; ".join(dict.fromkeys(problems)), tx.index)
    doc = request_document(tx)
    assert doc is not None
    warns = [p.reason for p in doc.problems if p.severity is WARN]
    if not tx.in_dialog or (sub.notifier_tag and sip.to_tag != sub.notifier_tag):
        warns.append("sent outside the subscription dialog")
    if warns:
        return finding(WARN, f"{doc.root} ({doc.summary()}): {'; '.join(warns)}", tx.index)
    return finding(PASS, f"{doc.root}: {doc.summary()}", tx.index)


@rule("FKS-HS-1", judges=PHONE)
def hs_1(sub: Subscription, ctx: Context) -> list[Finding]:
    return [judge_request(tx, sub) for tx in changes(sub)]


def valid(tx: SubscribeTx, sub: Subscription) -> bool:
    return judge_request(tx, sub).verdict is not FAIL


@rule("FKS-HS-2")
def hs_2(sub: Subscription, ctx: Context) -> list[Finding]:
    out = []
    for tx in changes(sub):
        if retried(tx, sub.subscribes):
            continue
        final, ok = tx.final, valid(tx, sub)
        if final is None or tx.status is None:
            out.append(unanswered(tx, ctx, "change request"))
            continue
        status, answer = tx.status, f"{tx.status} {final.sip.reason}"
        frames = (tx.index, final.index)
        if ok and status == 200:
            out.append(finding(PASS, f"{answer} to a valid change request", *frames))
        elif ok and 200 <= status < 300:
            out.append(finding(WARN, f"{answer} to a valid change request (expected 200)", *frames, observed=answer))
        elif ok and 400 <= status < 500:
            out.append(refused(sub, tx, final.time, answer, ctx))
        elif ok:
            out.append(finding(FAIL, f"valid change request refused with {answer}", *frames, observed=answer))
        elif 400 <= status < 500:
            out.append(finding(PASS, f"{answer} to an invalid change request", *frames))
        elif 200 <= status < 300:
            out.append(
                finding(WARN, f"invalid change request silently accepted with {answer}", *frames, expected="4xx")
            )
        else:
            out.append(finding(FAIL, f"invalid change request answered {answer}, not 4xx", *frames, expected="4xx"))
    return out


def refused(sub: Subscription, tx: SubscribeTx, answered: float, answer: str, ctx: Context) -> Finding:
    """Catalogue 1.1: a valid request refused with a 4xx (the AS may refuse, e.g. a service not assigned) is a
    ``warn`` when a NOTIFY of the dialog then reports the feature's unchanged state within T_notify of the
    refusal, a ``fail`` otherwise (``inconclusive`` when the capture ends before that NOTIFY was due)."""
    doc = request_document(tx)
    assert doc is not None and doc.feature is not None and tx.final is not None
    frames = (tx.index, tx.final.index)
    before = [confirms(n, doc.feature) for n in sub.notifies if n.time < tx.time]
    known = next((d for d in reversed(before) if d is not None), None)
    deadline = answered + ctx.options.notify_timeout
    for n in sub.notifies_between(tx.time, deadline):
        told = confirms(n, doc.feature)
        if told is None:
            continue
        unchanged = same_state(known, told) if known is not None else not same_state(doc, told)
        if unchanged:
            return finding(
                WARN,
                f"valid change request refused with {answer}; the AS then reports {told.summary()} unchanged",
                *frames,
                n.index,
                expected="2xx",
                observed=answer,
            )
        break
    if ctx.ended_before(deadline):
        return finding(
            INCONCLUSIVE, f"valid change request refused with {answer}; capture ends before T_notify", *frames
        )
    return finding(
        FAIL,
        f"valid change request refused with {answer} and its unchanged state not notified",
        *frames,
        expected="2xx, or a 4xx followed by a NOTIFY of the unchanged state",
        observed=answer,
    )


def confirms(notify: NotifyTx, feature: str) -> FeatureDocument | None:
    """The document of ``notify`` reporting ``feature``, if any."""
    return notify.body.features().get(feature) if notify.body else None


def same_state(asked: FeatureDocument, told: FeatureDocument) -> bool:
    if asked.feature == "DND":
        return asked.dnd == told.dnd
    if asked.active != told.active:
        return False
    if not asked.active:
        return True
    rings_ok = asked.ring_count is None or told.ring_count is None or asked.ring_count == told.ring_count
    return (asked.target or "") == (told.target or "") and rings_ok


def confirmation(sub: Subscription, tx: SubscribeTx, doc: FeatureDocument, ctx: Context) -> NotifyTx | None:
    """The first NOTIFY of ``sub`` after the change ``tx`` reporting its feature within T_notify."""
    assert tx.final is not None and doc.feature is not None
    for n in sub.notifies_between(tx.time, tx.final.time + ctx.options.notify_timeout):
        if confirms(n, doc.feature):
            return n
    return None


def accepted_changes(sub: Subscription) -> list[tuple[SubscribeTx, FeatureDocument]]:
    out = []
    for tx in changes(sub):
        doc = request_document(tx)
        if tx.granted and tx.final is not None and doc is not None and doc.feature and valid(tx, sub):
            out.append((tx, doc))
    return out


@rule("FKS-HS-3")
def hs_3(sub: Subscription, ctx: Context) -> list[Finding]:
    out = []
    for tx, doc in accepted_changes(sub):
        assert tx.final is not None and doc.feature is not None
        n = confirmation(sub, tx, doc, ctx)
        if n is not None:
            told = confirms(n, doc.feature)
            assert told is not None
            if same_state(doc, told):
                out.append(finding(PASS, f"confirmed: {told.summary()}", tx.index, n.index))
            else:
                out.append(
                    finding(
                        WARN,
                        f"handset asked {doc.summary()}, AS notified {told.summary()}",
                        tx.index,
                        n.index,
                        expected=doc.summary(),
                        observed=told.summary(),
                    )
                )
        else:
            out.append(
                overdue(
                    ctx,
                    tx.final.time + ctx.options.notify_timeout,
                    "capture ends before the confirming NOTIFY was due",
                    tx.index,
                    f"no NOTIFY reporting {doc.feature} within {ctx.options.notify_timeout:g} s of the change",
                    tx.index,
                    tx.final.index,
                    expected=f"NOTIFY with {doc.summary()}",
                    observed="no confirming NOTIFY",
                )
            )
    return out


@rule("FKS-HS-4")
def hs_4(sub: Subscription, ctx: Context) -> list[Finding]:
    out = []
    for tx, doc in accepted_changes(sub):
        assert tx.final is not None and doc.feature is not None
        others = [o for o in ctx.trace.by_aor(sub.aor) if o is not sub and o.active_at(tx.time)]
        if not others:
            out.append(finding(NOT_APPLICABLE, "only one active subscription of this user", tx.index))
            continue
        deadline = tx.final.time + ctx.options.notify_timeout
        for other in others:
            n = next((n for n in other.notifies_between(tx.time, deadline) if confirms(n, doc.feature)), None)
            if n is not None:
                out.append(finding(PASS, f"subscription {other.call_id} notified too", tx.index, n.index))
            else:
                out.append(
                    overdue(
                        ctx,
                        deadline,
                        f"capture ends before {other.call_id} was notified",
                        tx.index,
                        f"subscription {other.call_id} of the same user got no NOTIFY for {doc.feature}",
                        tx.index,
                        tx.final.index,
                        observed="no NOTIFY on the other subscription",
                    )
                )
    return out


RULES = [hs_1, hs_2, hs_3, hs_4]
