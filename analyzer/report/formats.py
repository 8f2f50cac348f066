"""Render an audit (the JSON document ``analyzer/schemas/audit.schema.json`` describes) as text or JSON; the
formats of ``fks audit --format`` in ``RENDERERS`` (JUnit XML comes from ``junit``).

Text is for a person at a terminal: one block per capture and subscription, one line per rule that fired,
the not-applicable rules folded into one line, the frames that prove each verdict in brackets; after the
summary, what each rule that failed or warned requires (once per rule, from the rulebook). Every
renderer yields the report in pieces, so the audit of a site's capture is written without ever being one
string in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from analyzer.audit import VERDICT_WORDS
from analyzer.report.json_text import iter_document
from analyzer.report.junit import to_junit
from analyzer.report.rulebook import flag, requirements_section
from analyzer.report.text import frames_text

_LABEL = {"pass": "pass", "warn": "WARN", "fail": "FAIL", "inconclusive": "incl", "not_applicable": "n/a"}


def _verdict_lines(verdicts: list[dict[str, Any]], indent: str) -> list[str]:
    lines = []
    idle = [v["rule"] for v in verdicts if v["verdict"] == "not_applicable"]
    for v in verdicts:
        if v["verdict"] == "not_applicable":
            continue
        lines.append(f"{indent}{_LABEL[v['verdict']]:<5} {v['rule']:<10} {v['detail']}{frames_text(v['frames'])}")
    if idle:
        lines.append(f"{indent}{'n/a':<5} {', '.join(idle)}")
    return lines


def to_text(doc: dict[str, Any]) -> Iterator[str]:
    flagged: dict[str, set[str]] = {}
    for cap in doc["captures"]:
        lines: list[str] = []
        subs = cap["subscriptions"]
        lines.append(
            f"{cap['file']}: {cap['packets']} packets, {cap['sip_messages']} SIP messages, "
            f"{len(subs)} feature-sync subscription{'s' if len(subs) != 1 else ''}"
        )
        for error in cap["errors"]:
            lines.append(f"  error: {error}")
        yield "".join(line + "\n" for line in lines)
        for sub in subs:
            lines = [f"  {sub['aor'] or '?'}  Call-ID {sub['call_id']}  {sub['client']} -> {sub['server']}"]
            lines += _verdict_lines(sub["verdicts"], "    ")
            flag(flagged, sub["verdicts"])
            yield "".join(line + "\n" for line in lines)
        lines = []
        flag(flagged, cap["verdicts"])
        if cap["verdicts"]:
            lines.append("  capture")
            lines += _verdict_lines(cap["verdicts"], "    ")
        lines.append("")
        yield "".join(line + "\n" for line in lines)
    summary = doc["summary"]
    yield "summary: " + ", ".join(f"{summary[w]} {w}" for w in VERDICT_WORDS) + "\n"
    yield "".join(line + "\n" for line in requirements_section(flagged))


def to_json(doc: dict[str, Any]) -> Iterator[str]:
    """The document in pieces (a large audit is never one string in memory), as ``json.dumps(doc,
    indent=2)`` writes it (``json_text``)."""
    yield from iter_document(doc)
    yield "\n"


RENDERERS = {"text": to_text, "json": to_json, "junit": to_junit}
