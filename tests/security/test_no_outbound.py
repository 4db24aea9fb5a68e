"""No request to any route makes the server open a connection, and no update gets through.

Each case puts the address of a loopback trap into a query, a parameter or a patient record and
then checks two things: the trap saw no connection, and the graph (the app's store and the
endpoint's workers) has as many triples as before.  The answer's status is checked only after.
"""

from __future__ import annotations

import json

import pytest

from myeloma_kg.errors import SparqlRequestError
from myeloma_kg.sparql import service as sparql_service
from myeloma_kg.sparql.guard import check_query

from .conftest import COUNT_ALL

REGIMEN = "<https://w3id.org/myeloma-kg/ontology#Regimen>"

# {T} is replaced by the trap's URL.  Every one of these is a query the endpoint must refuse.
SERVICE_QUERIES = {
    "plain": "SELECT * WHERE { SERVICE <{T}/sparql> { ?s ?p ?o } }",
    "after-hash-iri": "SELECT ?x WHERE { ?r a " + REGIMEN + " SERVICE <{T}/a> { ?x ?b ?c } }",
    "after-hash-iri-dot": "SELECT ?x WHERE { ?r a " + REGIMEN + " . SERVICE <{T}/a> { ?x ?b ?c } }",
    "after-hash-string": 'SELECT ?x WHERE { ?r rdfs:label "a#b" SERVICE <{T}/a> { ?x ?b ?c } }',
    "lowercase": "select * where { service <{T}/> { ?s ?p ?o } }",
    "mixed-case": "SeLeCt * WhErE { SeRvIcE <{T}/> { ?s ?p ?o } }",
    "silent": "SELECT * WHERE { SERVICE SILENT <{T}/> { ?s ?p ?o } }",
    "subquery": "SELECT * WHERE { { SELECT ?s WHERE { SERVICE <{T}/> { ?s ?p ?o } } } }",
    "optional": "SELECT * WHERE { ?d a mkg:Drug OPTIONAL { SERVICE <{T}/> { ?d ?p ?o } } }",
    "exists": "SELECT * WHERE { ?d a mkg:Drug FILTER EXISTS { SERVICE <{T}/> { ?d ?p ?o } } }",
    "not-exists": "SELECT * WHERE { ?d a mkg:Drug FILTER NOT EXISTS { SERVICE SILENT <{T}/> { ?d ?p ?o } } }",
    "exists-in-bind": "SELECT * WHERE { ?d a mkg:Drug BIND(EXISTS { SERVICE <{T}/> { ?d ?p ?o } } AS ?x) }",
    "union": "SELECT * WHERE { { ?d a mkg:Drug } UNION { SERVICE <{T}/> { ?d ?p ?o } } }",
    "minus": "SELECT * WHERE { ?d a mkg:Drug MINUS { SERVICE <{T}/> { ?d ?p ?o } } }",
    "in-graph": "SELECT * WHERE { GRAPH ?g { SERVICE <{T}/> { ?d ?p ?o } } }",
    "variable-endpoint": "SELECT * WHERE { VALUES ?e { <{T}/> } SERVICE ?e { ?s ?p ?o } }",
    "prefixed-endpoint": "PREFIX t: <{T}/> SELECT * WHERE { SERVICE t:sparql { ?s ?p ?o } }",
    "base-relative": "BASE <{T}/> SELECT * WHERE { SERVICE <sparql> { ?s ?p ?o } }",
    "unicode-escape": "SELECT * WHERE { \\u0053ERVICE <{T}/> { ?s ?p ?o } }",
    "comment-then-service": "SELECT * WHERE { ?d a mkg:Drug # a note\n SERVICE <{T}/> { ?d ?p ?o } }",
    "escaped-hash-local": "SELECT * WHERE { ?d a mkg:a\\#b SERVICE <{T}/> { ?d ?p ?o }\n}",
    "long-string": 'SELECT * WHERE { ?d rdfs:label """a\n# b""" SERVICE <{T}/> { ?d ?p ?o } }',
    "ask": "ASK { SERVICE <{T}/> { ?s ?p ?o } }",
    "construct": "CONSTRUCT { ?s ?p ?o } WHERE { SERVICE <{T}/> { ?s ?p ?o } }",
    "construct-where": "CONSTRUCT WHERE { ?s a mkg:Drug } ",  # harmless: must run (checked below)
    "describe": "DESCRIBE ?s WHERE { SERVICE <{T}/> { ?s ?p ?o } }",
    "localhost-name": "SELECT * WHERE { SERVICE <http://localhost:{P}/> { ?s ?p ?o } }",
    "ipv6-loopback": "SELECT * WHERE { SERVICE <http://[::1]:{P}/> { ?s ?p ?o } }",
}
HARMLESS = {"construct-where"}

