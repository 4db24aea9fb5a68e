"""The compiled patient shapes give pySHACL's reports, record for record: on every example (valid
and broken), the FHIR and Turtle records, generated records and random broken ones; where they
are not sure, the record goes to pySHACL; shapes they do not cover are refused whole."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import rdflib
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from myeloma_kg.patients.compiled_shapes import _together, compile_shapes, run_checks
from myeloma_kg.patients.read import read_file
from myeloma_kg.patients.records import UnreadableRecord
from myeloma_kg.patients.validate import PatientShapes, data_graph, validate_records

from .test_properties import record as broken_record
from .test_set_at_a_time import generated

ROOT = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2026, 11, 24)


def _pyshacl(recommender, records):
    return [validate_records([r], recommender.vocabulary, recommender.shapes, compiled=False)[0].to_json()
            for r in records]


def _compiled(recommender, records):
    return [report.to_json() for report in validate_records(records, recommender.vocabulary, recommender.shapes)]


def _read_all(recommender, paths):
    records = []
    for path in paths:
        try:
            records.append(read_file(path, recommender.vocabulary, as_of=AS_OF))
        except UnreadableRecord:
            pass
    return records


def test_the_shipped_shapes_compile(recommender):
    assert recommender.shapes.compiled is not None
    assert sum(len(node.properties) for node in recommender.shapes.compiled) > 40
    assert sum(len(node.sparql) for node in recommender.shapes.compiled) == 5


def test_the_shipped_sparql_constraints_run_once_for_a_whole_run(recommender):
    assert all(c.together for node in recommender.shapes.compiled for c in node.sparql)


P = "PREFIX ex: <https://example.org/> "


@pytest.mark.parametrize("select, together", [
    ("SELECT $this ?v WHERE { $this ex:p ?v . FILTER NOT EXISTS { $this ex:q ?w } }", True),
    ("SELECT $this WHERE { { $this ex:p ?v } UNION { ?x ex:q $this } OPTIONAL { $this ex:r ?r } }", True),
    ("SELECT $this WHERE { ?x ex:p ?v . ?v ex:q $this . BIND(STR(?v) AS ?s) } ORDER BY ?s", True),
    # ?this not projected, or not bound by a pattern in every solution
    ("SELECT ?v WHERE { $this ex:p ?v }", False),
    ("SELECT $this WHERE { { $this ex:p ?v } UNION { ?x ex:q ?v } }", False),
    ("SELECT $this WHERE { ?x ex:p ?v OPTIONAL { $this ex:q ?v } }", False),
    ("SELECT $this WHERE { ?x ex:p ?v FILTER(?x = $this) }", False),
    ("SELECT $this WHERE { ?x ex:p ?v MINUS { $this ex:q ?v } }", False),
    # an answer for one focus node that could depend on the others
    ("SELECT $this WHERE { $this ex:p ?v } LIMIT 1", False),
    ("SELECT $this WHERE { $this ex:p ?v { SELECT (COUNT(*) AS ?n) WHERE { ?a ex:p ?b } } }", False),
    ("SELECT $this (COUNT(?v) AS ?n) WHERE { $this ex:p ?v } GROUP BY $this", False),
    ("SELECT $this WHERE { $this ex:p ?v VALUES ?v { 1 2 } }", False),
    ("SELECT $this WHERE { $this ex:p ?v FILTER EXISTS { { SELECT ?v WHERE { ?v ex:q ?w } LIMIT 1 } } }", False),
    ("SELECT $this WHERE { ?x ex:p ?v BIND(?x AS ?this) }", False),
    ("not SPARQL at all", False),
])
def test_a_constraint_runs_once_for_a_whole_run_only_when_that_gives_each_focus_its_rows(select, together):
    assert _together(P + select) is together


@pytest.mark.parametrize("folder", ["examples/patients", "examples/patients/invalid", "examples/fhir",
                                    "tests/fixtures/patients"])
def test_examples_get_pyshacl_s_reports(recommender, folder):
    records = _read_all(recommender, sorted(p for p in (ROOT / folder).iterdir() if p.is_file()))
    assert records
    assert _compiled(recommender, records) == _pyshacl(recommender, records)


def test_the_compiled_checks_answer_the_examples_themselves(recommender):
    """Not a comparison of pySHACL with itself: the checks are sure of nearly every example."""
    records = _read_all(recommender, sorted((ROOT / "examples/patients").glob("*.json"))
                        + sorted((ROOT / "examples/patients/invalid").iterdir()))
    found = run_checks(recommender.shapes.compiled, data_graph(records, recommender.vocabulary),
                       [r.iri.value for r in records])
    sure = [iri for iri, results in found.items() if results is not None]
    assert len(sure) >= 0.9 * len(found)
    assert any(results for results in found.values())  # and they do find violations and warnings


def test_generated_records_get_pyshacl_s_reports(recommender):
    records = [recommender.read(text, as_of=AS_OF) for text in generated(5, 120)]
    assert _compiled(recommender, records) == _pyshacl(recommender, records)


@hsettings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.lists(broken_record, min_size=1, max_size=4))
def test_random_broken_records_get_pyshacl_s_reports(recommender, data):
    records = []
    for number, item in enumerate(data):
        item = dict(item, id=f"H{number}")  # distinct patients, so that they share a run
        try:
            records.append(recommender.read(json.dumps(item), as_of=AS_OF))
        except UnreadableRecord:
            continue
    assert _compiled(recommender, records) == _pyshacl(recommender, records)


@pytest.mark.parametrize("value", ['"07"^^xsd:integer', '"seventy"^^xsd:integer', '"70.0"^^xsd:integer',
                                   '"2024-02-30"^^xsd:date', '"+70"^^xsd:integer', "70.5", '"70"'])
def test_a_value_written_oddly_gets_pyshacl_s_report(recommender, value):
    turtle = f"""
    @prefix mkg: <https://w3id.org/myeloma-kg/ontology#> .
    @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
    <https://w3id.org/myeloma-kg/patient/odd> a mkg:Patient ; mkg:patientId "odd" ; mkg:age {value} ;
        mkg:asOfDate "2026-11-24"^^xsd:date ; mkg:hasTherapyLine <https://w3id.org/myeloma-kg/patient/odd/line/1> .
    <https://w3id.org/myeloma-kg/patient/odd/line/1> a mkg:TherapyLine ; mkg:lineNumber 1 ;
        mkg:startDate "2021-01-01"^^xsd:date ; mkg:endDate "2020-06-01"^^xsd:date .
    """
    record = recommender.read(turtle, content_type="text/turtle", as_of=AS_OF)
    assert _compiled(recommender, [record]) == _pyshacl(recommender, [record])


def test_shapes_beyond_the_checks_are_refused_whole_and_pyshacl_validates(recommender, settings):
    from myeloma_kg.graph.store import load_shapes_graph

    graph = load_shapes_graph(settings.shapes_dir, "patient*.ttl")
    assert compile_shapes(graph) is not None
    sh = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    shape = next(graph.subjects(sh.targetClass, rdflib.URIRef("https://w3id.org/myeloma-kg/ontology#Patient")))
    graph.add((shape, sh.closed, rdflib.Literal(False)))
    assert compile_shapes(graph) is None
    shapes = PatientShapes(graph)
    records = [recommender.read(text, as_of=AS_OF) for text in generated(6, 3)]
    assert [r.to_json() for r in validate_records(records, recommender.vocabulary, shapes)] == \
        _pyshacl(recommender, records)
