"""``fks audit --format allure --output DIR``: an audit as Allure results, beside the BDD runs' results.

Each subscription of each capture becomes one test (a step per rule that fired, named with its verdict and
reason), with the ladder diagram, the verdict table and the capture itself attached; the capture-level rules
(FKS-PRV-*) become one test per capture. A subscription's test lasts from its first to its last message, the
capture's from its first to its last frame (so the report's timeline and duration are the capture's), a
step from the first to the last frame it cites. The rules judged are the test's ``tag`` and ``rule`` labels.
Statuses: ``fail`` -> failed, ``inconclusive`` -> skipped (the traffic needed is not there),
``pass``/``warn``/``not_applicable`` -> passed (a warn step is named WARN).
Files follow Allure's result format (``<uuid>-result.json``, ``<uuid>-attachment.<ext>``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from analyzer.report.html import endpoint_of, observation_of, verdict_table, worst_verdict
from analyzer.report.ladder import ladder_svg
from analyzer.report.rulebook import requirement_text
from analyzer.sources.frame_times import epoch_ms, frame_span

# A failed audit test's message opens with the word a conformance run's failed rule raises (the exception
# class peers.outcomes.ProductDefect), so the report's "Product defects" category holds both.
PRODUCT_DEFECT = "ProductDefect"
STATUS = {"fail": "failed", "inconclusive": "skipped", "warn": "passed", "pass": "passed"}
STATUS["not_applicable"] = "passed"


def write_allure(doc: Mapping[str, Any], directory: str | Path) -> int:
    """Write the results; returns how many tests were written."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for cap in doc["captures"]:
        capture_file = Path(str(cap["file"]))
        pcap = _attach_file(out, capture_file) if capture_file.is_file() else None
        span = _capture_span(capture_file, cap)
        for sub in cap["subscriptions"]:
            name = f"{sub['aor']} ({sub['call_id']})"
            attachments = _subscription_attachments(out, sub)
            if pcap:
                attachments.append(pcap)
            times = _message_times(sub)
            test = _Test.of(capture_file.name, name, times, None if times else span)
            _write(out, test, sub["verdicts"], attachments, cap.get("errors") or [])
            written += 1
        if cap["verdicts"] or not cap["subscriptions"]:
            test = _Test.of(capture_file.name, "capture-level rules", _frame_times(cap), span)
            _write(out, test, cap["verdicts"], [pcap] if pcap else [], cap.get("errors") or [])
            written += 1
    return written


@dataclass(frozen=True)
class _Test:
    """One Allure test: its capture and name, when it starts and stops (epoch ms), and the epoch-ms times
    of the frames its rules may cite."""

    capture: str
    name: str
    start: int
    stop: int
    times: Mapping[int, int]

    @classmethod
    def of(cls, capture: str, name: str, times: Mapping[int, int], span: tuple[int, int] | None) -> _Test:
        """From ``span`` when given (the capture's), else from the first to the last of ``times``."""
        if span is None:
            span = (min(times.values()), max(times.values()))
        return cls(capture, name, span[0], span[1], times)

    def step_span(self, frames: Sequence[int]) -> tuple[int, int]:
        """A rule's step lasts from the first to the last frame it cites (the test's span when none is known)."""
        cited = [self.times[f] for f in frames if f in self.times]
        return (min(cited), max(cited)) if cited else (self.start, self.stop)


def _capture_span(path: Path, cap: Mapping[str, Any]) -> tuple[int, int]:
    """The capture's first and last frame times; without capinfos (or a readable file), those of the SIP
    messages kept for the ladders; without those either, now (a zero would read as 1970)."""
    span = frame_span(path) if path.is_file() else None
    if span is not None:
        return span
    times = _frame_times(cap)
    if times:
        return min(times.values()), max(times.values())
    now = int(time.time() * 1000)
    return now, now


def _message_times(sub: Mapping[str, Any]) -> dict[int, int]:
    """Frame number -> epoch ms of a subscription's messages (those kept for its ladder)."""
    return {int(m["index"]): epoch_ms(float(m["time"])) for m in sub.get("messages") or []}


def _frame_times(cap: Mapping[str, Any]) -> dict[int, int]:
    """Frame number -> epoch ms of every message the capture's subscriptions kept."""
    out: dict[int, int] = {}
    for sub in cap["subscriptions"]:
        out.update(_message_times(sub))
    return out