DATASET_QUERIES = {
    "from": "SELECT * FROM <{T}/g> WHERE { ?s ?p ?o } LIMIT 1",
    "from-named": "SELECT * FROM NAMED <{T}/g> WHERE { GRAPH ?g { ?s ?p ?o } } LIMIT 1",
    "from-prefixed": "PREFIX e: <{T}/> SELECT * FROM e:x WHERE { ?s ?p ?o } LIMIT 1",
    "from-relative": "BASE <{T}/> SELECT * FROM <g> WHERE { ?s ?p ?o } LIMIT 1",
}

UPDATES = {
    "load": "LOAD <{T}/data.ttl>",
    "load-into": "LOAD SILENT <{T}/data.ttl> INTO GRAPH <{T}/g>",
    "insert-data": "INSERT DATA { <{T}/a> <{T}/b> <{T}/c> }",
    "insert-where-service": "INSERT { ?s ?p ?o } WHERE { SERVICE <{T}/> { ?s ?p ?o } }",
    "delete-where": "DELETE WHERE { ?s ?p ?o }",
    "clear": "CLEAR ALL",
    "drop": "DROP SILENT GRAPH <https://w3id.org/myeloma-kg/graph/guideline>",
    "two-operations": "CLEAR DEFAULT ; LOAD <{T}/x>",
    "with-prologue": "PREFIX t: <{T}/>\nINSERT DATA { t:a t:b t:c }",
}


def fill(template: str, trap) -> str:
    return template.replace("{T}", trap.url).replace("{P}", str(trap.port))


def endpoint_count(client) -> int:
    rows = client.get("/sparql", query_string={"query": COUNT_ALL}).json["results"]["bindings"]
    return int(rows[0]["n"]["value"])


@pytest.fixture()
def unchanged(client, kg):
    """Asserts, after the test, that neither the store nor the endpoint's workers changed."""
    before = (len(kg.store), endpoint_count(client))
    yield
    assert (len(kg.store), endpoint_count(client)) == before


@pytest.mark.parametrize("case", sorted(SERVICE_QUERIES))
@pytest.mark.parametrize("method", ["GET", "POST-form", "POST-direct"])
def test_service_never_connects_out(client, trap, unchanged, case, method):
    text = fill(SERVICE_QUERIES[case], trap)
    if method == "GET":
        response = client.get("/sparql", query_string={"query": text})
    elif method == "POST-form":
        response = client.post("/sparql", data={"query": text})
    else:
        response = client.post("/sparql", data=text, content_type="application/sparql-query")
    assert trap.connections() == 0, f"{case}: the server connected to the trap"
    if case in HARMLESS:
        assert response.status_code == 200
    else:
        assert response.status_code == 400
        body = response.get_data(as_text=True)
        assert "SERVICE" in body or "does not parse" in body or "not valid SPARQL" in body


@pytest.mark.parametrize("case", sorted(DATASET_QUERIES))
def test_dataset_clauses_outside_the_store_are_refused_without_a_fetch(client, trap, unchanged, case):
    response = client.get("/sparql", query_string={"query": fill(DATASET_QUERIES[case], trap)})
    assert trap.connections() == 0
    assert response.status_code == 400 and "not in this store" in response.get_data(as_text=True)


