"""Render an audit (the JSON document of DESIGN.md) as text, JSON or JUnit XML.

Text is for a person at a terminal: one block per capture and subscription, one line per rule that fired,
the not-applicable rules folded into one line, the frames that prove each verdict in brackets.
"""

from __future__ import annotations

import json
from typing import Any

from lxml import etree

from analyzer.audit import VERDICT_WORDS

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


def to_text(doc: dict[str, Any]) -> str:
    lines: list[str] = []
    for cap in doc["captures"]:
        subs = cap["subscriptions"]
        lines.append(
            f"{cap['file']}: {cap['packets']} packets, {cap['sip_messages']} SIP messages, "
            f"{len(subs)} feature-sync subscription{'s' if len(subs) != 1 else ''}"
        )
        for error in cap["errors"]:
            lines.append(f"  error: {error}")
        for sub in subs:
            lines.append(f"  {sub['aor'] or '?'}  Call-ID {sub['call_id']}  {sub['client']} -> {sub['server']}")
            lines += _verdict_lines(sub["verdicts"], "    ")
        if cap["verdicts"]:
            lines.append("  capture")
            lines += _verdict_lines(cap["verdicts"], "    ")
        lines.append("")
    summary = doc["summary"]
    lines.append("summary: " + ", ".join(f"{summary[w]} {w}" for w in VERDICT_WORDS))
    return "\n".join(lines) + "\n"


def to_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2) + "\n"


def to_junit(doc: dict[str, Any]) -> str:
    """One testsuite per capture, one testcase per rule and subscription: fail -> failure, n/a -> skipped."""
    suites = etree.Element("testsuites", name="fks audit")
    for cap in doc["captures"]:
        suite = etree.SubElement(suites, "testsuite", name=cap["file"])
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for error in cap["errors"]:
            case = etree.SubElement(suite, "testcase", classname=cap["file"], name="capture")
            etree.SubElement(case, "error", message=error)
            counts["tests"] += 1
            counts["errors"] += 1
        groups = [(s["aor"] or s["call_id"], s["verdicts"]) for s in cap["subscriptions"]]
        groups.append(("capture", cap["verdicts"]))
        for owner, verdicts in groups:
            for v in verdicts:
                case = etree.SubElement(suite, "testcase", classname=f"{cap['file']}.{owner}", name=v["rule"])
                counts["tests"] += 1
                message = f"{v['verdict']}: {v['detail']}{_frames(v['frames'], 50)}"
                if v["verdict"] == "fail":
                    etree.SubElement(case, "failure", message=message, type=v["rule"])
                    counts["failures"] += 1
                elif v["verdict"] in ("not_applicable", "inconclusive"):
                    etree.SubElement(case, "skipped", message=message)
                    counts["skipped"] += 1
                else:
                    etree.SubElement(case, "system-out").text = message
        for key, value in counts.items():
            suite.set(key, str(value))
    return etree.tostring(suites, pretty_print=True, xml_declaration=True, encoding="UTF-8").decode()


RENDERERS = {"text": to_text, "json": to_json, "junit": to_junit}
