"""``fks audit --html`` and ``--format allure``: what a person sees, checked in headless Chromium.

The Kamailio reference capture (shared, real) must show its empty initial NOTIFY highlighted with
FKS-NTF-2 in the ladder, and a click on that arrow shows the message; screenshots go to ``reports/``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from lxml import html as lxml_html

from analyzer.report.html import render_html
from tests.commands import fks
from tests.reports import valid_report

ROOT = Path(__file__).resolve().parents[1]
KAMAILIO = ROOT.parent / "shared" / "captures" / "kamailio-6.0.7_presence_dfks_loopback_children1.pcapng"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def hostile_document() -> dict:
    """An audit document whose wire data tries to inject markup into the page."""
    message = {
        "index": 3,
        "time": 1.0,
        "src": "10.0.0.2:5060",
        "dst": "10.0.0.1:5060",
        "transport": "udp",
        "text": "NOTIFY sip:1001@x SIP/2.0\r\nCall-ID: a\r\nCSeq: 1 NOTIFY\r\n\r\n<script>alert(1)</script>",
    }
    verdict = {"rule": "FKS-NTF-5", "verdict": "fail", "frames": [3], "detail": "<img src=x onerror=alert(1)>"}
    sub = {
        "aor": "sip:<b>1001</b>@x",
        "call_id": "a",
        "client": "10.0.0.1:5060",
        "server": "10.0.0.2:5060",
        "verdicts": [verdict],
        "messages": [message],
    }
    cap = {
        "file": "<i>x</i>.pcap",
        "packets": 1,
        "sip_messages": 1,
        "errors": ["<script>bad()</script>"],
        "subscriptions": [sub],
        "verdicts": [],
    }
    summary = {"pass": 0, "warn": 0, "fail": 1, "inconclusive": 0, "not_applicable": 0}
    return {"tool": "fks", "version": "x", "captures": [cap], "summary": summary}


def test_everything_from_the_wire_is_escaped() -> None:
    page = lxml_html.fromstring(render_html(hostile_document()))
    scripts = page.xpath("//script")
    assert len(scripts) == 1 and "alert" not in scripts[0].text  # only the page's own script
    assert not page.xpath("//img") and not page.xpath("//*[@onerror]") and not page.xpath("//b[text()='1001']")
    assert "<script>alert(1)</script>" in page.text_content()  # shown as text
    assert page.xpath("//template//*[contains(@class, 'fail')]")  # the failing message is highlighted


@needs_tshark
def test_audit_html_and_json_agree_on_the_counts(tmp_path: Path) -> None:
    out = tmp_path / "audit.html"
    capture = ROOT / "captures" / "kamailio_like_empty_notify.pcap"
    run = fks("audit", str(capture), "--html", str(out), "--format", "json")
    doc = valid_report(run.stdout)
    subs = [sub for cap in doc["captures"] for sub in cap["subscriptions"]]
    assert run.returncode == 1 and subs and all("messages" not in sub for sub in subs)  # the JSON is unchanged
    page = lxml_html.fromstring(out.read_text())
    badges = page.xpath("//p[@id='summary']/span[contains(@class, 'badge')]/text()")
    assert f"{doc['summary']['fail']} fail" in badges and f"{doc['summary']['pass']} pass" in badges


@needs_tshark
def test_audit_as_allure_results(tmp_path: Path) -> None:
    results = tmp_path / "allure-results"
    capture = ROOT / "captures" / "kamailio_like_empty_notify.pcap"
    run = fks("audit", str(capture), "--format", "allure", "--output", str(results))
    assert run.returncode == 1, run.stderr
    tests = [json.loads(p.read_text()) for p in results.glob("*-result.json")]
    sub = next(t for t in tests if t["name"] != "capture-level rules")
    assert sub["status"] == "failed" and "FKS-NTF-2" in sub["statusDetails"]["message"]
    from steps.conftest import CATEGORIES  # the report files an audit's failed rule as a product defect

    first = next(c for c in CATEGORIES if re.fullmatch(c.get("messageRegex", ".*"), sub["statusDetails"]["message"]))
    assert first["name"].startswith("Product defects"), first
    assert any(s["name"].startswith("FKS-NTF-2 FAIL") and s["status"] == "failed" for s in sub["steps"])
    names = {a["name"] for a in sub["attachments"]}
    assert {"ladder", "verdicts", capture.name} <= names
    assert all((results / a["source"]).exists() for a in sub["attachments"])
    assert fks("audit", str(capture), "--format", "allure").returncode == 2  # a folder is required


@needs_tshark
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
def test_kamailio_empty_notify_is_highlighted_in_the_browser(tmp_path: Path) -> None:
    if not KAMAILIO.exists():
        pytest.skip("the shared Kamailio capture is not here")
    from playwright.sync_api import sync_playwright

    out = tmp_path / "kamailio.html"
    run = fks("audit", str(KAMAILIO), "--decode-as", "udp.port==5072,sip", "--html", str(out))
    assert run.returncode == 1, run.stderr
    # the counts the page must show, from the audit's JSON (another renderer of the same judgement)
    doc = json.loads(fks("audit", str(KAMAILIO), "--decode-as", "udp.port==5072,sip", "--format", "json").stdout)
    summary, sip_messages = doc["summary"], sum(cap["sip_messages"] for cap in doc["captures"])
    assert summary["fail"] >= 1 and sip_messages >= 1  # the empty initial NOTIFY fails FKS-NTF-2
    (ROOT / "reports").mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(out.as_uri())
        shown = page.locator("#summary").inner_text()
        for verdict in ("pass", "fail"):
            assert re.search(rf"(?<!\d){summary[verdict]} {verdict}", shown), (summary, shown)
        assert shown.startswith(f"{summary['pass']} pass"), shown
        assert page.locator("g.msg:visible").count() == 0  # the ladders start folded
        page.locator("details.capture > summary").first.click()
        page.locator("details.subscription > summary").first.click()
        page.locator("g.msg").first.wait_for(timeout=10000)
        assert 1 <= page.locator("g.msg:visible").count() <= sip_messages  # unfolded: this subscription's ladder
        failing = page.locator("g.msg.fail[data-rules~='FKS-NTF-2']")
        failing.first.wait_for(timeout=10000)
        assert failing.count() == 1 and failing.first.get_attribute("data-frame") == "3"
        failing.first.click()
        opened = page.locator("pre.message:visible")
        assert opened.count() == 1 and opened.first.inner_text().startswith("NOTIFY")
        failing.first.scroll_into_view_if_needed()
        page.screenshot(path=str(ROOT / "reports" / "audit-kamailio.png"))
        browser.close()
