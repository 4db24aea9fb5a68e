"""The JSON Schemas integrators code against (src/myeloma_kg/patients/schemas/): every example
record is valid under the record schema, every answer under the recommendation schema, and the
schema's value lists are the graph's own vocabulary."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest

import myeloma_kg.patients
from myeloma_kg.patients.read import read_file
from myeloma_kg.queries import catalog_of

from conftest import ROOT

SCHEMAS = Path(myeloma_kg.patients.__file__).parent / "schemas"
EXAMPLES = sorted((ROOT / "examples" / "patients").glob("*.json"))
AS_OF = dt.date.fromisoformat(json.loads((ROOT / "examples" / "expected-outcomes.json").read_text())["asOf"])


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_the_schemas_are_valid_draft_2020_12_schemas():
    for name in ("patient-record.json", "recommendation.json"):
        assert validator(name).schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_record_is_valid_under_the_record_schema(path):
    errors = [e.message for e in validator("patient-record.json").iter_errors(json.loads(path.read_text()))]
    assert errors == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_answer_is_valid_under_the_recommendation_schema(path, recommender):
    outcome = recommender.recommend(read_file(path, recommender.vocabulary, as_of=AS_OF))
    assert outcome.recommendation is not None
    errors = [f"{list(e.path)}: {e.message}" for e in validator("recommendation.json").iter_errors(outcome.recommendation)]
    assert errors == []


def test_the_record_schema_catches_what_it_promises():
    check = validator("patient-record.json")
    record = json.loads(EXAMPLES[0].read_text())
    assert not list(check.iter_errors(record))
    for key, value in (("ecog", 7), ("age", "old"), ("frailty", "robust"), ("therapyLines", {})):
        assert list(check.iter_errors({**record, key: value})), key
    assert list(check.iter_errors({k: v for k, v in record.items() if k != "therapyLines"}))


def test_the_record_schema_s_value_lists_are_the_graph_s_vocabulary(kg, settings):
    rows = kg.select(catalog_of(settings.queries_dir).program_query("patient", "vocabulary").text)
    words = {kind: {r["key"] for r in rows if r["kind"] == kind} for kind in ("response", "stopReason", "frailty")}
    schema = validator("patient-record.json").schema
    line = schema["$defs"]["therapyLine"]["properties"]
    assert {v.lower() for v in line["bestResponse"]["enum"]} == words["response"]
    assert set(line["stopReason"]["enum"]) == words["stopReason"]
    assert set(schema["properties"]["frailty"]["enum"]) == words["frailty"]


def test_the_api_serves_the_schemas_as_shipped(client):
    for name in ("patient-record.json", "recommendation.json"):
        answer = client.get(f"/api/schemas/{name}")
        assert answer.status_code == 200 and answer.mimetype == "application/schema+json"
        assert answer.get_json() == json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
        assert answer.headers["Access-Control-Allow-Origin"] == "*"
    missing = client.get("/api/schemas/nope.json")
    assert missing.status_code == 404 and "patient-record.json" in missing.get_json()["error"]
