"""Rules and output queries marked ``needs:`` are skipped when the patients' graph holds none of the
predicates they name (most records name no toxicity, and the toxicity rules read nothing else).

The claim in each header is checked by what would break it: the answers with the skipping turned
off are the answers with it on, byte for byte, one record at a time and set-at-a-time, for every
example and for generated records with toxicities of every kind.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from myeloma_kg._mkg import MKG
from myeloma_kg.patients.read import read_file
from myeloma_kg.patients.recommend import Recommender

from .test_set_at_a_time import generated

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "patients"
AS_OF = dt.date.fromisoformat(json.loads((ROOT / "examples" / "expected-outcomes.json").read_text())["asOf"])


@pytest.fixture(scope="module")
def unskipped(kg, settings):
    recommender = Recommender(kg, settings)
    recommender.skip_by_needs = False
    return recommender


@pytest.fixture(scope="module")
def records(recommender):
    examples = [read_file(path, recommender.vocabulary, as_of=AS_OF) for path in sorted(EXAMPLES.glob("*.json"))]
    return examples + [recommender.read(text, as_of=AS_OF) for text in generated(41, 100)]


def _answers(recommender, records, together: bool) -> list[str]:
    reports = recommender.validate_many(records)
    if together:
        outcomes = recommender.recommend_many(records, reports)
    else:
        outcomes = [recommender.recommend(record, report) for record, report in zip(records, reports)]
    return [json.dumps(o.recommendation if o.recommendation is not None else o.report.as_dict()) for o in outcomes]


def test_the_headers_name_terms_of_the_ontology(recommender):
    assert {"38-toxicity-facts", "39-toxicity-rules", "toxicity"} <= set(recommender.needs)
    for name, needs in recommender.needs.items():
        for predicate, value in needs:
            for iri in (predicate, value or predicate):
                assert iri.startswith(str(MKG)) and hasattr(MKG, iri[len(str(MKG)):]), (name, iri)


def _with_toxicity(record) -> bool:
    return any(t.predicate.value in (str(MKG.toxicity), str(MKG.hasToxicity)) for t in record.triples)


def test_skipping_changes_no_answer_set_at_a_time(recommender, unskipped, records):
    with_toxicity = [r for r in records if _with_toxicity(r)]
    assert len(with_toxicity) > 20 and len(records) - len(with_toxicity) > 20  # both kinds, in numbers
    assert _answers(recommender, records, True) == _answers(unskipped, records, True)


def test_skipping_changes_no_answer_one_at_a_time(recommender, unskipped, records):
    # what is skipped is skipped for the records without a toxicity; a few with one besides
    chosen = [r for r in records if not _with_toxicity(r)][:40] + [r for r in records if _with_toxicity(r)][:10]
    assert _answers(recommender, chosen, False) == _answers(unskipped, chosen, False)


def test_a_record_without_toxicity_skips_the_toxicity_rules_and_one_with_runs_them(recommender, records):
    plain = next(r for r in records if not any("oxicity" in t.predicate.value or t.object.value.endswith("StopToxicity")
                                               for t in r.triples)
                 and any(t.predicate.value == str(MKG.stopReason) for t in r.triples))  # stopped, not for toxicity
    toxic = next(r for r in records if any(t.predicate.value == str(MKG.hasToxicity) for t in r.triples))
    ran = {}
    for name, record in (("plain", plain), ("toxic", toxic)):
        recommender.stage_times = {}
        try:
            recommender.recommend(record)
            ran[name] = set(recommender.stage_times)
        finally:
            recommender.stage_times = None
    assert "round 0 rule-toxicity-facts" not in ran["plain"] and "query toxicity" not in ran["plain"]
    assert "round 0 rule-toxicity-facts" in ran["toxic"] and "query toxicity" in ran["toxic"]


def test_a_header_entry_is_a_predicate_or_a_predicate_and_its_value():
    from myeloma_kg.errors import QuerySyntaxError
    from myeloma_kg.patients.recommend import _needs

    mkg = str(MKG)
    assert _needs({"needs": "mkg:hasToxicity"}) == {(mkg + "hasToxicity", None)}
    assert _needs({"needs": ["mkg:stopReason mkg:StopToxicity", "<https://example.org/p>"]}) == {
        (mkg + "stopReason", mkg + "StopToxicity"), ("https://example.org/p", None)}
    with pytest.raises(QuerySyntaxError):
        _needs({"needs": ["mkg:a mkg:b mkg:c"]})
