"""Grading and review in SPARQL (filter by review state and certainty; the summary of findings)
and on the recommendation pages, on the shipped graph and with the approved fixture added."""

from __future__ import annotations

import re

import pytest

from myeloma_kg import KnowledgeGraph
from myeloma_kg.errors import QueryParameterError

from conftest import FIXTURES

VALID = FIXTURES / "grading" / "valid-approved.ttl"
OUTCOME = "https://w3id.org/myeloma-kg/outcome/"
REC = "https://w3id.org/myeloma-kg/recommendation/"


@pytest.fixture(scope="module")
def approved_kg(settings, kg):
    graph = KnowledgeGraph.open(settings, extra=[VALID])
    graph.set_inferred(kg.triples([kg.graph_names()[-1]]))
    return graph


def run(graph, catalog, name, **params):
    named = catalog.get(name)
    return graph.select(named.text, named.bind(params))


def cited_outcomes(graph, rec: str) -> set[str]:
    rows = graph.select(f"SELECT ?o WHERE {{ <{rec}> mkg:supportedBy ?o . ?o a mkg:Outcome }}")
    return {r["o"] for r in rows}


# -- SPARQL -----------------------------------------------------------------------------------

def test_filter_by_review_state_on_the_shipped_graph(run_query):
    drafts = run_query("recommendation-grading", reviewState="mkg:DraftState")
    assert sorted(r["notation"] for r in drafts) == sorted(f"R{i}" for i in range(1, 20))
    assert run_query("recommendation-grading", reviewState="mkg:ApprovedState") == []
    assert run_query("recommendation-grading", reviewState="mkg:ReviewedState") == []


def test_filter_by_review_state_and_certainty_finds_the_approved_fixture(approved_kg, catalog):
    approved = run(approved_kg, catalog, "recommendation-grading", reviewState="mkg:ApprovedState")
    assert [r["recommendation"] for r in approved] == [REC + "TEST-approved"]
    row = approved[0]
    assert row["reviewedBy"] == "Test approver (fixture)" and row["reviewedAt"].startswith("2026-12-02")
    assert row["strengthLabel"] == "weak" and row["directionLabel"] == "for"
    assert row["evidenceCertaintyLabel"] == "low certainty"
    assert (row["citedOutcomes"], row["assessedOutcomes"]) == (1, 1)
    drafts = run(approved_kg, catalog, "recommendation-grading", reviewState="mkg:DraftState")
    assert len(drafts) == 19 and REC + "TEST-approved" not in {r["recommendation"] for r in drafts}
    low = run(approved_kg, catalog, "recommendation-grading", evidenceCertainty="mkg:LowCertainty")
    assert [r["recommendation"] for r in low] == [REC + "TEST-approved"]
    assert run(approved_kg, catalog, "recommendation-grading", evidenceCertainty="mkg:HighCertainty") == []
    assert len(run(approved_kg, catalog, "recommendation-grading")) == 20


def test_a_review_state_that_is_not_an_iri_is_refused(catalog):
    with pytest.raises(QueryParameterError):
        catalog.get("recommendation-grading").bind({"reviewState": "approved please"})


def test_summary_of_findings_lists_every_cited_outcome_with_its_figures(kg, run_query):
    rows = run_query("summary-of-findings", recommendation="rec:R3")
    assert {r["outcome"] for r in rows} == cited_outcomes(kg, REC + "R3")
    for row in rows:
        figures = kg.select(f"""SELECT ?hr ?lo ?hi WHERE {{ <{row['outcome']}> mkg:hazardRatio ?hr ;
                                 mkg:ciLower ?lo ; mkg:ciUpper ?hi }}""")
        if figures:
            assert (row["effectMeasure"], row["effect"], row["ciLower"], row["ciUpper"]) == (
                "HR", figures[0]["hr"], figures[0]["lo"], figures[0]["hi"])
        assert row.get("certainty") is None  # nothing is assessed in the shipped graph
    ikema = next(r for r in rows if r["outcome"] == OUTCOME + "ikema-pfs-all-final")
    assert (ikema["studyLabel"], ikema["nctId"], ikema["effect"], ikema["ciLower"], ikema["ciUpper"]) == (
        "IKEMA", "NCT03275285", 0.58, 0.42, 0.79)


def test_a_certainty_made_for_one_recommendation_stays_on_it(approved_kg, catalog):
    mine = run(approved_kg, catalog, "summary-of-findings", recommendation="rec:TEST-approved")
    assert [(r["outcome"], r["certaintyLabel"]) for r in mine] == [(OUTCOME + "ikema-pfs-all-final", "low certainty")]
    assert mine[0]["domainJudgements"].count("\n") == 4 and "risk of bias: serious" in mine[0]["domainJudgements"]
    r3 = run(approved_kg, catalog, "summary-of-findings", recommendation="rec:R3")
    ikema = next(r for r in r3 if r["outcome"] == OUTCOME + "ikema-pfs-all-final")
    assert ikema.get("certainty") is None  # R3 cites the same outcome; the rating was made for another question


# -- pages ------------------------------------------------------------------------------------

@pytest.fixture()
def client(make_app):
    return make_app(query_workers=1).test_client()


@pytest.fixture()
def approved_client(make_app, approved_kg):
    return make_app(graph=approved_kg, query_workers=1).test_client()


def section(html: str, anchor: str) -> str:
    start = html.index(f'id="{anchor}"')
    end = html.find("<h2", start + 1)
    return html[start:end if end > 0 else None]


def test_the_summary_of_findings_shows_the_real_hazard_ratio_and_interval(client, kg):
    html = client.get("/recommendation/R3").get_data(as_text=True)
    sof = section(html, "summary-of-findings")
    figures = kg.select("""SELECT ?hr ?lo ?hi ?level WHERE { outcome:ikema-pfs-all-final mkg:hazardRatio ?hr ;
                           mkg:ciLower ?lo ; mkg:ciUpper ?hi ; mkg:ciLevel ?level }""")[0]
    expected = f"HR {figures['hr']:g} ({figures['level'] * 100:g}% CI {figures['lo']:g}–{figures['hi']:g})"
    assert expected == "HR 0.58 (95.4% CI 0.42–0.79)"
    row = next(r for r in sof.split("<tr>") if "/outcome/ikema-pfs-all-final" in r)
    assert expected in row and "IKEMA" in row and "NCT03275285" in row and "not assessed" in row
    for outcome in cited_outcomes(kg, REC + "R3"):
        assert outcome.replace("https://w3id.org/myeloma-kg", "") in sof


def test_the_page_shows_the_draft_review_state_with_who_and_when(client):
    html = client.get("/recommendation/R8").get_data(as_text=True)
    grading = section(html, "grading")
    assert re.search(r"draft, set by myeloma-kg curation team on 2026-12-03", grading)
    assert "not graded" in grading and "not assessed" in grading
    assert client.get("/grading/R8-draft").status_code == 200


def test_an_approved_recommendation_shows_its_grading_and_certainty(approved_client):
    html = approved_client.get("/recommendation/TEST-approved").get_data(as_text=True)
    grading = section(html, "grading")
    assert "approved, set by Test approver (fixture)" in grading
    assert "weak" in grading and "low certainty" in grading and "1 of the 1 cited" in grading
    sof = section(html, "summary-of-findings")
    assert "HR 0.58 (95.4% CI 0.42–0.79)" in sof and "<strong>low certainty</strong>" in sof
    for domain in ("risk of bias", "inconsistency", "indirectness", "imprecision", "publication bias"):
        assert f"<li>{domain}: " in sof
