"""The SPARQL service: a query runs in the server only after a sandboxed worker answered it fast."""

from __future__ import annotations

import pytest

from myeloma_kg.errors import SparqlRequestError
from myeloma_kg.sparql_service import Limits, SparqlService

JSON = "application/sparql-results+json"
CHEAP = "SELECT ?d WHERE { ?d a mkg:AntiCD38Antibody } ORDER BY ?d"
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


@pytest.fixture(scope="module")
def service(kg):
    graphs = [g.value for g in kg.graph_names()]
    svc = SparqlService(kg.export("nquads", inferred=True), graphs, Limits(timeout_s=1.0, max_rows=100), workers=2)
    yield svc
    svc.close()


def test_a_fast_query_is_answered_in_the_server_the_second_time_alike(service):
    key = (CHEAP, (), ())
    assert service._known_fast(key) is None
    first = service.run(CHEAP, JSON, "text/turtle")
    assert service._known_fast(key) == "SELECT"
    second = service.run(CHEAP, JSON, "text/turtle")
    assert first == second and first[2] >= 2
    csv = service.run(CHEAP, "text/csv", "text/turtle")  # the media type is chosen per request
    assert csv[0] == "text/csv" and csv[1].decode().splitlines()[0] == "d"
    with pytest.raises(SparqlRequestError) as refused:
        service.run(CHEAP, None, "text/turtle")
    assert refused.value.status == 406


def test_refused_slow_and_oversized_queries_are_never_remembered(service):
    for text in (RUNAWAY, "SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }",
                 "SELECT * WHERE { ?s ?p ?o }", "INSERT DATA { <a:b> <a:c> <a:d> }"):
        for _ in range(2):
            with pytest.raises(SparqlRequestError):
                service.run(text, JSON, "text/turtle")
        assert service._known_fast((text, (), ())) is None


def test_the_dataset_is_part_of_what_is_remembered(service, kg):
    guideline = next(g.value for g in kg.graph_names() if g.value.endswith("/guideline"))
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    whole = service.run(count, JSON, "text/turtle")
    part = service.run(count, JSON, "text/turtle", default_graphs=[guideline])
    assert whole[1] != part[1]
    assert service.run(count, JSON, "text/turtle", default_graphs=[guideline]) == part
