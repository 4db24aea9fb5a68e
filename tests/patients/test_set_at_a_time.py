"""Recommendations set-at-a-time (``Recommender.recommend_many``) give every record, byte for byte,
the answer ``recommend`` gives it alone: the curated examples, seeded generated records, records
that share a patient IRI, records that do not conform, and records naming nodes of their own.

A rule or output query that read a binding from outside its group (a UNION branch, an OPTIONAL, a
group in braces cannot see one) would read every patient of a chunk; these tests catch it.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pyoxigraph as ox
import pytest

from myeloma_kg.namespaces import PREFIXES
from myeloma_kg.patients.read import read_file
from myeloma_kg.patients.recommend import _own_nodes_only, _run

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "patients"
AS_OF = dt.date.fromisoformat(json.loads((ROOT / "examples" / "expected-outcomes.json").read_text())["asOf"])

REGIMENS = [
    ["bortezomib", "lenalidomide", "dexamethasone"], ["daratumumab", "lenalidomide", "dexamethasone"],
    ["daratumumab", "bortezomib", "dexamethasone"], ["carfilzomib", "dexamethasone"],
    ["isatuximab", "pomalidomide", "dexamethasone"], ["daratumumab", "pomalidomide", "dexamethasone"],
    ["isatuximab", "carfilzomib", "dexamethasone"], ["teclistamab"], ["selinexor", "bortezomib", "dexamethasone"],
    ["elranatamab"], ["idecabtagene vicleucel"], ["lenalidomide"], ["melphalan", "ASCT"], ["an investigational agent"],
]
CYTOGENETICS = ["del(17p)", "t(4;14)", "gain(1q21)", "amp(1q21)", "t(11;14)", "t(14;16)"]
TOXICITIES = ["grade 3 peripheral neuropathy", "painful neuropathy grade 2", "heart failure", "fatigue",
              {"drug": "carfilzomib", "toxicity": "cardiac", "grade": 3}]


def generated(seed: int, count: int) -> list[str]:
    """Varied plain JSON records: one to five lines, refractoriness, toxicities, cytogenetics,
    renal function, frailty, flags; some with a line ongoing."""
    rng = random.Random(seed)
    texts = []
    for n in range(count):
        start = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(0, 1800))
        lines = []
        for number in range(1, rng.randint(1, 5) + 1):
            end = start + dt.timedelta(days=rng.randrange(60, 800))
            line: dict = {"line": number, "drugs": rng.choice(REGIMENS), "start": start.isoformat(),
                          "bestResponse": rng.choice(["CR", "VGPR", "PR", "MR", "SD", "PD"])}
            if end < AS_OF and rng.random() < 0.9:
                line["end"] = end.isoformat()
                if rng.random() < 0.75:
                    line["progressionDate"] = (end - dt.timedelta(days=rng.randrange(0, 40))).isoformat()
                    line["stopReason"] = "progression"
                elif rng.random() < 0.5:
                    line["stopReason"] = "toxicity"
                    if rng.random() < 0.7:
                        line["toxicity"] = rng.choice(TOXICITIES)
            lines.append(line)
            if "end" not in line:
                break
            start = end + dt.timedelta(days=rng.randrange(5, 90))
            if start >= AS_OF:
                break
        record: dict = {"id": f"G{seed}-{n}", "age": rng.randint(40, 90), "ecog": rng.randint(0, 3),
                        "therapyLines": lines}
        if rng.random() < 0.7:
            record["cytogenetics"] = rng.sample(CYTOGENETICS, rng.randint(0, 3))
        if rng.random() < 0.4:
            record["creatinineClearance"] = rng.randint(10, 120)
        if rng.random() < 0.3:
            record["frailty"] = rng.choice(["fit", "intermediate", "frail"])
        for flag in ("extramedullaryDisease", "dialysis", "cardiacHistory", "priorAllogeneicTransplant"):
            if rng.random() < 0.1:
                record[flag] = rng.random() < 0.5
        texts.append(json.dumps(record))
    return texts


def _json(outcome) -> str:
    return json.dumps(outcome.recommendation if outcome.recommendation is not None else outcome.report.as_dict())


def _alone_and_together(recommender, records):
    reports = [recommender.validate(r) for r in records]
    alone = [_json(recommender.recommend(r, rep)) for r, rep in zip(records, reports)]
    together = [_json(o) for o in recommender.recommend_many(records, reports)]
    return alone, together


@pytest.fixture(scope="module")
def examples(recommender):
    return [read_file(path, recommender.vocabulary, as_of=AS_OF) for path in sorted(EXAMPLES.glob("*.json"))]


def test_every_example_gets_its_own_answer_together(recommender, examples):
    assert len(examples) > 50
    assert all(_own_nodes_only(r) for r in examples)  # so they really are derived together
    alone, together = _alone_and_together(recommender, examples)
    assert sum('"recommended"' in a for a in alone) > 40  # most conform: a real comparison
    for path, a, t in zip(sorted(EXAMPLES.glob("*.json")), alone, together):
        assert t == a, path.name


def test_generated_records_get_their_own_answer_together(recommender):
    records = [recommender.read(text, as_of=AS_OF) for text in generated(11, 150)]
    alone, together = _alone_and_together(recommender, records)
    assert len({a for a in alone}) > 100  # varied answers, not one answer 150 times
    assert together == alone


def test_records_sharing_a_patient_iri_are_answered_apart(recommender, examples):
    # the same patient read at three dates (as a cohort audit reads it at each relapse)
    text = (EXAMPLES / "after-teclistamab-progression.json").read_text()
    records = [recommender.read(text, as_of=day) for day in (AS_OF, AS_OF - dt.timedelta(days=400), AS_OF)]
    records += examples[:5]
    assert records[0].iri == records[1].iri
    alone, together = _alone_and_together(recommender, records)
    assert together == alone


def test_a_record_with_nodes_of_its_own_is_answered_alone(recommender, examples):
    turtle = """
    @prefix mkg: <https://w3id.org/myeloma-kg/ontology#> .
    @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
    <https://example.org/p/1> a mkg:Patient ; mkg:asOfDate "2026-11-24"^^xsd:date ;
        mkg:hasTherapyLine <https://example.org/line/1> .
    <https://example.org/line/1> a mkg:TherapyLine ; mkg:lineNumber 1 ; mkg:startDate "2021-01-01"^^xsd:date ;
        mkg:endDate "2022-01-01"^^xsd:date ; mkg:progressionDate "2021-12-20"^^xsd:date .
    """
    own = recommender.read(turtle, content_type="text/turtle", as_of=AS_OF)
    assert not _own_nodes_only(own)
    alone, together = _alone_and_together(recommender, [own, *examples[:4], own])
    assert together == alone


def test_every_rule_derives_for_each_patient_what_it_derives_for_it_alone(recommender, examples):
    """Each rule run once over two dozen records equals the union of its runs per patient, on the
    records and what the rules derived from them (so later rules see their real input)."""
    records = examples[:24]
    store = recommender._fresh_store().store
    graph = ox.NamedNode("https://w3id.org/myeloma-kg/graph/test-chunk")
    triples = [t for r in records for t in r.triples]
    store.extend([ox.Quad(t.subject, t.predicate, t.object, graph) for t in triples])
    options = {"prefixes": PREFIXES, "use_default_graph_as_union": True}
    recommender._fixpoint(store, graph, set(triples), options)
    for rule in recommender.rules:
        together = set(_run(store, rule.text, options))
        alone = set()
        for r in records:
            alone |= set(_run(store, rule.text, dict(options, substitutions={ox.Variable("patient"): r.iri})))
        assert together == alone, rule.name


def test_a_json_lines_batch_answers_each_line_as_recommend_answers_it_alone(recommender, tmp_path):
    """From outside: ``myeloma-kg recommend FILE.jsonl`` (chunks, validation together, rules
    set-at-a-time) against each record alone; lines that do not conform or cannot be read included."""
    from click.testing import CliRunner

    from myeloma_kg.cli.main import main

    texts = [json.dumps(json.loads(p.read_text())) for p in sorted(EXAMPLES.glob("*.json"))]
    texts += generated(21, 140)
    texts.insert(3, json.dumps({"id": "NO-LINES", "age": 70}))  # does not conform
    texts.insert(7, "{not json")  # cannot be read
    path = tmp_path / "cohort.jsonl"
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["recommend", str(path), "--as-of", AS_OF.isoformat(), "--jobs", "1"])
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert len(rows) == len(texts)
    assert "error" in rows[7] and "validation" in rows[3] and not rows[3]["validation"]["conforms"]
    for text, row in zip(texts, rows):
        if "error" in row:
            continue
        outcome = recommender.recommend(recommender.read(text, as_of=AS_OF))
        alone = outcome.recommendation if outcome.recommendation is not None else {"validation": outcome.report.as_dict()}
        row.pop("record")
        assert json.dumps(row) == json.dumps(alone)


def test_answers_do_not_depend_on_what_the_worker_did_before(kg, settings, examples):
    """A worker's store that has taken many records in and out answers each record as a new one
    does (a reason list once followed the engine's order, which such a store may change)."""
    from myeloma_kg.patients.recommend import Recommender

    fresh = Recommender(kg, settings)
    first = [_json(fresh.recommend(r)) for r in examples]
    aged = Recommender(kg, settings)
    for start in range(0, 200, 100):  # two chunks of generated records in and out
        aged.recommend_many([aged.read(text, as_of=AS_OF) for text in generated(31 + start, 100)])
    assert [_json(o) for o in aged.recommend_many(examples)] == first
    assert [_json(aged.recommend(r)) for r in examples] == first


def test_the_output_queries_of_several_rows_a_patient_have_an_order():
    for name in ("partner-refractoriness", "toxicity", "prior-targets"):
        text = (ROOT / "queries" / "patient" / f"{name}.rq").read_text()
        assert "\nORDER BY " in text, name
