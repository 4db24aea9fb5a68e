"""The record keys for patient factors - dialysis, cardiacHistory (true/false or a list of conditions) and a
line's toxicity - read from plain JSON, JSON-LD and Turtle, and refused in clinical words when wrong."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest

from myeloma_kg.errors import UnreadableRecord

from conftest import ROOT

AS_OF = dt.date(2026, 11, 24)
BASE = json.loads((ROOT / "examples" / "patients" / "cardiac-history-carfilzomib.json").read_text())
MKG = "https://w3id.org/myeloma-kg/ontology#"



def _run(recommender, data, content_type=None):
    text = data if isinstance(data, str) else json.dumps(data)
    record = recommender.read(text, content_type=content_type, as_of=AS_OF)
    return record, recommender.recommend(record)


def _messages(outcome, severity):
    return [i.message for i in outcome.report.issues if i.severity == severity]


def test_cardiac_history_list_gives_history_and_names(recommender):
    record, outcome = _run(recommender, BASE)
    values = {(t.predicate.value, t.object.value) for t in record.triples}
    assert (MKG + "cardiacHistory", "true") in values
    assert {(MKG + "cardiacCondition", "heart failure"), (MKG + "cardiacCondition", "atrial fibrillation")} <= values
    assert outcome.report.conforms


@pytest.mark.parametrize("value,held", [(True, True), (False, False), ([], False)])
def test_cardiac_history_boolean_or_empty_list(recommender, value, held):
    data = copy.deepcopy(BASE)
    data["cardiacHistory"] = value
    _, outcome = _run(recommender, data)
    dkd = next(i for i in outcome.recommendation["recommended"] if i["label"] == "DKd")
    assert any("History of heart disease" in c for c in dkd["cautions"]) is held


@pytest.mark.parametrize("key,value,phrase", [
    ("cardiacHistory", "yes", "Cardiac history must be true, false, or a list"),
    ("cardiacHistory", [3], "Each cardiac condition must be a non-empty text"),
    ("cardiacHistory", [""], "Each cardiac condition must be a non-empty text"),
    ("dialysis", "sometimes", "Dialysis must be true or false"),
])
def test_wrong_values_are_refused_in_clinical_words(recommender, key, value, phrase):
    data = copy.deepcopy(BASE)
    data[key] = value
    _, outcome = _run(recommender, data)
    assert not outcome.report.conforms
    assert any(phrase in m for m in _messages(outcome, "violation")), _messages(outcome, "violation")


def test_toxicity_text_must_be_text(recommender):
    data = copy.deepcopy(BASE)
    data["therapyLines"][0]["toxicity"] = 7
    _, outcome = _run(recommender, data)
    assert any("the toxicity must be a text" in m for m in _messages(outcome, "violation"))


def test_toxicity_stop_without_the_toxicity_is_a_warning_and_still_blocks_the_repeat(recommender):
    data = json.loads((ROOT / "examples" / "patients" / "toxicity-stopped-dkd.json").read_text())
    del data["therapyLines"][1]["toxicity"]
    _, outcome = _run(recommender, data)
    assert outcome.report.conforms
    assert any("stopped for toxicity but the record does not say which" in m for m in _messages(outcome, "warning"))
    dkd = next(i for i in outcome.recommendation["notRecommended"] if i["label"] == "DKd")
    assert any("toxicity not named in the record" in r for r in dkd["reasons"])


def test_dialysis_in_json_ld_and_turtle_matches_plain_json(recommender):
    plain = json.loads((ROOT / "examples" / "patients" / "dialysis.json").read_text())
    _, expected = _run(recommender, plain)
    context = json.loads((ROOT / "src" / "myeloma_kg" / "context.jsonld").read_text())["@context"]
    drug = "https://w3id.org/myeloma-kg/drug/"
    jsonld = {"@context": context, "id": "T2", "type": "Patient", "patientId": "T2", "age": 69, "dialysis": True,
              "cardiacHistory": True, "cardiacConditions": ["angina"], "cytogeneticsReported": True,
              "therapyLines": [{"id": "T2/line/1", "type": "TherapyLine", "line": 1, "start": "2023-02-06",
                                "end": "2023-07-24", "bestResponse": "mkg:ResponseVGPR", "progressionDate": "2026-09-14",
                                "stopReason": "mkg:StopCompleted", "toxicity": ["none"],
                                "drugs": [{"type": "DrugExposure", "drug": drug + d}
                                          for d in ("bortezomib", "cyclophosphamide", "dexamethasone")]}]}
    record, from_jsonld = _run(recommender, jsonld, "application/ld+json")
    assert from_jsonld.report.conforms, from_jsonld.report.text()
    assert (MKG + "cardiacCondition", "angina") in {(t.predicate.value, t.object.value) for t in record.triples}
    assert {i["regimen"] for i in from_jsonld.recommendation["recommended"]} == \
           {i["regimen"] for i in expected.recommendation["recommended"]}
    turtle = """@prefix mkg: <https://w3id.org/myeloma-kg/ontology#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<T1> a mkg:Patient ; mkg:patientId "T1" ; mkg:age 69 ; mkg:dialysis true ; mkg:cytogeneticsReported true ;
  mkg:hasTherapyLine <T1/line/1> .
