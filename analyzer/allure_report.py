"""``fks audit --format allure --output DIR``: an audit as Allure results, beside the BDD runs' results.

Each subscription of each capture becomes one test (a step per rule that fired, named with its verdict and
reason), with the ladder diagram, the verdict table and the capture itself attached; the capture-level rules
(FKS-PRV-*) become one test per capture. Statuses: ``fail`` -> failed, ``inconclusive`` -> skipped (the
traffic needed is not there), ``pass``/``warn``/``not_applicable`` -> passed (a warn step is named WARN).
Files follow Allure's result format (``<uuid>-result.json``, ``<uuid>-attachment.<ext>``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lxml import etree

from analyzer.html_report import endpoint_of, observation_of, verdict_table, worst_verdict
from analyzer.ladder import ladder_svg

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
        for sub in cap["subscriptions"]:
            name = f"{sub['aor']} ({sub['call_id']})"
            attachments = _subscription_attachments(out, sub)
            if pcap:
                attachments.append(pcap)
            _write(out, capture_file.name, name, sub["verdicts"], attachments, cap.get("errors") or [])
            written += 1
        if cap["verdicts"] or not cap["subscriptions"]:
            _write(
                out,
                capture_file.name,
                "capture-level rules",
                cap["verdicts"],
                [pcap] if pcap else [],
                cap.get("errors") or [],
            )
            written += 1
    return written


def _write(
    out: Path,
    capture: str,
    name: str,
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
            "statusDetails": {"message": f"expected: {v.get('expected', '')}\nobserved: {v.get('observed', '')}"},
            "parameters": [{"name": "frames", "value": ", ".join(str(f) for f in v.get("frames", []))}],
            "start": 0,
            "stop": 0,
        }
        for v in fired
    ]
    failing = sorted({str(v["rule"]) for v in fired if v["verdict"] in ("fail", "warn")})
    message = "; ".join(f"{v['rule']} {v['verdict']}: {v['detail']}" for v in fired if v["verdict"] == "fail")
    result = {
        "uuid": str(uuid.uuid4()),
        "historyId": hashlib.md5(f"{capture}:{name}".encode()).hexdigest(),  # an id, not security
        "name": name,
        "fullName": f"audit:{capture}:{name}",
        "status": STATUS[worst] if verdicts or not errors else "broken",  # broken: the capture was unusable
        "statusDetails": {"message": f"{PRODUCT_DEFECT}: {message}" if message else "; ".join(errors)},
        "steps": steps,
        "attachments": attachments,
        "labels": [
            {"name": "feature", "value": "Offline audit (fks audit)"},
            {"name": "story", "value": capture},
            {"name": "suite", "value": "fks audit"},
            {"name": "subSuite", "value": capture},
            {"name": "framework", "value": "fks"},
            *({"name": "tag", "value": rule} for rule in failing),
        ],
        "start": 0,
        "stop": 0,
    }
    (out / f"{result['uuid']}-result.json").write_text(json.dumps(result), encoding="utf-8")


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
