"""``fks audit --html``: one self-contained HTML page for an audit (no network, opens from ``file://``).

A summary (captures, subscriptions, verdict counts), then per capture and subscription its verdict table
(rule, verdict, expectation vs observation, frames; under each ``fail`` and ``warn`` what the rule requires)
and its ladder diagram; clicking an arrow shows that message's full text. Each rule ID links to the rulebook
at the end of the page: the full requirement of every rule the audit names, once. Everything else is
collapsed by default and each ladder is kept in a ``<template>`` until its subscription is opened, so an
audit of thousands of subscriptions stays responsive. Every string from the wire is escaped by lxml (a body
with ``<script>`` renders as text); the page's only script is its own.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO

from lxml import etree
from lxml.builder import E

from analyzer import __version__
from analyzer.audit import VERDICT_WORDS, verdicts_of
from analyzer.observation import Endpoint, Observation
from analyzer.report.ladder import ladder_svg
from analyzer.report.rulebook import UnknownRule, requirement_text, rule_of
from analyzer.rules import CATALOGUE
from analyzer.verdicts import Verdict, worst

COLOURS = {"pass": "#2e7d32", "warn": "#ef6c00", "fail": "#c62828", "inconclusive": "#6a1b9a"}
COLOURS["not_applicable"] = "#757575"

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em} .muted{color:#666}
.badge{display:inline-block;padding:.2em .6em;margin-right:.4em;border-radius:1em;color:#fff;font-weight:600}
details{margin:.4em 0 .4em 1em} summary{cursor:pointer;padding:.2em 0}
table{border-collapse:collapse;margin:.5em 0;font-size:13px} td,th{border:1px solid #ccc;padding:3px 6px;
vertical-align:top;text-align:left} th{background:#f3f3f3}
.ladder{overflow:auto;max-height:80vh;border:1px solid #ddd;margin:.5em 0}
.ladder .msg{cursor:pointer} pre.message{background:#f7f7f7;border:1px solid #ddd;padding:.5em;
white-space:pre-wrap;word-break:break-all;max-height:40vh;overflow:auto}
.errors{color:#c62828}
table.verdicts tr:not(.requirement) td:first-child{white-space:nowrap}
tr.requirement td{border-top:none;background:#fafafa;color:#444;font-size:12px}
pre.rule{white-space:pre-wrap;background:#f7f7f7;border:1px solid #ddd;padding:.5em;font-size:12px}
"""

# Open a subscription: instantiate its ladder from the <template>; click an arrow: show that message.
SCRIPT = """
document.addEventListener('toggle', function (ev) {
  var d = ev.target;
  if (!d.open || !d.dataset || !d.dataset.ladder) return;
  var holder = d.querySelector('.ladder');
  if (holder && !holder.firstElementChild) {
    holder.appendChild(document.getElementById(d.dataset.ladder).content.cloneNode(true));
  }
}, true);
document.addEventListener('click', function (ev) {
  var g = ev.target.closest ? ev.target.closest('g.msg') : null;
  if (!g) return;
  var box = g.closest('details');
  var shown = box.querySelector('pre.message[data-frame="' + g.getAttribute('data-frame') + '"]');
  box.querySelectorAll('pre.message').forEach(function (p) { p.hidden = p !== shown; });
  if (shown) shown.scrollIntoView({block: 'nearest'});
});
"""


def write_html(doc: Mapping[str, Any], out: BinaryIO) -> None:
    """Write the page for a whole audit document (the JSON report, with each subscription's ``messages``)
    to ``out``, streamed with lxml's ``htmlfile``: a capture's subscriptions are built and written one at a
    time, so the page of a site's capture is never one tree or one string in memory."""
    captures = doc["captures"]
    subs = sum(len(c["subscriptions"]) for c in captures)
    summary = E.p(
        *(_badge(word, doc["summary"].get(word, 0)) for word in VERDICT_WORDS),
        E.span(f"{len(captures)} capture(s), {subs} subscription(s)", {"class": "muted"}),
        id="summary",
    )
    with etree.htmlfile(out, encoding="utf-8") as page:
        page.write_doctype("<!DOCTYPE html>")
        with page.element("html", lang="en"):
            page.write(E.head(E.meta(charset="utf-8"), E.title("fks audit"), E.style(STYLE)))
            with page.element("body"):
                page.write(E.h1("Feature Key Synchronization audit"), summary)
                for n, cap in enumerate(captures):
                    _write_capture(page, cap, n)
                page.write(_rulebook({str(v["rule"]) for cap in captures for v in verdicts_of(cap)}))
                page.write(E.p(f"fks {__version__}", {"class": "muted"}))
            page.write(E.script(SCRIPT))


def render_html(doc: Mapping[str, Any]) -> str:
    """The page as one string (for a small audit, or a test that parses it)."""
    out = io.BytesIO()
    write_html(doc, out)
    return out.getvalue().decode("utf-8")


def _badge(word: str, count: int) -> etree._Element:
    return E.span(f"{count} {word}", {"class": f"badge {word}"}, style=f"background:{COLOURS[word]}")


def worst_verdict(verdicts: Sequence[Mapping[str, Any]]) -> str:
    return worst([Verdict(v["verdict"]) for v in verdicts]).value


