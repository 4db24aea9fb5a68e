"""The same clinical facts as plain JSON, JSON-LD under the project's context, and Turtle."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from myeloma_kg.patients.read import read_file
from myeloma_kg.patients.records import CONTEXT_FILE, UnreadableRecord

from conftest import FIXTURES

FIXTURES = FIXTURES / "patients"
AS_OF = dt.date(2026, 11, 24)
PLAIN = {"id": "P1", "age": 70, "therapyLines": [{"line": 1, "drugs": ["lenalidomide"], "start": "2021-01-01",
                                                   "end": "2022-01-01", "progressionDate": "2021-12-01",
                                                   "bestResponse": "PR"}]}



def summary(recommender, record):
    result = recommender.recommend(record).recommendation
    return (result["derived"]["refractoryTo"], result["derived"]["priorLines"],
            sorted(r["regimen"] for r in result["recommended"]))


@pytest.mark.parametrize("name", ["turtle-record.ttl", "jsonld-record.jsonld"])
def test_turtle_and_json_ld_give_the_same_result_as_plain_json(recommender, name):
    plain = recommender.read(json.dumps(PLAIN), as_of=AS_OF)
    other = read_file(FIXTURES / name, recommender.vocabulary, as_of=AS_OF)
    assert summary(recommender, other) == summary(recommender, plain)


def test_the_published_context_maps_every_record_key():
    context = json.loads(CONTEXT_FILE.read_text())["@context"]
    for key in ("age", "ecog", "frailty", "creatinineClearance", "cytogenetics", "therapyLines", "line",
                "drugs", "drug", "start", "end", "progressionDate", "bestResponse", "stopReason"):
        assert key in context, key


@pytest.mark.parametrize("text,message", [
    ("[1, 2]", "JSON object"),
    ('{"id": 1', "not valid JSON"),
    ("this is not a record", "neither JSON nor"),
    ('{"id": "x", "age": 70, "therapyLines": {"line": 1}}', "'therapyLines' must be a list"),
])
def test_unreadable_input_is_refused_in_one_line(recommender, text, message):
    with pytest.raises(UnreadableRecord, match=message) as info:
        recommender.read(text)
    assert "\n" not in str(info.value)
