"""The rounds of the rule fixpoint: each state, any-of and all-of criterion is evaluated once, in
the first round in which what it reads is final (``patients/rounds.py``, ``mkg:evaluationRound``).

Evaluated earlier, a criterion would get a verdict that a later round contradicts (a state not
yet derived reads as unknown, or as the criterion's ``mkg:metWhenUnknown`` verdict); these tests
look at what the rules leave in the working store: one verdict a patient and criterion, and every
criterion evaluated.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyoxigraph as ox
import pytest

from myeloma_kg import load_graph
from myeloma_kg.errors import CriterionCycleError
from myeloma_kg.namespaces import PREFIXES
from myeloma_kg.patients.read import read_file
from myeloma_kg.patients.recommend import Recommender
from myeloma_kg.patients.rounds import criterion_rounds

from .test_set_at_a_time import generated

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "patients"
AS_OF = dt.date.fromisoformat(json.loads((ROOT / "examples" / "expected-outcomes.json").read_text())["asOf"])


def _rows(*edges: tuple[str, str | None, bool]) -> list[dict]:
    return [{"criterion": c, "input": i, "late": late} for c, i, late in edges]


def test_a_criterion_waits_for_what_it_reads():
    rounds = criterion_rounds(_rows(
        ("leaf-state", None, False),
        ("any", "leaf-state", False),          # a state criterion's verdict is there in the same round
        ("any", "quantity", False),            # a leaf criterion (not in the rows itself) is round 0
        ("all", "any", True),                  # a composite's verdict is written late: the next round
        ("on-derived", "all", True),           # a derived state too
        ("outer", "on-derived", False),
        ("outer", "leaf-state", False),
    ))
    assert rounds == {"leaf-state": 0, "any": 0, "quantity": 0, "all": 1, "on-derived": 2, "outer": 2}


def test_a_criterion_that_reads_itself_is_refused_with_the_criteria_named():
    with pytest.raises(CriterionCycleError) as caught:
        criterion_rounds(_rows(("a", "b", True), ("b", "c", False), ("c", "a", True), ("d", "a", False)))
    assert caught.value.criteria == ["a", "b", "c"]
    assert "a, b, c" in str(caught.value) and "myeloma-kg check" in str(caught.value)


def test_the_recommender_refuses_a_graph_whose_criteria_read_themselves(settings):
    kg = load_graph(settings, reason=False, extra=[ROOT / "tests/fixtures/broken/criterion-cycle.ttl"])
    with pytest.raises(CriterionCycleError) as caught:
        Recommender(kg, settings)
    assert any(c.endswith("criterion/cycle-a") for c in caught.value.criteria)


def test_every_shipped_criterion_comes_after_what_it_reads(recommender):
    rows = recommender.kg.select(recommender.q["criterion-inputs"])
    rounds = recommender.criterion_rounds
    assert {r["criterion"] for r in rows} <= set(rounds)
    assert recommender.last_round >= 2  # the shipped criteria nest: a real test of the order
    for row in rows:
        if row.get("input") is not None:
            assert rounds[row["criterion"]] >= rounds.get(row["input"], 0) + bool(row["late"]), row


VERDICTS = """
SELECT ?patient ?criterion (COUNT(DISTINCT ?verdict) AS ?n) WHERE {
  ?patient a mkg:Patient .
  VALUES ?verdict { mkg:meetsCriterion mkg:failsCriterion mkg:criterionUnknown }
  ?patient ?verdict ?criterion .
} GROUP BY ?patient ?criterion
"""


def _verdict_counts(recommender, record) -> dict[str, int]:
    with recommender.derived(record) as patient:
        found = recommender.work.store.query(
            VERDICTS, prefixes=PREFIXES, use_default_graph_as_union=True,
            substitutions={ox.Variable("patient"): patient})
        return {s["criterion"].value: int(s["n"].value) for s in found}


@pytest.fixture(scope="module")
def records(recommender):
    examples = [read_file(path, recommender.vocabulary, as_of=AS_OF) for path in sorted(EXAMPLES.glob("*.json"))]
    records = examples + [recommender.read(text, as_of=AS_OF) for text in generated(23, 60)]
    return [r for r in records if recommender.validate(r).conforms]


def test_each_criterion_gets_one_verdict_and_every_criterion_one(recommender, records):
    assert len(records) > 100
    evaluated = {c for c in recommender.criterion_rounds}
    for record in records:
        counts = _verdict_counts(recommender, record)
        twice = sorted(c for c, n in counts.items() if n > 1)
        assert not twice, f"{record.iri.value}: more than one verdict for {twice}"
        missing = sorted(evaluated - set(counts))
        assert not missing, f"{record.iri.value}: never evaluated: {missing}"
