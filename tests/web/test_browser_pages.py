"""The pages in real headless Chromium: a phone's width, the evidence-status badges, the patient
page's examples and the SPARQL editor (completion, links, layout, no request to another site).

Screenshots go to ``.screenshots/`` (not committed).
"""

from __future__ import annotations

import json
import re

import pytest

from .conftest import CHROMIUM, SHOTS
from conftest import ROOT

expect = pytest.importorskip("playwright.sync_api").expect  # polls from here: the pages' policy forbids eval
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")

# Every Content-Security-Policy violation the page reports, in the order they came.
WATCH_POLICY = ("window.__violations = []; document.addEventListener('securitypolicyviolation', "
                "e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));")


def _document_width(page) -> int:
    return page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")


def test_a_recommendation_page_fits_a_phone_without_scrolling_sideways(phone, live_server):
    phone.goto(live_server + "/recommendation/R8")
    plot = phone.locator("figure.forest img")
    plot.wait_for()
    expect(plot).to_have_js_property("complete", True)
    natural = phone.evaluate("document.querySelector('figure.forest img').naturalWidth")
    shown = plot.bounding_box()["width"]
    assert natural > 390 and shown < 390  # the plot is wider than the phone and shrinks to it
    assert _document_width(phone) <= 390
    phone.screenshot(path=str(SHOTS / "recommendation-phone.png"), full_page=True)


@pytest.mark.parametrize("path", ["/", "/trial/", "/trial/NCT03275285", "/drug/daratumumab", "/ontology",
                                  "/about/evidence-status", "/patient", "/query"])
def test_other_pages_fit_a_phone_too(phone, live_server, path):
    phone.goto(live_server + path)
    phone.wait_for_load_state("load")
    assert _document_width(phone) <= 390, path


def test_a_badge_leads_to_the_explanation_of_every_status(page, live_server):
    page.goto(live_server + "/recommendation/R8")
    badge = page.locator("p.status a.badge")
    assert badge.inner_text() == "reconstructed" and "status-reconstructed" in badge.get_attribute("class")
    badge.click()
    page.wait_for_url("**/about/evidence-status#reconstructed")
    rows = page.locator("table#statuses tbody tr")
    assert sorted(rows.evaluate_all("rows => rows.map(r => r.id)")) == ["reconstructed", "unverified", "verified"]
    page.screenshot(path=str(SHOTS / "evidence-status.png"), full_page=True)


def test_an_example_fills_the_patient_form_and_gets_a_recommendation(page, live_server):
    page.goto(live_server + "/patient")
    link = page.locator("a.example-record", has_text="dara refractory recent")
    link.click()
    expect(page.locator("#record")).not_to_have_value("")
    shipped = (ROOT / "web" / "static" / "examples" / "dara-refractory-recent.json").read_text()
    assert page.input_value("#record") == shipped
    assert page.input_value("#as_of") == json.loads(shipped)["asOf"]
    page.click("#submit")
    page.wait_for_selector("#result")
    assert "teclistamab monotherapy" in page.inner_text("#result")
    assert page.locator("#result a.badge").count() > 0
    page.screenshot(path=str(SHOTS / "patient-example.png"), full_page=True)


def test_the_patient_page_marks_each_option_in_the_chosen_jurisdiction(page, live_server):
    page.goto(live_server + "/patient")
    page.fill("#record", (ROOT / "examples" / "patients" / "infection-care-t-cell-options.json").read_text())
    page.fill("#as_of", "2026-11-24")
    page.select_option("#jurisdiction", "US")
    page.click("#submit")
    page.wait_for_selector("#result")
    expect(page.locator("#result h2", has_text="Recommended,")).to_contain_text("availability in United States")
    options = page.locator(".regimen.recommended")
    ide = options.filter(has_text="idecabtagene vicleucel")
    expect(ide.locator(".availability")).to_contain_text("In US: approved, 2024-04-04")
    expect(options.filter(has_text="ciltacabtagene autoleucel").locator(".availability")).to_contain_text("not recorded")
    expect(options.first.locator(".preference")).to_contain_text("preferred")
    expect(options.last.locator(".preference")).to_contain_text("alternative")  # Sd, after the preferred options
    page.screenshot(path=str(SHOTS / "patient-jurisdiction.png"), full_page=True)


