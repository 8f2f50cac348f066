"""Bounded memory for long-lived dialogs: a subscription refreshed every few seconds for days would keep
every transaction until it ends. ``Compactor`` judges such a dialog's old part while the whole dialog is still
in memory, keeps the findings that cite those old messages, and drops them.

The cut falls at a granted establishing or refreshing SUBSCRIBE older than the horizon (every rule timer
has run out there): what precedes it goes, it and what follows stay, so the remaining dialog starts the way
a refresh does, and its NOTIFYs keep the SUBSCRIBE they answer. When the subscription finally settles, each
rule aggregates the kept findings with those of the remaining dialog (``judge``): a finding that cites a
dropped message comes from the judgement of the whole dialog, every other one from the final judgement.

Of the dropped part's findings a rule keeps only the worst ones (what its verdict is made of), at most
``KEPT`` of them (one when they pass) and a count of the others: the verdict and the "(+N more)" of the
detail are those of the whole dialog, the frames cited from the dropped part are the kept findings' only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from analyzer.dialogs import Subscription
from analyzer.dialogs.state import Kind, SubscribeTx, Transaction
from analyzer.rules import CATALOGUE
from analyzer.rules.base import Context, Finding, Rule
from analyzer.verdicts import Result, Verdict

COMPACT_AT = 4  # transactions older than the horizon before a dialog is compacted
KEPT = 4  # worst findings kept per rule from what a compaction drops, one when they pass (others are counted)


@dataclass
class _Kept:
    """A rule's worst findings on the dropped part of a dialog."""

    findings: list[Finding] = field(default_factory=list)
    more: int = 0  # findings as bad as those, beyond ``KEPT``

    def add(self, rule: Rule, new: list[Finding]) -> None:
        rule.aggregate(new)  # a verdict outside the rule's list raises here, as it would at the end
        findings = self.findings + new
        top = max(f.verdict.severity for f in findings)
        if self.findings and self.findings[0].verdict.severity < top:
            self.more = 0
        worst = [f for f in findings if f.verdict.severity == top]
        limit = KEPT if top > Verdict.PASS.severity else 1  # a pass needs no more evidence than its first
        self.findings, self.more = worst[:limit], self.more + max(0, len(worst) - limit)

    def judge(self, rule: Rule, findings: list[Finding]) -> Result:
        result = rule.aggregate(self.findings + findings)
        if self.more and result.verdict is self.findings[0].verdict:
            worst = sum(1 for f in [*self.findings, *findings] if f.verdict is result.verdict)
            result = replace(result, detail=f"{self.findings[0].detail} (+{worst - 1 + self.more} more)")
        return result


def _cut(sub: Subscription, before: float) -> SubscribeTx | None:
    """The latest granted establishing or refreshing SUBSCRIBE older than ``before``."""
    cut = None
    for tx in sub.subscribes:
        if tx.time < before and tx.kind in (Kind.ESTABLISH, Kind.REFRESH) and tx.granted and tx.final:
            cut = tx
    return cut


class Compactor:
    """Keeps the findings of what it dropped, per subscription, until the subscription is judged."""

    def __init__(self) -> None:
        self._kept: dict[int, dict[str, _Kept]] = {}

    def compact(self, sub: Subscription, ctx: Context, before: float) -> bool:
        """Drop the part of ``sub`` before its cut, if enough of it is old; whether anything was dropped."""
        old = sum(1 for tx in [*sub.subscribes, *sub.notifies] if tx.time < before)
        if old < COMPACT_AT:
            return False
        cut = _cut(sub, before)
        if cut is None:
            return False

        def dropped(tx: Transaction) -> bool:
            return (tx.time, tx.index) < (cut.time, cut.index)

        gone = [tx for tx in [*sub.subscribes, *sub.notifies] if dropped(tx)]
        if not gone:
            return False
        frames = {m.index for tx in gone for m in tx.messages()}
        kept = self._kept.setdefault(id(sub), {})
        for rule in CATALOGUE:
            if rule.subscription_check is None:
                continue
            findings = [f for f in rule.subscription_check(sub, ctx) if frames.intersection(f.frames)]
            if findings:
                kept.setdefault(rule.id, _Kept()).add(rule, findings)
        if sub.earliest is None:
            sub.earliest = (sub.first_time, sub.first_index)
        sub.subscribes = [tx for tx in sub.subscribes if not dropped(tx)]
        sub.notifies = [tx for tx in sub.notifies if not dropped(tx)]
        sub.packed = None  # the lists changed
        for tx in gone:  # the engine's indexes may hold them a while yet: not with the parses just made
            tx.release()
        sub.release()
        return True

    def judge(self, sub: Subscription, ctx: Context) -> tuple[Result, ...] | None:
        """The results of a compacted subscription (None for one never compacted: judge it as usual)."""
        kept = self._kept.pop(id(sub), None)
        if kept is None:
            return None
        out = []
        for rule in CATALOGUE:
            if rule.subscription_check is None:
                continue
            findings = rule.subscription_check(sub, ctx)
            earlier = kept.get(rule.id)
            out.append(rule.aggregate(findings) if earlier is None else earlier.judge(rule, findings))
        return tuple(out)