def _write(
    out: Path,
    test: _Test,
    verdicts: Sequence[Mapping[str, Any]],
    attachments: list[dict[str, str]],
    errors: Sequence[str],
) -> None:
    fired = [v for v in verdicts if v["verdict"] != "not_applicable"]
    worst = worst_verdict(verdicts)
    steps = [
        {
            "name": f"{v['rule']} {v['verdict'].upper() if v['verdict'] in ('warn', 'fail') else v['verdict']}: "
            f"{v['detail']}",
            "status": STATUS[str(v["verdict"])],
            "statusDetails": {
                "message": f"expected: {v.get('expected', '')}\nobserved: {v.get('observed', '')}",
                "trace": requirement_text(str(v["rule"])) if v["verdict"] in ("warn", "fail") else "",
            },
            "parameters": [{"name": "frames", "value": ", ".join(str(f) for f in v.get("frames", []))}],
            **dict(zip(("start", "stop"), test.step_span(v.get("frames", [])), strict=True)),
        }
        for v in fired
    ]
    rules = sorted({str(v["rule"]) for v in fired})
    message = "; ".join(f"{v['rule']} {v['verdict']}: {v['detail']}" for v in fired if v["verdict"] == "fail")
    result = {
        "uuid": str(uuid.uuid4()),
        "historyId": hashlib.md5(f"{test.capture}:{test.name}".encode()).hexdigest(),  # an id, not security
        "name": test.name,
        "fullName": f"audit:{test.capture}:{test.name}",
        "status": STATUS[worst] if verdicts or not errors else "broken",  # broken: the capture was unusable
        "statusDetails": {"message": f"{PRODUCT_DEFECT}: {message}" if message else "; ".join(errors)},
        # what each rule that failed or warned requires, beside the verdicts (the rulebook, fks rules ID)
        "description": "\n\n".join(requirement_text(r) for r in _flagged(fired)),
        "steps": steps,
        "attachments": attachments,
        "labels": [
            {"name": "feature", "value": "Offline audit (fks audit)"},
            {"name": "story", "value": test.capture},
            {"name": "suite", "value": "fks audit"},
            {"name": "subSuite", "value": test.capture},
            {"name": "framework", "value": "fks"},
            # The rules judged here, as a scenario names the rules it exercises: its Gherkin tags (@FKS-...)
            # become "tag" labels; "rule" carries the same IDs for a filter that must not catch other tags.
            *({"name": "tag", "value": rule} for rule in rules),
            *({"name": "rule", "value": rule} for rule in rules),
        ],
        "start": test.start,
        "stop": test.stop,
    }
    (out / f"{result['uuid']}-result.json").write_text(json.dumps(result), encoding="utf-8")


def _flagged(verdicts: Sequence[Mapping[str, Any]]) -> list[str]:
    """The rules that failed or warned, once each, in catalogue order of first appearance."""
    return list(dict.fromkeys(str(v["rule"]) for v in verdicts if v["verdict"] in ("warn", "fail")))


def _subscription_attachments(out: Path, sub: Mapping[str, Any]) -> list[dict[str, str]]:
    table = etree.tostring(verdict_table(sub["verdicts"]), method="html", encoding="unicode")
    attachments = [_attach_text(out, "verdicts", f"<!DOCTYPE html><meta charset='utf-8'>{table}", "text/html", "html")]
    messages = sub.get("messages") or []
    if messages:
        labels = {endpoint_of(sub["client"]): "phone (base)", endpoint_of(sub["server"]): "AS"}
        svg = ladder_svg([observation_of(m) for m in messages], sub["verdicts"], labels)
        attachments.insert(0, _attach_text(out, "ladder", svg, "image/svg+xml", "svg"))
    return attachments


def _attach_text(out: Path, name: str, text: str, mime: str, ext: str) -> dict[str, str]:
    source = f"{uuid.uuid4()}-attachment.{ext}"
    (out / source).write_text(text, encoding="utf-8")
    return {"name": name, "source": source, "type": mime}


def _attach_file(out: Path, path: Path) -> dict[str, str]:
    source = f"{uuid.uuid4()}-attachment{path.suffix}"
    shutil.copyfile(path, out / source)
    return {"name": path.name, "source": source, "type": "application/vnd.tcpdump.pcap"}