def _watch(page, live_server) -> list[str]:
    """The URLs the page asks for, and its policy violations (a blocked request is no request)."""
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.context.add_init_script(WATCH_POLICY)
    return requests


def test_the_editor_completes_terms_from_this_server_and_asks_no_other_site(screen, live_server):
    requests = _watch(screen, live_server)
    screen.goto(live_server + "/query")
    screen.wait_for_selector(".yasqe .CodeMirror")
    top = screen.evaluate("document.querySelector('.yasqe').getBoundingClientRect().top + window.scrollY")
    assert top < 800 - 200, top  # the editor starts on the first screen, with room for its first lines
    screen.screenshot(path=str(SHOTS / "query-editor-first-screen.png"))
    screen.locator(".yasqe .CodeMirror").click()
    screen.keyboard.press("Control+A")
    screen.keyboard.press("Delete")
    screen.keyboard.type("SELECT * WHERE { ?x a mkg:AntiCD38R", delay=20)
    screen.keyboard.press("Control+Space")
    screen.wait_for_selector(".CodeMirror-hints li", timeout=10000)
    classes = screen.locator(".CodeMirror-hints li").all_inner_texts()
    assert "mkg:AntiCD38Regimen" in classes and "mkg:AntiCD38Recommendation" in classes
    screen.locator(".CodeMirror-hints li", has_text="mkg:AntiCD38Regimen").click()
    screen.keyboard.type(" ; mkg:hasCompo", delay=20)
    screen.keyboard.press("Control+Space")
    screen.wait_for_selector(".CodeMirror-hints li", timeout=10000)
    assert screen.locator(".CodeMirror-hints li").all_inner_texts() == ["mkg:hasComponent"]
    screen.keyboard.press("Enter")
    query = screen.evaluate("document.querySelector('.CodeMirror').CodeMirror.getValue()")
    assert "PREFIX mkg: <https://w3id.org/myeloma-kg/ontology#>" in query  # the prefix completer added it
    assert re.search(r"\?x a mkg:AntiCD38Regimen\s*; mkg:hasComponent\b", query), query
    screen.keyboard.type(" ?drug }", delay=10)
    screen.click(".yasqe_queryButton")
    screen.wait_for_selector(".yasr table td", timeout=20000)
    screen.screenshot(path=str(SHOTS / "query-editor-completion.png"), full_page=True)
    assert requests and all(url.startswith(live_server + "/") for url in requests), \
        [url for url in requests if not url.startswith(live_server + "/")]
    assert any(url == live_server + "/sparql" for url in requests)  # completion asked this server
    assert screen.evaluate("window.__violations") == []
    assert screen.evaluate("Object.keys(localStorage)") == []  # no term list kept in the browser


def test_result_iris_open_this_servers_pages(screen, live_server):
    requests = _watch(screen, live_server)
    screen.goto(live_server + "/query")
    screen.wait_for_selector(".yasqe .CodeMirror")
    screen.select_option("#examples", "browse-trials")
    screen.wait_for_selector(".yasr table td a", timeout=20000)
    hrefs = screen.eval_on_selector_all(".yasr table td a", "links => links.map(a => a.getAttribute('href'))")
    assert "/trial/NCT03275285" in hrefs and "/ontology#ClinicalTrial" in hrefs and "/ontology#VerifiedFromSource" in hrefs
    assert not [h for h in hrefs if h.startswith("https://w3id.org/myeloma-kg/")]
    # a result that shows the IRI in full width: trial:NCT03275285 under its prefix
    screen.evaluate("""document.querySelector('.CodeMirror').CodeMirror.setValue(
        'PREFIX trial: <https://w3id.org/myeloma-kg/trial/>\\nSELECT ?trial WHERE { VALUES ?trial { trial:NCT03275285 } }')""")
    screen.click(".yasqe_queryButton")
    link = screen.locator(".yasr table td a", has_text="trial:NCT03275285")
    link.wait_for()
    with screen.context.expect_page() as opened:
        link.click()
    trial = opened.value
    trial.wait_for_load_state()
    assert trial.url == live_server + "/trial/NCT03275285" and "IKEMA" in trial.title()
    assert all(url.startswith(live_server + "/") for url in requests)
    assert screen.evaluate("window.__violations") == []
