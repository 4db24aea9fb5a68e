"""summary.json and report.html: counts, small-cell suppression, survival estimates, the page."""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest

from myeloma_kg.audit.summary import STATUSES, SUPPRESSED, summarise
from myeloma_kg.graph.version import GraphVersion

COUNT_KEYS = {"count", "total", "n", "events", "atRisk", "exposures", "persons", "decisionPoints"}
VERSION = GraphVersion("0.1.0", None, "sha256:" + "0" * 64, "sha256:" + "1" * 64)


def context(minimum: int) -> dict:
    return {"source": "s", "engine": "duckdb", "lines": "episode", "lineRule": "episode", "lineRuleHash": "h",
            "mapping": "m.csv", "mappingHash": "h", "minCellCount": minimum, "generated": "now",
            "counts": {"persons": 3}, "drugs": {"unknownAgents": [], "notRegimenComponents": []}}


def row(status: str, days: int, event: int = 1, **extra) -> dict:
    base = {"status": status, "line_number": 2, "year": 2020, "high_risk_cytogenetics": "", "site": "",
            "applicable_recommendations": "R1", "recommendations": "R1" if status == "concordant" else "",
            "missing_fields": "", "unknown_agents": "", "age_from": "date of birth",
            "ttnt_days": days, "ttnt_event": event, "os_days": days, "os_event": event}
    base.update(extra)
    return base


def small_counts(node, minimum, path=""):
    """Every count in the summary from 1 to minimum - 1 (there should be none)."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in COUNT_KEYS and isinstance(value, int) and not isinstance(value, bool) and 0 < value < minimum:
                found.append(f"{path}/{key}={value}")
            found += small_counts(value, minimum, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += small_counts(value, minimum, f"{path}/{i}")
    return found


def test_the_summary_of_the_example(audited, audited_rows):
    summary = json.loads((audited[0] / "summary.json").read_text(encoding="utf-8"))
    assert summary["graphVersion"]["contentHash"] == audited_rows[0]["content_hash"]
    assert summary["decisionPoints"] == len(audited_rows)
    for key in ("byStatus", "byRecommendation", "byLine", "byYear", "byHighRiskCytogenetics", "bySite",
                "missingData", "outcomes"):
        assert summary[key], key
    counts = [summary["byStatus"][s]["count"] for s in STATUSES]
    if SUPPRESSED not in counts:
        assert sum(counts) == len(audited_rows)
    assert set(summary["byLine"]) == {r["line_number"] for r in audited_rows}
    assert "randomised" in summary["outcomes"]["caveat"]
    assert summary["missingData"]["cytogenetics"]["text"].startswith("cytogenetics unknown at ")
    assert not small_counts(summary, summary["minCellCount"])


@pytest.mark.parametrize("minimum", [5, 11, 40])
def test_no_small_count_leaves_the_summary(audited_rows, minimum):
    summary = summarise(audited_rows, VERSION, context(minimum))
    assert not small_counts(summary, minimum)
    assert summary["minCellCount"] == minimum


def test_one_suppressed_status_is_not_left_to_subtraction():
    rows = [row("concordant", 30)] * 20 + [row("discordant", 30)] * 2 + [row("not-covered", 30)] * 9
    cells = summarise(rows, VERSION, context(5))["byStatus"]
    assert cells["discordant"]["count"] == SUPPRESSED and cells["not-covered"]["count"] == SUPPRESSED
    assert cells["concordant"] == {"count": 20, "percent": 64.5}


def test_kaplan_meier_by_status():
    """Ten concordant points with one event a month: the median is 5 months, 12-month survival 0."""
    month = 30.4375
    rows = [row("concordant", round(month * k)) for k in range(1, 11)]
    rows += [row("discordant", round(month * 30), event=0) for _ in range(6)]
    rows += [row("not-covered", 10)] * 2
    outcome = summarise(rows, VERSION, context(5))["outcomes"]["timeToNextTreatment"]
    concordant = outcome["concordant"]
    assert concordant["n"] == 10 and concordant["events"] == 10
    assert concordant["medianMonths"] == pytest.approx(5.0, abs=0.05)
    low, high = concordant["medianCI95"]
    assert low is not None and low <= 5.0 and (high is None or high >= 5.0)
    assert concordant["at12Months"]["survival"] is None or concordant["at12Months"]["survival"] == 0.0
    discordant = outcome["discordant"]
    assert discordant["medianMonths"] is None  # not reached: nobody had an event
    assert discordant["at12Months"]["survival"] == 1.0 and discordant["at24Months"]["atRisk"] == 6
    assert outcome["not-covered"]["estimate"].startswith("not shown")


def test_the_report_is_one_self_contained_page(audited):
    page = (audited[0] / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and 'name="viewport"' in page
    assert not re.search(r"\b(src|href)\s*=", page)  # nothing loaded from anywhere
    assert "@import" not in page and "url(" not in page
    assert page.count("<svg") >= 4  # status by recommendation, by year, two sets of curves
    for text in ("By recommendation", "By calendar year", "Time to next treatment", "Overall survival", "randomised"):
        assert text in page


CHROMIUM = os.environ.get("MYELOMA_KG_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_the_report_reads_on_a_phone_without_sideways_scrolling(audited):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto((audited[0] / "report.html").as_uri())
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"the page is {width} px wide on a 390 px screen"
            assert page.evaluate("document.body.scrollWidth") <= 390
            widest_svg = page.evaluate("Math.max(...[...document.querySelectorAll('svg')].map(s => s.getBoundingClientRect().width))")
            assert 300 <= widest_svg <= 390
            assert page.locator("h1").inner_text().startswith("Cohort audit")
            assert not errors
            assert all(url.startswith("file:") for url in requests), requests
        finally:
            browser.close()
