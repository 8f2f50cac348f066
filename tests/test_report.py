"""The compliance report as a person sees it: scenarios run with Allure, the single-file HTML built by the
Allure command line, opened in headless Chromium (Debian's, driven by playwright), clicked through.

Screenshots land in ``reports/`` (``allure-behaviors.png``, ``allure-scenario.png``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLURE = ROOT / "allure" / "node_modules" / ".bin" / "allure"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.skipif(not ALLURE.exists(), reason="the Allure command line is not installed (make setup)"),
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed"),
    pytest.mark.skipif(shutil.which("java") is None, reason="the Allure command line needs Java"),
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two scenarios (a conforming one and a caught deviation) through Allure to one HTML file."""
    work = tmp_path_factory.mktemp("allure")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "steps",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "-k",
            "multipart_notify or caught_by_rule_verdict and kamailio",
            f"--alluredir={work / 'results'}",
            f"--fks-reports={work}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "2 passed" in run.stdout
    generate = subprocess.run(
        [str(ALLURE), "generate", "--single-file", "--clean", str(work / "results"), "-o", str(work / "html")],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert generate.returncode == 0, generate.stderr
    return work / "html" / "index.html"


def test_the_report_shows_the_scenarios_and_their_verdicts(report: Path) -> None:
    from playwright.sync_api import sync_playwright

    (ROOT / "reports").mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1600, "height": 1200})
        page.goto(report.as_uri() + "#behaviors")
        page.get_by_text("Deviations - each known server behaviour", exact=False).first.click()
        page.get_by_text("kamailio", exact=False).first.click()
        page.get_by_text("Then FKS-NTF-2 is fail", exact=False).first.wait_for(timeout=20000)
        page.screenshot(path=str(ROOT / "reports" / "allure-behaviors.png"))
        assert page.get_by_text("Passed", exact=True).first.is_visible()  # it expected the fail: it passes
        page.get_by_text("verdicts", exact=True).first.click()
        table = page.frame_locator("iframe").first.locator("table")
        text = table.inner_text(timeout=20000)
        assert "FKS-NTF-2" in text and "fail" in text and "initial NOTIFY without a body" in text
        page.get_by_text("verdicts", exact=True).first.click()  # fold the table again
        page.locator(".attachment-row", has_text="ladder").first.click()
        image = page.locator(".attachment img, img[src*='svg'], img[src^='data:']").first
        image.wait_for(timeout=20000)
        image.scroll_into_view_if_needed()
        assert image.bounding_box() is not None and image.bounding_box()["height"] > 100  # type: ignore[index]
        page.screenshot(path=str(ROOT / "reports" / "allure-scenario.png"))
        browser.close()