@pytest.mark.parametrize("param", ["default-graph-uri", "named-graph-uri"])
def test_dataset_parameters_outside_the_store_are_refused_without_a_fetch(client, trap, unchanged, param):
    response = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 1", param: trap.url + "/g"})
    assert trap.connections() == 0
    assert response.status_code == 400 and "not in this store" in response.get_data(as_text=True)


@pytest.mark.parametrize("case", sorted(UPDATES))
@pytest.mark.parametrize("how", ["query-param", "update-param", "update-body", "query-body"])
def test_updates_never_run(client, trap, unchanged, case, how):
    text = fill(UPDATES[case], trap)
    if how == "query-param":
        response = client.get("/sparql", query_string={"query": text})
    elif how == "update-param":
        response = client.post("/sparql", data={"update": text})
    elif how == "update-body":
        response = client.post("/sparql", data=text, content_type="application/sparql-update")
    else:
        response = client.post("/sparql", data=text, content_type="application/sparql-query")
    assert trap.connections() == 0
    assert response.status_code == 400 and "read-only" in response.get_data(as_text=True)


def test_harmless_iris_of_the_trap_are_only_data(client, trap, unchanged):
    """IRIs that merely name the trap (DESCRIBE, IRI(), VALUES) are never dereferenced."""
    for text in (f"DESCRIBE <{trap.url}/x>",
                 f'SELECT ?x WHERE {{ BIND(IRI("{trap.url}/y") AS ?x) }}',
                 f"SELECT ?x WHERE {{ VALUES ?x {{ <{trap.url}/z> }} ?x ?p ?o }}"):
        assert client.get("/sparql", query_string={"query": text}).status_code == 200
    assert trap.connections() == 0


def test_named_query_parameters_are_never_dereferenced(client, trap, unchanged, catalog):
    iri_queries = [q for q in catalog if any(p.type == "iri" for p in q.params)
                   and not any(p.name == "patient" for p in q.params)]
    assert iri_queries
    for named in iri_queries:
        params = {p.name: f"{trap.url}/{p.name}" for p in named.params if p.type == "iri"}
        response = client.get(f"/api/queries/{named.name}", query_string=params)
        assert response.status_code in (200, 400), named.name
    assert trap.connections() == 0


def test_the_federated_named_query_is_refused_by_the_api(client, trap, unchanged):
    response = client.get("/api/queries/federated-branded-products", query_string={"rxnormEndpoint": trap.url})
    assert trap.connections() == 0
    assert response.status_code == 400 and "SERVICE" in response.json["error"]


RECORD = {"id": "T1", "age": 70, "therapyLines": [
    {"line": 1, "drugs": ["bortezomib", "lenalidomide", "dexamethasone"], "start": "2022-01-01",
     "end": "2023-01-01", "bestResponse": "VGPR", "progressionDate": "2023-01-01", "stopReason": "progression"}]}


def _records(trap):
    ctx = f"{trap.url}/context.jsonld"
    yield "application/ld+json", json.dumps({**RECORD, "@context": ctx})
    yield "application/json", json.dumps({**RECORD, "@context": ctx})
    yield "application/ld+json", json.dumps({**RECORD, "@context": [ctx, {"age": "https://w3id.org/myeloma-kg/ontology#age"}]})
    yield "application/ld+json", json.dumps({"@context": {"@import": ctx}, "@id": "https://w3id.org/myeloma-kg/patient/T1"})
    yield "application/ld+json", json.dumps({"@context": {"mkg": "https://w3id.org/myeloma-kg/ontology#"},
                                             "@id": "https://w3id.org/myeloma-kg/patient/T1", "@type": "mkg:Patient",
                                             "mkg:hasTherapyLine": {"@context": ctx, "mkg:lineNumber": 1}})
    yield "application/ld+json", json.dumps({"@context": {"@vocab": ctx + "#"}, "@id": ctx, "@type": "Patient"})
    yield "text/turtle", (f"@prefix owl: <http://www.w3.org/2002/07/owl#> .\n@base <{trap.url}/> .\n"
                          f"<T1> a <https://w3id.org/myeloma-kg/ontology#Patient> ; owl:imports <{trap.url}/more.ttl> .\n")