<T1/line/1> a mkg:TherapyLine ; mkg:lineNumber 1 ; mkg:startDate "2023-02-06"^^xsd:date ; mkg:endDate "2023-07-24"^^xsd:date ;
  mkg:bestResponse mkg:ResponseVGPR ; mkg:progressionDate "2026-09-14"^^xsd:date ; mkg:stopReason mkg:StopCompleted ;
  mkg:hasExposure [ a mkg:DrugExposure ; mkg:exposureDrug <https://w3id.org/myeloma-kg/drug/bortezomib> ] ,
                  [ a mkg:DrugExposure ; mkg:exposureDrug <https://w3id.org/myeloma-kg/drug/cyclophosphamide> ] ,
                  [ a mkg:DrugExposure ; mkg:exposureDrug <https://w3id.org/myeloma-kg/drug/dexamethasone> ] .
"""
    _, from_turtle = _run(recommender, turtle, "text/turtle")
    assert from_turtle.report.conforms, from_turtle.report.text()
    drd = next(i for i in from_turtle.recommendation["recommended"] if i["label"] == "DRd")
    assert any("On dialysis" in c for c in drd["cautions"])


def test_a_stated_reason_reopens_the_same_target_with_a_caution(recommender):
    data = json.loads((ROOT / "examples" / "patients" / "after-teclistamab-progression.json").read_text())
    _, without = _run(recommender, data)
    assert "CiltaCel" not in {i["regimen"].rsplit("/", 1)[1] for i in without.recommendation["recommended"]}
    data["sameTargetReason"] = "deep response for 23 months on teclistamab; BCMA expression confirmed on the relapse biopsy"
    _, outcome = _run(recommender, data)
    assert outcome.report.conforms, outcome.report.text()
    items = {i["regimen"].rsplit("/", 1)[1]: i for i in outcome.recommendation["recommended"]}
    assert {"CiltaCel", "IdeCel"} <= set(items)
    assert "TecMono" not in items  # still refractory to teclistamab itself
    assert any("listed only because the record states a reason" in c for c in items["CiltaCel"]["cautions"])
    assert "TalMono" in items and not any("states a reason" in c for c in items["TalMono"]["cautions"])


def test_an_empty_same_target_reason_is_refused(recommender):
    data = json.loads((ROOT / "examples" / "patients" / "after-teclistamab-progression.json").read_text())
    data["sameTargetReason"] = ""
    _, outcome = _run(recommender, data)
    assert any("The reason to repeat a target must be one non-empty text" in m for m in _messages(outcome, "violation"))


def test_a_key_the_program_does_not_read_is_named_in_a_warning_with_the_likely_one(recommender):
    record = {"id": "K1", "age": 70, "ECOG": 4, "dialisys": True,
              "therapyLines": [{"line": 1, "drugs": [{"drug": "lenalidomide", "dose": "25 mg"}], "start": "2022-01-01",
                                "end": "2023-01-01", "bestResponse": "PR", "progresionDate": "2022-12-01"}]}
    report = recommender.validate(recommender.read(json.dumps(record)))
    warnings = [i.message for i in report.issues if i.severity == "warning"]
    assert "'ECOG' is not a key the program reads, so it was ignored (did you mean 'ecog'?)" in warnings
    assert "'dialisys' is not a key the program reads, so it was ignored (did you mean 'dialysis'?)" in warnings
    assert ("therapy line 1: 'progresionDate' is not a key the program reads, so it was ignored "
            "(did you mean 'progressionDate'?)") in warnings
    assert "therapy line 1, drug: 'dose' is not a key the program reads, so it was ignored" in warnings
    assert report.conforms  # a warning, not a refusal (the API refuses it with ?strict=true)


def test_the_record_s_own_as_of_date_is_read_and_a_given_date_wins(recommender):
    record = json.loads((ROOT / "examples" / "patients" / "dara-refractory-washout-boundary.json").read_text())
    assert record["asOf"] == "2026-11-24"
    own = recommender.recommend(recommender.read(json.dumps(record))).recommendation
    assert own["asOf"] == "2026-11-24" and len(own["recommended"]) == 5  # the washout not reached
    later = recommender.recommend(recommender.read(json.dumps(record), as_of=dt.date(2026, 12, 7))).recommendation
    assert later["asOf"] == "2026-12-07" and len(later["recommended"]) == 8
    with pytest.raises(UnreadableRecord, match="'asOf' must be a date written YYYY-MM-DD"):
        recommender.read(json.dumps({**record, "asOf": "24/11/2026"}))


def test_the_imwg_frailty_components_are_read_at_the_top_of_a_plain_record(recommender):
    nested = {"id": "F1", "age": 80, "imwgFrailty": {"charlson": 2, "adl": 4, "iadl": 5}, "therapyLines": []}
    top = {"id": "F1", "age": 80, "charlson": 2, "adl": 4, "iadl": 5, "therapyLines": []}
    assert sorted(map(str, recommender.read(json.dumps(nested)).triples)) == sorted(map(str, recommender.read(json.dumps(top)).triples))
