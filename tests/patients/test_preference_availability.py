"""Preference and availability: each option's rank under its recommendation, the order of the
options, and its regulatory status in the jurisdiction asked for (examples/patients, hand-checked
against ontology/content/availability.ttl and the preferred regimens of recommendations.ttl)."""

from __future__ import annotations

import datetime as dt

import pytest

from myeloma_kg.patients.read import read_file

from conftest import ROOT

EXAMPLES = ROOT / "examples" / "patients"
AS_OF = dt.date(2026, 11, 24)
ORDER = ("preferred", "alternative", "not ranked")


@pytest.fixture(scope="module")
def answer(recommender):
    def get(name: str, jurisdiction: str | None = None) -> dict:
        record = read_file(EXAMPLES / name, recommender.vocabulary, as_of=AS_OF)
        return recommender.recommend(record, jurisdiction=jurisdiction).recommendation
    return get


def _items(result):
    return {i["label"]: i for i in result["recommended"]}


def test_r2_prefers_drd_and_lists_it_first(answer):
    result = answer("len-sensitive-first-relapse.json")
    items = _items(result)
    assert result["recommended"][0]["label"] == "DRd"
    assert items["DRd"]["preference"] == "preferred"
    assert "POLLUX" in items["DRd"]["preferenceBasis"]
    assert {items[g]["preference"] for g in ("DVd", "DKd", "Isa-Kd")} == {"alternative"}
    assert items["Tal-D"]["preference"] == "not ranked"
    assert "preferred first" in result["optionOrder"]


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_options_are_ordered_preferred_alternative_unranked(answer, name):
    ranks = [ORDER.index(i["preference"]) for i in answer(name)["recommended"]]
    assert ranks == sorted(ranks)


def test_the_record_jurisdiction_marks_every_option_and_hides_none(answer):
    plain = answer("infection-care-t-cell-options.json")
    japan = answer("jurisdiction-japan.json")
    assert [i["regimen"] for i in japan["recommended"]] == [i["regimen"] for i in plain["recommended"]]
    assert japan["jurisdiction"]["code"] == "JP" and plain["jurisdiction"] is None
    items = _items(japan)
    assert items["ide-cel"]["availability"] == {
        "jurisdiction": "JP", "status": "approved elsewhere", "availableThere": None, "date": None, "source": None,
        "approvedIn": ["US"]}
    assert items["cilta-cel"]["availability"]["status"] == "not recorded"
    assert all("availability" not in i for i in plain["recommended"])


def test_a_jurisdiction_with_a_recorded_approval_gives_its_date_and_source(answer):
    items = _items(answer("jurisdiction-japan.json", jurisdiction="us"))
    ide = items["ide-cel"]["availability"]
    assert ide["status"] == "approved" and ide["availableThere"] is True
    assert ide["date"] == "2024-04-04" and "FDA" in ide["source"]
    assert items["teclistamab monotherapy"]["availability"]["status"] == "not recorded"
    assert items["ide-cel"]["regulatoryStatus"][0]["evidenceStatus"]


def test_an_unknown_jurisdiction_is_a_warning_not_a_guess(answer):
    result = answer("jurisdiction-japan.json", jurisdiction="Atlantis")
    assert result["jurisdiction"] is None
    assert any("'Atlantis' is not one the graph records" in w for w in result["warnings"])
    assert all("availability" not in i for i in result["recommended"])


def test_api_jurisdiction_parameter(client):
    body = (EXAMPLES / "infection-care-t-cell-options.json").read_bytes()
    ok = client.post("/api/recommend?jurisdiction=us&asOf=2026-11-24", data=body, content_type="application/json")
    assert ok.status_code == 200
    assert {i["availability"]["jurisdiction"] for i in ok.get_json()["recommended"]} == {"US"}
    bad = client.post("/api/recommend?jurisdiction=XX", data=body, content_type="application/json")
    assert bad.status_code == 400 and "JP" in bad.get_json()["error"]