@pytest.mark.parametrize("route", ["/api/validate", "/api/recommend"])
def test_patient_records_never_fetch_what_they_name(client, trap, unchanged, route):
    for content_type, body in _records(trap):
        response = client.post(route, data=body, content_type=content_type)
        assert response.status_code in (200, 400, 422), (content_type, body, response.get_data(as_text=True))
        assert "Traceback" not in response.get_data(as_text=True)
    assert trap.connections() == 0


def test_a_remote_json_ld_context_gets_a_clear_refusal(client, trap):
    body = json.dumps({**RECORD, "@context": f"{trap.url}/context.jsonld"})
    response = client.post("/api/recommend", data=body, content_type="application/ld+json")
    assert response.status_code == 400 and "never fetches" in response.json["error"]
    assert trap.connections() == 0


def test_the_patient_page_never_fetches_what_a_record_names(client, trap, unchanged):
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/patient").get_data(as_text=True)).group(1)
    for _content_type, body in _records(trap):
        response = client.post("/patient", data={"csrf_token": token, "record": body, "as_of": "2026-11-24"})
        assert response.status_code in (200, 400, 422)
    assert trap.connections() == 0


def test_pages_and_search_never_fetch(client, trap, unchanged):
    for path in (f"/search?q={trap.url}", f"/drug/{trap.url}", f"/{trap.url}", f"/regimen/x.ttl?u={trap.url}",
                 f"/recommendation/{'a' * 5000}", "/drug/../../etc/passwd", "/static/../../pyproject.toml"):
        response = client.get(path)
        assert response.status_code < 500, path
    assert trap.connections() == 0


def test_the_checker_alone_refuses_every_service_case():
    """The parser check on its own (the first wall) refuses each case, without any network."""
    for case, template in SERVICE_QUERIES.items():
        text = template.replace("{T}", "http://127.0.0.1:9").replace("{P}", "9")
        if case in HARMLESS:
            assert check_query(text).form == "CONSTRUCT"
            continue
        with pytest.raises(SparqlRequestError) as refused:
            check_query(text)
        assert refused.value.status == 400, case


def test_a_query_worker_cannot_open_a_socket_even_if_the_check_were_bypassed(kg, trap, monkeypatch):
    """The second wall: with the parser check switched off, a worker runs SERVICE and cannot connect."""
    import sys

    from myeloma_kg.sparql.guard import CheckedQuery

    if not sys.platform.startswith("linux"):
        pytest.skip("the seccomp filter is Linux only")
    monkeypatch.setattr(sparql_service, "check_query", lambda text, base=None: CheckedQuery(text=text, form="SELECT"))
    graphs = [g.value for g in kg.graph_names()]
    service = sparql_service.SparqlService(b"", graphs, sparql_service.Limits(timeout_s=5), workers=1)
    try:
        text = f"SELECT * WHERE {{ SERVICE <{trap.url}/sparql> {{ ?s ?p ?o }} }}"
        with pytest.raises(SparqlRequestError) as failed:
            service.run(text, "application/sparql-results+json", "text/turtle")
    finally:
        service.close()
    assert trap.connections() == 0
    assert "Permission denied" in str(failed.value)


def test_without_the_filter_the_engine_would_connect(trap):
    """The trap works: the same evaluation in a process without the filter reaches it."""
    import multiprocessing

    import pyoxigraph as ox

    text = f"SELECT * WHERE {{ SERVICE <{trap.url}/sparql> {{ ?s ?p ?o }} }}"

    def run():
        try:
            sparql_service.evaluate(ox.Store(), text, "application/sparql-results+json", sparql_service.Dataset(), 10)
        except Exception:
            pass

    process = multiprocessing.get_context("fork").Process(target=run)
    process.start()
    process.join(5)
    if process.is_alive():
        process.kill()
    assert trap.connections(wait=0.5) == 1
