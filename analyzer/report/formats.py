"""Render an audit (the JSON document ``analyzer/schemas/audit.schema.json`` describes) as text, JSON or JUnit XML.

Text is for a person at a terminal: one block per capture and subscription, one line per rule that fired,
the not-applicable rules folded into one line, the frames that prove each verdict in brackets; after the
summary, what each rule that failed or warned requires (once per rule, from the rulebook). Every
renderer yields the report in pieces, so the audit of a site's capture is written without ever being one
string in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from lxml import etree

from analyzer.audit import VERDICT_WORDS
from analyzer.report.rulebook import flag, requirements_section

_LABEL = {"pass": "pass", "warn": "WARN", "fail": "FAIL", "inconclusive": "incl", "not_applicable": "n/a"}


def _frames(frames: list[int], limit: int = 8) -> str:
    if not frames:
        return ""
    shown = ",".join(str(f) for f in frames[:limit])
    return f" [{shown}{',...' if len(frames) > limit else ''}]"


def _verdict_lines(verdicts: list[dict[str, Any]], indent: str) -> list[str]:
    lines = []
    idle = [v["rule"] for v in verdicts if v["verdict"] == "not_applicable"]
    for v in verdicts:
        if v["verdict"] == "not_applicable":
            continue
        lines.append(f"{indent}{_LABEL[v['verdict']]:<5} {v['rule']:<10} {v['detail']}{_frames(v['frames'])}")
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
    """The document in pieces (a large audit is never one string in memory)."""
    yield from json.JSONEncoder(indent=2, default=_plain).iterencode(doc)
    yield "\n"


def _plain(value: object) -> object:
    if isinstance(value, Mapping):  # audit.SubscriptionEntry
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _junit_cases(cap: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any] | None, str | None]]:
    """(class name, verdict or None, error or None) of every test case of a capture's suite."""
    for error in cap["errors"]:
        yield cap["file"], None, error
    for s in cap["subscriptions"]:
        for v in s["verdicts"]:
            yield f"{cap['file']}.{s['aor'] or s['call_id']}", v, None
    for v in cap["verdicts"]:
        yield f"{cap['file']}.capture", v, None


def _junit_case(classname: str, v: dict[str, Any] | None, error: str | None) -> etree._Element:
    if v is None:
        case = etree.Element("testcase", classname=classname, name="capture")
        etree.SubElement(case, "error", message=error or "")
        return case
    case = etree.Element("testcase", classname=classname, name=v["rule"])
    message = f"{v['verdict']}: {v['detail']}{_frames(v['frames'], 50)}"
    if v["verdict"] == "fail":
        etree.SubElement(case, "failure", message=message, type=v["rule"])
    elif v["verdict"] in ("not_applicable", "inconclusive"):
        etree.SubElement(case, "skipped", message=message)
    else:
        etree.SubElement(case, "system-out").text = message
    return case


def _open_tag(tag: str, **attributes: str) -> str:
    """An element's start tag, its attributes escaped by lxml."""
    return etree.tostring(etree.Element(tag, **attributes), encoding="unicode")[:-2] + ">"


def to_junit(doc: dict[str, Any]) -> Iterator[str]:
    """One testsuite per capture, one testcase per rule and subscription: fail -> failure, n/a -> skipped."""
    yield "<?xml version='1.0' encoding='UTF-8'?>\n" + _open_tag("testsuites", name="fks audit") + "\n"
    for cap in doc["captures"]:
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for _, v, error in _junit_cases(cap):
            counts["tests"] += 1
            if error is not None:
                counts["errors"] += 1
            elif v is not None and v["verdict"] == "fail":
                counts["failures"] += 1
            elif v is not None and v["verdict"] in ("not_applicable", "inconclusive"):
                counts["skipped"] += 1
        yield "  " + _open_tag("testsuite", name=cap["file"], **{k: str(n) for k, n in counts.items()}) + "\n"
        for classname, v, error in _junit_cases(cap):
            text = etree.tostring(_junit_case(classname, v, error), encoding="unicode", pretty_print=True)
            yield "".join("    " + line + "\n" for line in text.splitlines())
        yield "  </testsuite>\n"
    yield "</testsuites>\n"


RENDERERS = {"text": to_text, "json": to_json, "junit": to_junit}
