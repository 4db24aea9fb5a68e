"""Patient records from FHIR R4 bundles (patients/fhir_bundle.py, patients/mapping.json).

The FHIR twins in examples/fhir/ must give exactly the recommendation of their JSON twins in
examples/patients/, through the command line, the API and the library; bundles that are not
FHIR are refused (exit 2, HTTP 400); records that do not conform name the FHIR resource at fault;
lines of therapy are taken from CarePlans or derived by the rule of mapping.json, and what a
bundle does not say stays unknown.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re

import pytest
from click.testing import CliRunner

from myeloma_kg.cli.main import main
from myeloma_kg.patients import fhir_bundle as fhir_patient

from conftest import ROOT

FHIR = ROOT / "examples" / "fhir"
JSON = ROOT / "examples" / "patients"
EXPECTED = json.loads((ROOT / "examples" / "expected-outcomes.json").read_text())
AS_OF = dt.date.fromisoformat(EXPECTED["asOf"])
TWINS = sorted(p.name for p in FHIR.glob("*.json"))
RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC, SCT = "http://loinc.org", "http://snomed.info/sct"
REC = "https://w3id.org/myeloma-kg/fhir/CodeSystem/record"


@pytest.fixture()
def client(make_app):
    return make_app(query_workers=1).test_client()


def bundle(name: str) -> dict:
    return json.loads((FHIR / name).read_text())


def read(recommender, data: dict, as_of=AS_OF):
    return recommender.read(json.dumps(data), content_type="application/fhir+json", as_of=as_of)


def resource(data: dict, rid: str) -> dict:
    return next(e["resource"] for e in data["entry"] if e["resource"]["id"] == rid)


def minimal(*resources, birth="1960-03-15", condition=True) -> dict:
    """A bundle of one patient (with multiple myeloma, unless ``condition`` is false) and the given resources."""
    entries = [{"resource": {"resourceType": "Patient", "id": "T1", "birthDate": birth}}]
    if condition:
        entries.append({"resource": {"resourceType": "Condition", "id": "mm", "subject": {"reference": "Patient/T1"},
                                     "code": {"coding": [{"system": SCT, "code": "109989006"}]}}})
    entries += [{"resource": r} for r in resources]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def med(rid, drug, start=None, end=None, kind="MedicationStatement", **extra):
    concept = {"coding": [{"system": RX, "code": drug, "display": ""}]} if drug.isdigit() else {"text": drug}
    if drug.isdigit():
        del concept["coding"][0]["display"]
    r = {"resourceType": kind, "id": rid, "status": "completed", "subject": {"reference": "Patient/T1"},
         "medicationCodeableConcept": concept, **extra}
    if start:
        r["effectivePeriod"] = {"start": start, **({"end": end} if end else {})}
    return r


def progression(rid, date):
    return {"resourceType": "Observation", "id": rid, "status": "final", "subject": {"reference": "Patient/T1"},
            "code": {"coding": [{"system": LOINC, "code": "97509-4"}]}, "effectiveDateTime": date,
            "valueCodeableConcept": {"coding": [{"system": SCT, "code": "271299001"}]}}


# -- the twins ------------------------------------------------------------------------------------

def test_at_least_six_examples_have_fhir_twins():
    assert len(TWINS) >= 6
    assert all((JSON / name).is_file() for name in TWINS)


@pytest.mark.parametrize("name", TWINS)
def test_every_example_bundle_is_valid_fhir_r4(name):
    from fhir.resources.R4B.bundle import Bundle

    parsed = Bundle.model_validate(bundle(name))
    kinds = {e.resource.get_resource_type() for e in parsed.entry}
    assert {"Patient", "Condition", "Observation"} <= kinds
    assert kinds & {"MedicationAdministration", "MedicationStatement", "MedicationRequest"}


@pytest.mark.parametrize("name", TWINS)
def test_a_fhir_twin_gives_the_recommendation_of_its_json_twin(recommender, name):
    from myeloma_kg.patients.read import read_file

    from_json = recommender.recommend(read_file(JSON / name, recommender.vocabulary, as_of=AS_OF)).recommendation
    from_fhir = recommender.recommend(read_file(FHIR / name, recommender.vocabulary, as_of=AS_OF))
    assert from_fhir.recommendation is not None, from_fhir.report.text()
    fhir_result, json_result = dict(from_fhir.recommendation), dict(from_json)
    fhir_warnings, json_warnings = fhir_result.pop("warnings", []), json_result.pop("warnings", [])
    assert fhir_result == json_result  # the whole output: derived state, reasons, cautions
    # the same warnings; where the JSON record says "Line 2", the bundle's names its FHIR resources
    assert len(fhir_warnings) == len(json_warnings)
    for got, want in zip(fhir_warnings, json_warnings):
        assert got.endswith(re.sub(r"^Line \d+: ", "", want)), (got, want)
    expected = EXPECTED["valid"][name]
    assert sorted(r["regimen"] for r in from_fhir.recommendation["recommended"]) == sorted(expected["recommended"])


def test_the_twins_use_both_ways_of_giving_lines_and_all_three_medication_resources():
    plans = [n for n in TWINS if any(e["resource"]["resourceType"] == "CarePlan" for e in bundle(n)["entry"])]
    kinds = {e["resource"]["resourceType"] for n in TWINS for e in bundle(n)["entry"]}
    assert plans and len(plans) < len(TWINS)
    assert {"MedicationAdministration", "MedicationStatement", "MedicationRequest"} <= kinds


def test_the_command_line_reads_bundles(tmp_path):
    runner = CliRunner()
    name = "dara-refractory-recent.json"
    fhir_out = runner.invoke(main, ["recommend", str(FHIR / name), "--format", "json", "--as-of", EXPECTED["asOf"]])
    json_out = runner.invoke(main, ["recommend", str(JSON / name), "--format", "json", "--as-of", EXPECTED["asOf"]])
    assert fhir_out.exit_code == 0, fhir_out.output
    assert json.loads(fhir_out.output) == json.loads(json_out.output)
    checked = runner.invoke(main, ["validate", str(FHIR / name), "--as-of", EXPECTED["asOf"]])
    assert checked.exit_code == 0 and "conforms" in checked.output

    broken = copy.deepcopy(bundle(name))
    resource(broken, "EX-DARA-REFR-01-ecog")["valueInteger"] = "one"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(broken))
    refused = runner.invoke(main, ["validate", str(bad)])
    assert refused.exit_code == 2
    assert "Observation/EX-DARA-REFR-01-ecog" in refused.output and "valueInteger" in refused.output
    assert "Traceback" not in refused.output

    wrong = copy.deepcopy(bundle(name))
    resource(wrong, "EX-DARA-REFR-01-ecog")["valueInteger"] = 7
    bad.write_text(json.dumps(wrong))
    report = runner.invoke(main, ["recommend", str(bad), "--as-of", EXPECTED["asOf"]])
    assert report.exit_code == 1
    assert "Observation/EX-DARA-REFR-01-ecog: ECOG performance status must be a whole number from 0 to 4" in report.output


def test_a_folder_of_bundles_runs_as_a_batch():
    result = CliRunner().invoke(main, ["recommend", str(FHIR), "--as-of", EXPECTED["asOf"], "--jobs", "1"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert sorted(r["record"] for r in rows) == TWINS and all("recommended" in r for r in rows)


def test_the_api_takes_fhir_json(client):
    name = "high-risk-1q21.json"
    fhir_body = (FHIR / name).read_text()
    answer = client.post("/api/recommend", data=fhir_body, content_type="application/fhir+json")
    plain = {k: v for k, v in json.loads((JSON / name).read_text()).items() if k != "asOf"}  # both as of today
    twin = client.post("/api/recommend", data=json.dumps(plain), content_type="application/json")
    assert answer.status_code == 200 and answer.get_json() == twin.get_json()
    # a .json body whose resourceType is Bundle is read as FHIR too
    assert client.post("/api/recommend", data=fhir_body, content_type="application/json").get_json() == twin.get_json()
    assert client.post("/api/validate", data=fhir_body, content_type="application/fhir+json").get_json()["conforms"]


@pytest.mark.parametrize("body,words", [
    ("{not json", "not valid JSON"),
    ('{"resourceType": "Patient", "id": "x"}', "is a Bundle"),
    ('{"resourceType": "Bundle", "type": "collection", "entry": []}', "exactly one Patient"),
    ('{"resourceType": "Bundle", "type": "collection", "entry": {"a": 1}}', "'entry' must be a list"),
    ('{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Spaceship"}}]}',
     "not a FHIR R4 resource type"),
    ('{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Patient", '
     '"birthDate": "last spring"}}]}', "Patient/?: not valid FHIR R4 at birthDate"),
    ('[1, 2]', "is a Bundle"),
])
def test_what_is_not_a_fhir_bundle_is_refused_with_400(client, body, words):
    for path in ("/api/recommend", "/api/validate"):
        answer = client.post(path, data=body, content_type="application/fhir+json")
        assert answer.status_code == 400, answer.get_data(as_text=True)
        assert words in answer.get_json()["error"]


def test_a_non_conforming_bundle_is_422_and_names_the_resources(client):
    data = bundle("dara-refractory-recent.json")
    resource(data, "ex-dara-refr-01-l2-d2")["medicationCodeableConcept"] = {"text": "pomalidomid"}
    resource(data, "EX-DARA-REFR-01-crcl")["valueQuantity"] = {"value": 1.2, "unit": "mL/s"}
    answer = client.post("/api/recommend", data=json.dumps(data), content_type="application/fhir+json")
    assert answer.status_code == 422
    messages = [v["message"] for v in answer.get_json()["violations"]]
    assert any(m.startswith("MedicationAdministration/ex-dara-refr-01-l2-d2: Line 2: unknown drug pomalidomid") for m in messages)
    assert any(m.startswith("Observation/EX-DARA-REFR-01-crcl: Creatinine clearance must be") and "1.2 mL/s" in m
               for m in messages)


# -- what is read, and what stays unknown ----------------------------------------------------------

def test_rxnorm_codes_come_from_the_graph_and_only_under_the_rxnorm_system(recommender):
    rec, _, _ = fhir_patient.to_record(minimal(med("m1", "1721947", "2024-01-01", "2024-06-01")),
                                       recommender.vocabulary, as_of=AS_OF)
    assert recommender.vocabulary.lookup("drug", rec["therapyLines"][0]["drugs"][0]["drug"]).endswith("/daratumumab")
    other = med("m1", "x", "2024-01-01", "2024-06-01")
    other["medicationCodeableConcept"] = {"coding": [{"system": "http://example.org/codes", "code": "1721947"}]}
    report = recommender.validate(read(recommender, minimal(other)))
    assert any(i.message.startswith("MedicationStatement/m1: Line 1: unknown drug") for i in report.issues)


def test_age_comes_from_the_birth_date_at_the_as_of_date(recommender):
    def age(birth, as_of):
        return fhir_patient.to_record(minimal(birth=birth), recommender.vocabulary, as_of=as_of)[0].get("age")

    assert age("1950-11-25", dt.date(2026, 11, 24)) == 75
    assert age("1950-11-24", dt.date(2026, 11, 24)) == 76
    assert age("1950-03", dt.date(2026, 11, 24)) == 76  # every day of March 1950 gives 76
    assert age("1950", dt.date(2026, 11, 24)) is None  # 75 or 76: unknown, not guessed
    report = recommender.validate(read(recommender, minimal(birth="1950"), as_of=dt.date(2026, 11, 24)))
    messages = [i.message for i in report.issues]
    assert "Patient/T1: The patient's age is required." in messages
    assert any("does not fix the age" in m for m in messages)


def test_lines_are_derived_after_progression_and_drugs_added_within_a_line_stay(recommender):
    data = minimal(
        med("v", "358258", "2022-01-01", "2022-05-01"), med("d", "dexamethasone", "2022-01-01", "2022-05-01"),
        med("mel", "6718", "2022-06-10", "2022-06-11"),  # transplant: added within the line
        med("len", "342369", "2022-08-01", "2024-02-01"),  # maintenance: added within the line
        progression("p1", "2024-01-20"),
        med("dara", "1721947", "2024-02-15", "2025-01-01"), med("pom", "1369713", "2024-02-15", "2025-01-01"))
    rec, origins, notes = fhir_patient.to_record(data, recommender.vocabulary, as_of=AS_OF)
    lines = rec["therapyLines"]
    assert [len(line["drugs"]) for line in lines] == [4, 2] and not notes
    assert lines[0]["start"] == "2022-01-01" and lines[0]["end"] == "2024-02-01"
    assert lines[0]["progressionDate"] == "2024-01-20" and "progressionDate" not in lines[1]
    assert "bestResponse" not in lines[1]  # no response observation: unknown, not guessed
    report = recommender.validate(read(recommender, data))
    assert any(i.message.startswith("line derived from MedicationStatement/dara, MedicationStatement/pom: Line 2: no progression")
               for i in report.issues)


def test_an_unplanned_stop_starts_a_new_line_only_for_a_new_drug(recommender):
    tox = [{"url": "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-treatment-termination-reason",
            "valueCodeableConcept": {"coding": [{"system": REC, "code": "toxicity"}]}}]
    switched = minimal(med("k", "1302966", "2023-01-01", "2023-03-01", extension=tox),
                       med("v", "358258", "2023-03-10", "2023-09-01"))
    rec, _, _ = fhir_patient.to_record(switched, recommender.vocabulary, as_of=AS_OF)
    assert len(rec["therapyLines"]) == 2 and rec["therapyLines"][0]["stopReason"] == "toxicity"
    resumed = minimal(med("k", "1302966", "2023-01-01", "2023-03-01", extension=tox),
                      med("k2", "1302966", "2023-03-10", "2023-09-01"))
    rec, _, _ = fhir_patient.to_record(resumed, recommender.vocabulary, as_of=AS_OF)
    assert len(rec["therapyLines"]) == 1
    assert rec["therapyLines"][0]["drugs"] == [{"drug": "1302966", "start": "2023-01-01", "end": "2023-09-01"}]


def test_the_line_rule_is_read_from_the_mapping(recommender, monkeypatch):
    tox = [{"url": "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-treatment-termination-reason",
            "valueCodeableConcept": {"text": "toxicity"}}]
    data = minimal(med("k", "1302966", "2023-01-01", "2023-03-01", extension=tox),
                   med("v", "358258", "2023-03-10", "2023-09-01"))
    assert len(fhir_patient.to_record(data, recommender.vocabulary, as_of=AS_OF)[0]["therapyLines"]) == 2
    table = copy.deepcopy(fhir_patient.mapping())
    table["lines"]["derived"]["newLineAfterStopReasons"] = []
    monkeypatch.setattr(fhir_patient, "mapping", lambda: table)
    assert len(fhir_patient.to_record(data, recommender.vocabulary, as_of=AS_OF)[0]["therapyLines"]) == 1


def test_an_undated_medication_cannot_be_placed_and_the_record_is_not_evaluated(recommender):
    data = minimal(med("len", "342369", "2022-08-01", "2024-02-01"), med("x", "1369713"))
    outcome = recommender.recommend(read(recommender, data))
    assert outcome.recommendation is None
    assert any(i.message.startswith("MedicationStatement/x: the medication has no start date") for i in outcome.report.issues)


def test_with_careplans_every_medication_must_belong_to_a_line(recommender):
    data = bundle("len-refractory-first-relapse.json")
    data["entry"].append({"resource": med("stray", "1369713", "2024-01-01", "2024-02-01", subject={"reference": "Patient/EX-LEN-REFR-01"})})
    report = recommender.validate(read(recommender, data))
    assert not report.conforms
    assert any(i.message.startswith("MedicationStatement/stray: the lines of therapy are given as CarePlans") for i in report.issues)


def test_a_careplan_line_gives_its_dates_to_drugs_without_their_own(recommender):
    rec, origins, _ = fhir_patient.to_record(bundle("len-refractory-first-relapse.json"), recommender.vocabulary, as_of=AS_OF)
    line = rec["therapyLines"][0]
    assert line["start"] == "2023-02-06" and line["end"] == "2026-08-31" and line["stopReason"] == "progression"
    assert {"drug": "lenalidomide"} in line["drugs"]  # no period of its own: the line's dates apply
    assert origins["https://w3id.org/myeloma-kg/patient/EX-LEN-REFR-01/line/1"] == "CarePlan/ex-len-refr-01-line-1"


def test_doses_of_one_drug_are_one_exposure_and_proposals_are_not_exposures(recommender):
    doses = [med(f"a{i}", "1721947", f"2024-0{i}-01", f"2024-0{i}-01", kind="MedicationAdministration") for i in range(1, 4)]
    proposal = {"resourceType": "MedicationRequest", "id": "prop", "status": "active", "intent": "proposal",
                "subject": {"reference": "Patient/T1"}, "medicationCodeableConcept": {"text": "teclistamab"}}
    wrong = med("err", "342369", "2024-01-01", "2024-02-01", status="entered-in-error")
    rec, origins, _ = fhir_patient.to_record(minimal(*doses, proposal, wrong), recommender.vocabulary, as_of=AS_OF)
    assert rec["therapyLines"][0]["drugs"] == [{"drug": "1721947", "start": "2024-01-01", "end": "2024-03-01"}]
    assert origins["https://w3id.org/myeloma-kg/patient/T1/line/1/drug/1"] == \
        "MedicationAdministration/a1, MedicationAdministration/a2, MedicationAdministration/a3"


def test_observations_are_read_by_the_codes_of_the_mapping(recommender):
    ecog = {"resourceType": "Observation", "id": "e", "status": "final", "code": {"coding": [{"system": LOINC, "code": "89247-1"}]},
            "valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA9625-0"}]}, "effectiveDateTime": "2026-01-01"}
    later = {**ecog, "id": "e2", "valueInteger": 1, "effectiveDateTime": "2027-01-01"}  # after the as-of date
    del later["valueCodeableConcept"]
    none_found = {"resourceType": "Observation", "id": "c", "status": "final", "code": {"coding": [{"system": LOINC, "code": "69548-6"}]},
                  "valueCodeableConcept": {"coding": [{"system": SCT, "code": "260415000"}]}}
    rec, _, notes = fhir_patient.to_record(minimal(ecog, later, none_found, condition=False), recommender.vocabulary, as_of=AS_OF)
    assert rec["ecog"] == 3 and rec["cytogenetics"] == []
    assert any("No Condition of multiple myeloma" in text for _, text in notes)
    rec, _, _ = fhir_patient.to_record(minimal(), recommender.vocabulary, as_of=AS_OF)
    assert "cytogenetics" not in rec and "ecog" not in rec  # nothing said: unknown


def test_every_code_of_the_mapping_names_its_source_unless_it_is_the_projects_own():
    table = fhir_patient.mapping()
    codes = table["condition"]["codes"] + [c for rule in table["observations"]
                                           for key in ("codes", "noFinding", "eventValues") for c in rule.get(key, [])]
    for code in codes:
        assert code["system"] == "record" or code.get("source"), code


def test_the_mapping_ships_in_the_wheel_and_the_api_describes_fhir(client):
    import tomllib

    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folder = ROOT / "src" / "myeloma_kg" / "patients"
    shipped = {p for pattern in setuptools["package-data"]["myeloma_kg.patients"] for p in folder.glob(pattern)}
    assert folder / "mapping.json" in shipped
    spec = client.get("/api/openapi.json").get_json()
    assert "application/fhir+json" in spec["paths"]["/api/recommend"]["post"]["requestBody"]["content"]


def test_resources_about_another_patient_make_the_record_unusable(recommender):
    data = minimal(med("m1", "342369", "2024-01-01", "2024-06-01", subject={"reference": "Patient/T1"}),
                   med("m2", "1369713", "2024-07-01", "2024-09-01", subject={"reference": "Patient/SOMEONE-ELSE"}))
    report = recommender.validate(read(recommender, data))
    assert not report.conforms
    assert any(i.message.startswith("MedicationStatement/m2: it is about Patient/SOMEONE-ELSE") for i in report.issues)


def test_a_drug_code_the_graph_does_not_know_is_named_as_that_code(recommender):
    data = minimal(med("m1", "99999999", "2024-01-01", "2024-06-01"), med("m2", "1369713", "2024-07-01", "2024-09-01"))
    report = recommender.validate(recommender.read(json.dumps(data), "application/fhir+json"))
    unknown = [i.message for i in report.issues if "unknown drug" in i.message]
    assert unknown and all("unknown drug RxNorm code 99999999:" in m for m in unknown), unknown
    assert not any("http-www" in m or "rxnorm-99999999" in m for m in unknown)


def test_an_unknown_drug_of_a_plain_record_is_named_as_written(recommender):
    # an agent the graph does not know is kept, counted for no class, and named in a warning
    record = {"id": "U1", "age": 70, "therapyLines": [{"line": 1, "drugs": ["Foo-Bar mab 2", "lenalidomide"],
                                                       "start": "2022-01-01", "end": "2023-01-01", "bestResponse": "PR"}]}
    report = recommender.validate(recommender.read(json.dumps(record)))
    assert report.conforms, report.text()
    assert any("Foo-Bar mab 2 is not a drug this program knows" in i.message and i.severity == "warning"
               for i in report.issues), [i.message for i in report.issues]
    # a near miss of a known drug is refused, named as written: it may hide an exposure
    record["therapyLines"][0]["drugs"][1] = "lenalidomid"
    report = recommender.validate(recommender.read(json.dumps(record)))
    assert any("unknown drug lenalidomid:" in i.message for i in report.issues), [i.message for i in report.issues]
