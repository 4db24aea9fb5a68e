"""The web patient page shows the current line, an earlier target, and a supportive-care
heading that fits what is offered (not only anti-CD38 regimens)."""

from __future__ import annotations

import re

from conftest import ROOT

EXAMPLES = ROOT / "examples" / "patients"


def _post(client, name):
    page = client.get("/patient").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/patient", data={"csrf_token": token, "record": (EXAMPLES / name).read_text(),
                                             "as_of": "2026-11-24"})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_heading_fits_care_for_cellular_and_bispecific_options(client):
    text = _post(client, "no-anti-cd38-care-after-refractory.json")
    assert "Supportive care and next steps with the options offered" in text
    assert "Supportive care when starting an anti-CD38 regimen" not in text
    assert "cytokine release syndrome" in text and "before each daratumumab dose" not in text and "Inform the blood bank" not in text


def test_page_shows_current_line_and_earlier_target(client):
    text = _post(client, "after-teclistamab-progression.json")
    assert "current line" in text and "ended, progressed" in text
    assert "earlier BCMA-directed therapy" in text and "teclistamab (line 4)" in text


def test_ongoing_responding_page_recommends_nothing(client):
    text = _post(client, "ongoing-responding.json")
    assert "ongoing, responding" in text and "No regimen of the guideline applies." in text
