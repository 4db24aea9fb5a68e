"""Browser tests in real headless Chromium (Debian's package), driven by Playwright.

Screenshots of each page go to ``.screenshots/`` (not committed).  The tests are skipped, with
the reason, when no Chromium is installed; ``.ci/run`` installs it.
"""

from __future__ import annotations

import pytest

from .conftest import CHROMIUM, SHOTS
from conftest import ROOT

pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")


@pytest.mark.parametrize("path,name,expect", [
    ("/", "home", "R15"),
    ("/recommendation/R15", "recommendation", "Evidence status"),
    ("/trial/NCT03275285", "trial", "IKEMA"),
    ("/drug/daratumumab", "drug", "L01FC01"),
])
def test_pages_render(page, live_server, path, name, expect):
    page.goto(live_server + path)
    assert expect in page.content()
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_query_editor_runs_a_named_query_and_shows_the_table(page, live_server):
    page.goto(live_server + "/query")
    page.wait_for_selector(".yasqe .CodeMirror")
    page.select_option("#examples", "regimen-pfs-in-subgroup")
    page.wait_for_selector(".yasr table td", timeout=20000)
    text = page.inner_text(".yasr")
    assert "0.58" in text
    page.screenshot(path=str(SHOTS / "query-editor.png"), full_page=True)


def test_patient_form_shows_the_recommendation(page, live_server):
    record = (ROOT / "examples" / "patients" / "dara-refractory-recent.json").read_text()
    page.goto(live_server + "/patient")
    page.fill("#record", record)
    page.fill("#as_of", "2026-11-24")
    page.click("#submit")
    page.wait_for_selector("#result")
    text = page.inner_text("#result")
    assert "Recommended" in text and "refractory" in text and "teclistamab monotherapy" in text
    page.screenshot(path=str(SHOTS / "patient.png"), full_page=True)


def test_summary_of_findings_table_shows_the_trial_figures(page, live_server):
    page.goto(live_server + "/recommendation/R3")
    row = page.locator("table.sof tbody tr", has_text="IKEMA")
    assert row.count() == 1
    text = row.inner_text()
    assert "HR 0.58 (95.4% CI 0.42–0.79)" in text and "not assessed" in text
    assert "draft, set by myeloma-kg curation team" in page.inner_text("table.grading")
    page.locator("table.sof").screenshot(path=str(SHOTS / "summary-of-findings.png"))
