"""The SPARQL service: a query runs in the server only after a sandboxed worker answered it fast."""

from __future__ import annotations

import pytest

from myeloma_kg.errors import SparqlRequestError
from myeloma_kg.sparql.service import Limits, SparqlService

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
    assert service.known_form(CHEAP) is None
    first = service.run(CHEAP, JSON, "text/turtle")
    assert service.known_form(CHEAP) == "SELECT"
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
        assert service.known_form(text) is None


def test_the_dataset_is_part_of_what_is_remembered(service, kg):
    guideline = next(g.value for g in kg.graph_names() if g.value.endswith("/guideline"))
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    whole = service.run(count, JSON, "text/turtle")
    part = service.run(count, JSON, "text/turtle", default_graphs=[guideline])
    assert whole[1] != part[1]
    assert service.run(count, JSON, "text/turtle", default_graphs=[guideline]) == part


@pytest.fixture()
def client(make_app):
    return make_app().test_client()


QUERIES = ["SELECT ?d ?l WHERE { ?d a mkg:Drug ; rdfs:label ?l } ORDER BY ?d ?l",
           "ASK { drug:daratumumab a mkg:AntiCD38Antibody }",
           "CONSTRUCT { drug:daratumumab ?p ?o } WHERE { drug:daratumumab ?p ?o }"]
ACCEPTS = [None, "*/*", "application/sparql-results+json", "text/csv", "text/tab-separated-values",
           "application/sparql-results+xml", "text/turtle", "application/n-triples", "application/ld+json",
           "application/rdf+xml", "text/csv;q=0.5, application/json", "image/png"]


@pytest.mark.parametrize("text", QUERIES)
def test_repeated_queries_get_the_answer_and_headers_the_app_gives(client, text):
    """The first request goes through the app; the second may be answered by the middleware:
    every Accept header gets the same status, body and headers both times."""
    for accept in ACCEPTS:
        headers = {"Accept": accept} if accept else {}
        first = client.get("/sparql", query_string={"query": text}, headers=headers)
        second = client.get("/sparql", query_string={"query": text}, headers=headers)
        assert (first.status_code, first.data) == (second.status_code, second.data), accept
        assert sorted(first.headers.items()) == sorted(second.headers.items()), accept
        if first.status_code == 200:
            assert first.headers["Access-Control-Allow-Origin"] == "*"


def test_the_middleware_leaves_other_requests_to_the_app(client):
    text = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    client.get("/sparql", query_string={"query": text})
    graph = "https://w3id.org/myeloma-kg/graph/guideline"
    with_dataset = client.get("/sparql", query_string={"query": text, "default-graph-uri": graph})
    assert with_dataset.status_code == 200
    assert with_dataset.data != client.get("/sparql", query_string={"query": text}).data
    assert client.get("/sparql", query_string={"query": text, "default-graph-uri": "http://x/"}).status_code == 400
    assert client.get("/sparql", query_string={"query": text, "update": "CLEAR ALL"}).status_code == 400
    assert client.post("/sparql", data={"query": text}).status_code == 200
