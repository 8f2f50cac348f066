"""The audit as JUnit XML: one testsuite per capture, one testcase per rule and subscription (fail ->
failure, inconclusive and not_applicable -> skipped, a capture's read error -> error).

Written with lxml's incremental ``xmlfile``: each testcase is built as a small element, written and handed
on, so the report of a site's capture is never one tree or one string in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lxml import etree

from analyzer.report.text import frames_text
from analyzer.verdicts import Verdict

_SKIPPED = (Verdict.NOT_APPLICABLE.value, Verdict.INCONCLUSIVE.value)
_FAIL = Verdict.FAIL.value
Case = tuple[str, dict[str, Any] | None, str | None]


class _Pieces:
    """The file ``xmlfile`` writes to: it keeps the bytes until the generator hands them on."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        self._parts.append(data)

    def take(self) -> str:
        out = b"".join(self._parts).decode("utf-8")
        self._parts.clear()
        return out


def _cases(cap: dict[str, Any]) -> Iterator[Case]:
    """(class name, verdict or None, error or None) of every test case of a capture's suite."""
    for error in cap["errors"]:
        yield cap["file"], None, error
    for s in cap["subscriptions"]:
        for v in s["verdicts"]:
            yield f"{cap['file']}.{s['aor'] or s['call_id']}", v, None
    for v in cap["verdicts"]:
        yield f"{cap['file']}.capture", v, None


def _counts(cap: dict[str, Any]) -> dict[str, str]:
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for _, v, error in _cases(cap):
        counts["tests"] += 1
        if error is not None:
            counts["errors"] += 1
        elif v is not None and v["verdict"] == _FAIL:
            counts["failures"] += 1
        elif v is not None and v["verdict"] in _SKIPPED:
            counts["skipped"] += 1
    return {k: str(n) for k, n in counts.items()}


def _case(classname: str, v: dict[str, Any] | None, error: str | None) -> etree._Element:
    if v is None:
        case = etree.Element("testcase", classname=classname, name="capture")
        etree.SubElement(case, "error", message=error or "")
        return case
    case = etree.Element("testcase", classname=classname, name=v["rule"])
    message = f"{v['verdict']}: {v['detail']}{frames_text(v['frames'], 50)}"
    if v["verdict"] == _FAIL:
        etree.SubElement(case, "failure", message=message, type=v["rule"])
    elif v["verdict"] in _SKIPPED:
        etree.SubElement(case, "skipped", message=message)
    else:
        etree.SubElement(case, "system-out").text = message
    return case


def to_junit(doc: dict[str, Any]) -> Iterator[str]:
    """The report in pieces, one a testcase, indented two spaces a level."""
    out = _Pieces()
    out.write(b"<?xml version='1.0' encoding='UTF-8'?>\n")  # xmlfile writes no text outside the root
    with etree.xmlfile(out, encoding="UTF-8") as xf, xf.element("testsuites", name="fks audit"):
        xf.write("\n")
        for cap in doc["captures"]:
            xf.write("  ")
            with xf.element("testsuite", {"name": cap["file"], **_counts(cap)}):
                xf.write("\n")
                for case in _cases(cap):
                    element = _case(*case)
                    etree.indent(element, space="  ", level=2)
                    xf.write("    ", element, "\n")
                    xf.flush()
                    yield out.take()
                xf.write("  ")
            xf.write("\n")
    out.write(b"\n")
    yield out.take()