def _write_capture(page: Any, cap: Mapping[str, Any], n: int) -> None:
    word = worst_verdict(verdicts_of(cap))
    head = E.summary(
        E.b(str(cap["file"])),
        f" - {cap['packets']} packets, {cap['sip_messages']} SIP messages, "
        f"{len(cap['subscriptions'])} subscription(s) - ",
        E.span(word, style=f"color:{COLOURS[word]};font-weight:600"),
    )
    with page.element("details", {"class": "capture"}):
        page.write(head)
        if cap.get("errors"):
            page.write(E.ul(*(E.li(str(e)) for e in cap["errors"]), {"class": "errors"}))
        if cap.get("verdicts"):
            page.write(E.details(E.summary("capture-level rules"), verdict_table(cap["verdicts"], links=True)))
        for m, sub in enumerate(cap["subscriptions"]):
            page.write(_subscription(sub, f"l{n}-{m}"))


def _subscription(sub: Mapping[str, Any], key: str) -> etree._Element:
    word = worst_verdict(sub["verdicts"])
    messages = sub.get("messages") or []
    head = E.summary(
        f"{sub['aor']}  Call-ID {sub['call_id']}  {sub['client']} -> {sub['server']} - ",
        E.span(word, style=f"color:{COLOURS[word]};font-weight:600"),
    )
    box = E.details(head, {"class": "subscription", "data-ladder": key})
    box.append(verdict_table(sub["verdicts"], links=True))
    if messages:
        observations = [observation_of(m) for m in messages]
        labels = {endpoint_of(sub["client"]): "phone (base)", endpoint_of(sub["server"]): "AS"}
        svg = etree.fromstring(ladder_svg(observations, sub["verdicts"], labels).encode())
        for el in svg.iter():  # inline SVG in HTML: the HTML parser puts <svg> in its namespace by itself
            if isinstance(el.tag, str):
                el.tag = etree.QName(el).localname
        etree.cleanup_namespaces(svg)
        box.append(E.template(svg, id=key))
        box.append(E.div({"class": "ladder"}))
        box.append(E.p("Click an arrow to see the message.", {"class": "muted"}))
        for m in messages:
            box.append(E.pre(str(m["text"]), {"class": "message", "data-frame": str(m["index"])}, hidden="hidden"))
        if sub.get("messages_truncated"):
            box.append(E.p(f"{sub['messages_truncated']} more messages not drawn", {"class": "muted"}))
    return box


def verdict_table(verdicts: Sequence[Mapping[str, Any]], links: bool = False) -> etree._Element:
    """Rule, verdict, detail, expected, observed, frames; under a ``fail`` or ``warn`` row, what the rule
    requires and what that verdict means for it. ``links``: rule IDs link to the page's rulebook."""
    heads = ("rule", "verdict", "detail", "expected", "observed", "frames")
    rows = []
    for v in sorted(verdicts, key=lambda v: v["verdict"] == "not_applicable"):
        rule_id, word = str(v["rule"]), str(v["verdict"])
        rows.append(
            E.tr(
                _rule_cell(rule_id, links),
                E.td(E.b(word), style=f"color:{COLOURS.get(word, '#222')}"),
                E.td(str(v.get("detail", ""))),
                E.td(str(v.get("expected", ""))),
                E.td(str(v.get("observed", ""))),
                E.td(", ".join(str(f) for f in v.get("frames", []))),
            )
        )
        if word in ("fail", "warn"):
            rows.extend(_requirement_row(rule_id, word, len(heads)))
    return E.table(E.thead(E.tr(*(E.th(h) for h in heads))), E.tbody(*rows), {"class": "verdicts"})


def _rule_cell(rule_id: str, links: bool) -> etree._Element:
    try:
        title = rule_of(rule_id).title
    except UnknownRule:
        return E.td(rule_id)
    if links:
        return E.td(E.a(rule_id, href=f"#rule-{rule_id}", title=title))
    return E.td(rule_id, title=title)


def _requirement_row(rule_id: str, word: str, span: int) -> list[etree._Element]:
    try:
        rule = rule_of(rule_id)
    except UnknownRule:
        return []
    cell = E.td(
        E.b(f"{rule.id} requires: "),
        rule.requirement,
        E.br(),
        E.b(f"{word} here: "),
        rule.meaning(Verdict(word)),
        colspan=str(span),
    )
    return [E.tr(cell, {"class": "requirement"})]


def _rulebook(rule_ids: set[str]) -> etree._Element:
    """The full requirement of each rule the audit names, once, in catalogue order (rule IDs link here)."""
    box = E.div(E.h2("Rulebook: what each rule requires"), {"class": "rulebook"}, id="rulebook")
    for rule in CATALOGUE:
        if rule.id in rule_ids:
            box.append(E.pre(requirement_text(rule.id), {"class": "rule"}, id=f"rule-{rule.id}"))
    return box


def endpoint_of(text: str) -> Endpoint:
    """An address of a report; one the report does not spell as HOST:PORT is drawn as it is, port 0."""
    try:
        return Endpoint.parse(text)
    except ValueError:
        return Endpoint(text, 0)


def observation_of(m: Mapping[str, Any]) -> Observation:
    src, dst = endpoint_of(str(m["src"])), endpoint_of(str(m["dst"]))
    return Observation(
        int(m["index"]), float(m["time"]), src, dst, str(m["transport"]), str(m["text"]).encode("latin-1")
    )
