"""The evidence of one live scenario: its verdicts from the message log, from the wire capture, and whether
they agree (both records of one exchange must give the same verdicts), rendered for a report (an HTML
verdict table: rule, verdict, expectation vs observation, frames; escaped, since everything in it may come
from the wire).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from lxml.builder import E

from analyzer.audit import judgement_json, verdicts_of, worst_by_rule
from analyzer.judging import AuditSettings, judge
from analyzer.observation import Observation
from analyzer.report.html import verdict_table as html_table


@dataclass
class Evidence:
    """Verdicts of the log (and of the capture, once audited) in the JSON form of ``fks audit``."""

    log: dict[str, Any]
    capture: dict[str, Any] | None = None
    disagreements: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def verdicts(self) -> list[dict[str, Any]]:
        return verdicts_of(self.log)

    def compare(self, capture: dict[str, Any]) -> dict[str, tuple[str, str]]:
        """Rule -> (log, capture) worst verdicts where the two records disagree."""
        self.capture = capture
        log, wire = worst_by_rule(self.log), worst_by_rule(capture)
        self.disagreements = {rule: (log[rule], wire[rule]) for rule in log if log[rule] != wire[rule]}
        return self.disagreements


def from_log(observations: Iterable[Observation], settings: AuditSettings) -> Evidence:
    judgement, count = judge(observations, settings)
    subs, capture = judgement_json(judgement)
    return Evidence({"sip_messages": count, "subscriptions": subs, "verdicts": capture})


def verdict_table(verdicts: Sequence[Mapping[str, Any]], title: str = "") -> str:
    """A page holding the verdict table of ``fks audit --html`` (fired rules first, not-applicable last)."""
    table = html_table(verdicts)
    table.set("style", "border-collapse:collapse;font-family:sans-serif;font-size:13px")
    table.set("border", "1")
    table.set("cellpadding", "4")
    body = E.body(E.h3(title), table) if title else E.body(table)
    page = E.html(E.head(E.meta(charset="utf-8")), body)
    return etree.tostring(page, method="html", encoding="unicode", doctype="<!DOCTYPE html>")
