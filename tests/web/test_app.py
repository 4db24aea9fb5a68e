"""The web app: SPARQL 1.1 Protocol endpoint, limits and refusals, JSON API; a live server with SPARQLWrapper."""

from __future__ import annotations

import json
import threading
import time

import pytest
import rdflib

from conftest import ROOT

EXAMPLES = ROOT / "examples" / "patients"
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?d a mkg:AntiCD38Antibody }"
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


@pytest.mark.parametrize("accept,mimetype", [
    ("application/sparql-results+json", "application/sparql-results+json"),
    ("application/sparql-results+xml", "application/sparql-results+xml"),
    ("text/csv", "text/csv"),
    ("text/tab-separated-values", "text/tab-separated-values"),
    ("*/*", "application/sparql-results+json"),
])
def test_select_by_get_in_every_result_format(client, accept, mimetype):
    response = client.get("/sparql", query_string={"query": COUNT}, headers={"Accept": accept})
    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert b"3" in response.data or b"4" in response.data


def test_select_by_post_form_and_by_direct_post(client):
    form = client.post("/sparql", data={"query": COUNT})
    direct = client.post("/sparql", data=COUNT, content_type="application/sparql-query")
    assert form.status_code == direct.status_code == 200
    assert form.json == direct.json


@pytest.mark.parametrize("accept,fmt", [
    ("text/turtle", "turtle"), ("application/ld+json", "json-ld"),
    ("application/rdf+xml", "xml"), ("application/n-triples", "nt"),
])
def test_construct_in_every_graph_format(client, accept, fmt):
    query = "CONSTRUCT WHERE { <https://w3id.org/myeloma-kg/drug/daratumumab> ?p ?o }"
    response = client.get("/sparql", query_string={"query": query}, headers={"Accept": accept})
    assert response.status_code == 200 and response.mimetype == accept
    graph = rdflib.Graph().parse(data=response.data, format=fmt)
    assert len(graph) > 10


def test_named_graph_parameters_select_the_dataset(client):
    guideline = "https://w3id.org/myeloma-kg/graph/guideline"
    query = "SELECT (COUNT(*) AS ?n) WHERE { ?r a mkg:AntiCD38Regimen }"
    only = client.get("/sparql", query_string={"query": query, "default-graph-uri": guideline})
    everything = client.get("/sparql", query_string={"query": query})
    n = lambda r: int(r.json["results"]["bindings"][0]["n"]["value"])  # noqa: E731
    assert n(only) == 0 and n(everything) >= 15  # the classification lives in the inferred graph


def test_no_query_gives_the_service_description_with_its_limits(client):
    response = client.get("/sparql")
    assert response.status_code == 200 and response.mimetype == "text/turtle"
    graph = rdflib.Graph().parse(data=response.data, format="turtle")
    text = " ".join(str(o) for o in graph.objects())
    assert "2 seconds" in text and "500 rows" in text


@pytest.mark.parametrize("request_kwargs,status,message", [
    ({"data": {"update": "INSERT DATA { <a:b> <a:c> <a:d> }"}}, 400, "read-only"),
    ({"data": "DROP ALL", "content_type": "application/sparql-update"}, 400, "read-only"),
    ({"data": "INSERT DATA { <a:b> <a:c> <a:d> }", "content_type": "application/sparql-query"}, 400, "read-only"),
    ({"data": {"query": "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }"}}, 400, "SERVICE"),
    ({"data": {"query": "SELECT * FROM <http://example.org/g> WHERE { ?s ?p ?o }"}}, 400, "not in this store"),
    ({"data": {"query": "SELECT * WHERE { ?s ?p }"}}, 400, "does not parse"),
    ({"data": {"query": "SELECT * WHERE { ?s ?p ?o }"}}, 400, "more than 500 rows"),
])
def test_refusals_change_nothing_and_say_why(client, request_kwargs, status, message):
    before = client.get("/sparql", query_string={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"}).json
    response = client.post("/sparql", **request_kwargs)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    after = client.get("/sparql", query_string={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"}).json
    assert before == after


def test_unacceptable_accept_gets_406(client):
    response = client.get("/sparql", query_string={"query": COUNT}, headers={"Accept": "image/png"})
    assert response.status_code == 406


def test_a_runaway_query_is_stopped_while_another_request_is_answered(app):
    results = {}

    def runaway():
        results["runaway"] = app.test_client().get("/sparql", query_string={"query": RUNAWAY})

    thread = threading.Thread(target=runaway)
    started = time.monotonic()
    thread.start()
    time.sleep(0.3)
    quick = app.test_client().get("/sparql", query_string={"query": COUNT})
    quick_seconds = time.monotonic() - started
    thread.join(timeout=30)
    assert quick.status_code == 200 and quick_seconds < 2.0
    assert results["runaway"].status_code == 503
    assert "time limit" in results["runaway"].get_data(as_text=True)
    assert time.monotonic() - started < 6
    again = app.test_client().get("/sparql", query_string={"query": COUNT})
    assert again.status_code == 200  # the killed worker was replaced


def test_request_size_limit(client, app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = client.post("/sparql", data="#" * (limit + 10), content_type="application/sparql-query")
    assert response.status_code == 413


def test_cors_for_reading(client):
    response = client.get("/sparql", query_string={"query": COUNT})
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_named_queries_api_and_openapi(client):
    listing = client.get("/api/queries").json["queries"]
    assert {"regimen-pfs-in-subgroup", "drug-identifiers"} <= {q["name"] for q in listing}
    rows = client.get("/api/queries/regimen-pfs-in-subgroup",
                      query_string={"regimen": "regimen:IsaPd", "subgroup": "risk:Gain1q21"}).json["rows"]
    assert any(r["hazardRatio"] == pytest.approx(0.5) for r in rows)
    bad = client.get("/api/queries/drug-identifiers", query_string={"drug": "not an iri"})
    assert bad.status_code == 400 and "not a valid iri" in bad.json["error"]
    assert client.get("/api/queries/nope").status_code == 404
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert "/api/queries/regimen-pfs-in-subgroup" in spec["paths"] and "/api/recommend" in spec["paths"]


def test_patient_api(client):
    good = (EXAMPLES / "dara-refractory-recent.json").read_text()
    response = client.post("/api/recommend", data=good, content_type="application/json")
    assert response.status_code == 200
    assert response.json["derived"]["antiCD38Status"] == "refractory"
    bad = (EXAMPLES / "invalid" / "age-130.json").read_text()
    refused = client.post("/api/recommend", data=bad, content_type="application/json")
    assert refused.status_code == 422 and refused.json["violations"]
    report = client.post("/api/validate", data=bad, content_type="application/json")
    assert report.status_code == 200 and report.json["conforms"] is False
    garbage = client.post("/api/recommend", data="{not json", content_type="application/json")
    assert garbage.status_code == 400 and "not valid JSON" in garbage.json["error"]
    assert client.get("/context.jsonld").json["@context"]["age"]["@id"] == "mkg:age"


@pytest.mark.parametrize("fmt", ["json", "xml", "csv", "tsv"])
def test_sparqlwrapper_select_against_a_live_server(live_server, fmt):
    from SPARQLWrapper import SPARQLWrapper

    client = SPARQLWrapper(live_server + "/sparql")
    client.setQuery("PREFIX mkg: <https://w3id.org/myeloma-kg/ontology#>\n" + COUNT)
    client.setReturnFormat(fmt)
    result = client.query().convert()
    text = json.dumps(result) if isinstance(result, dict) else (result.toxml() if hasattr(result, "toxml") else result.decode())
    assert "4" in text or "3" in text


@pytest.mark.parametrize("fmt,parse", [("turtle", "turtle"), ("json-ld", "json-ld"), ("xml", "xml"), ("n3", "turtle")])
def test_sparqlwrapper_construct_against_a_live_server(live_server, fmt, parse):
    from SPARQLWrapper import SPARQLWrapper

    client = SPARQLWrapper(live_server + "/sparql")
    client.setQuery("CONSTRUCT WHERE { <https://w3id.org/myeloma-kg/regimen/DPd> ?p ?o }")
    client.setReturnFormat(fmt)
    result = client.query().convert()
    graph = result if isinstance(result, rdflib.Graph) else rdflib.Graph().parse(data=result, format=parse)
    assert len(graph) > 5


def test_home_page_lists_the_recommendations(client):
    response = client.get("/")
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "R1:" in text and "R18:" in text and "reconstructed" in text


@pytest.mark.parametrize("path", ["/drug/daratumumab", "/regimen/DPd", "/trial/NCT03180736", "/recommendation/R15",
                                  "/outcome/ikema-pfs-1q21plus-final", "/risk/Gain1q21"])
def test_every_iri_dereferences_as_a_page(client, path):
    response = client.get(path, headers={"Accept": "text/html"})
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "https://w3id.org/myeloma-kg" + path in response.get_data(as_text=True)


@pytest.mark.parametrize("accept,ext,fmt", [
    ("text/turtle", "ttl", "turtle"), ("application/ld+json", "jsonld", "json-ld"),
    ("application/rdf+xml", "rdf", "xml"), ("application/n-triples", "nt", "nt"),
])
def test_iris_dereference_as_rdf_by_accept_and_by_extension(client, accept, ext, fmt):
    by_accept = client.get("/regimen/IsaKd", headers={"Accept": accept})
    by_ext = client.get(f"/regimen/IsaKd.{ext}")
    for response in (by_accept, by_ext):
        assert response.status_code == 200 and response.mimetype == accept
        graph = rdflib.Graph().parse(data=response.data, format=fmt)
        assert (rdflib.URIRef("https://w3id.org/myeloma-kg/regimen/IsaKd"), None, None) in graph


def test_pages_escape_what_they_show_and_send_security_headers(client):
    response = client.get("/drug/daratumumab")
    assert "<script" not in response.get_data(as_text=True)
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/drug/no-such-drug").status_code == 404


@pytest.mark.parametrize("q,expected", [("DPd", "/regimen/DPd"), ("Darzalex", "/drug/daratumumab"),
                                         ("APOLLO", "/trial/NCT03180736"), ("1q21", "/risk/Gain1q21")])
def test_search_by_label_and_abbreviation(client, q, expected):
    response = client.get("/search", query_string={"q": q})
    assert response.status_code == 200
    assert f'href="{expected}"' in response.get_data(as_text=True)


def test_search_escapes_the_query(client):
    text = client.get("/search", query_string={"q": "<script>alert(1)</script>"}).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;" in text


@pytest.mark.parametrize("ext,fmt", [("ttl", "turtle"), ("nt", "nt"), ("jsonld", "json-ld"), ("rdf", "xml")])
def test_the_whole_graph_downloads_in_each_format(client, ext, fmt):
    response = client.get(f"/download/myeloma-kg.{ext}")
    assert response.status_code == 200
    assert len(rdflib.Graph().parse(data=response.data, format=fmt)) > 13000


def test_forest_plot_of_a_recommendation_and_a_regimen(client):
    import xml.etree.ElementTree as ET

    svg = client.get("/recommendation/R8/forest.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    text = svg.get_data(as_text=True)
    ET.fromstring(text)  # well-formed SVG
    assert "gain(1q21)" in text and "0.50 (0.28-0.88)" in text
    regimen = client.get("/regimen/IsaKd/forest.svg").get_data(as_text=True)
    assert "0.58 (0.37-0.92)" in regimen and "99% CI" in regimen
    assert 'src="/recommendation/R8/forest.svg"' in client.get("/recommendation/R8").get_data(as_text=True)
    assert client.get("/regimen/NoSuchRegimen/forest.svg").status_code == 404


def test_query_editor_page_serves_yasgui_locally_with_the_named_queries(client):
    import re as _re

    response = client.get("/query")
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '/static/vendor/yasgui/yasgui.min.js' in text and "cdn" not in text.lower()
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    payload = json.loads(_re.search(r'id="query-data">(.*?)</script>', text, _re.S).group(1))
    assert "regimen-pfs-in-subgroup" in payload["queries"] and payload["prefixes"]["mkg"].endswith("ontology#")
    for name, query in payload["queries"].items():  # every example runs as written in the editor
        assert client.post("/sparql", data={"query": query}).status_code == 200, name
    assert client.get("/static/vendor/yasgui/yasgui.min.js").status_code == 200
    assert "MIT" in client.get("/static/vendor/yasgui/LICENSE.txt").get_data(as_text=True)


def _csrf(client):
    import re as _re

    page = client.get("/patient").get_data(as_text=True)
    return _re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_patient_page_recommends_with_reasons(client):
    token = _csrf(client)
    record = (EXAMPLES / "dara-refractory-long-ago.json").read_text()
    response = client.post("/patient", data={"csrf_token": token, "record": record, "as_of": "2026-11-24"})
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Recommended" in text and "rechallenge" in text and "Not recommended" in text


def test_patient_page_shows_the_report_for_a_bad_record_and_needs_its_token(client):
    token = _csrf(client)
    record = (EXAMPLES / "invalid" / "end-before-start.json").read_text()
    response = client.post("/patient", data={"csrf_token": token, "record": record, "as_of": "2026-11-24"})
    assert response.status_code == 422 and "is before the start date" in response.get_data(as_text=True)
    forged = client.post("/patient", data={"csrf_token": "forged", "record": record})
    assert forged.status_code == 400 and "expired" in forged.get_data(as_text=True)
    garbage = client.post("/patient", data={"csrf_token": token, "record": "<script>alert(1)</script>"})
    assert garbage.status_code == 400 and "<script>alert(1)</script>" not in garbage.get_data(as_text=True)


def test_ontology_is_documented_on_a_page_and_downloadable(client):
    page = client.get("/ontology", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "mkg:AntiCD38Regimen" in page and "mkg:hasComponent" in page and "mkg:EndpointScheme" in page
    turtle = client.get("/ontology", headers={"Accept": "text/turtle"})
    assert turtle.mimetype == "text/turtle"
    assert len(rdflib.Graph().parse(data=turtle.data, format="turtle")) > 2000


def test_trial_and_drug_pages_show_outcomes_and_identifiers(client):
    trial = client.get("/trial/NCT03275285").get_data(as_text=True)
    assert "Reported outcomes" in trial and "0.58" in trial
    drug = client.get("/drug/isatuximab").get_data(as_text=True)
    assert 'href="http://purl.obolibrary.org/obo/NCIT_C90578"' in drug  # an unverified identifier has its badge
    assert '<a class="badge status-unverified" href="/about/evidence-status#unverified"' in drug


def test_regimen_page_shows_its_dosing(client):
    text = client.get("/regimen/DaraSCMono").get_data(as_text=True)
    assert "Dosing" in text and "1800" in text and "every 2 weeks" in text


def test_the_api_never_runs_a_federated_query(client):
    response = client.get("/api/queries/federated-branded-products",
                          query_string={"rxnormEndpoint": "http://127.0.0.1:9/query"})
    assert response.status_code == 400 and "SERVICE" in response.json["error"]


def test_recommendation_page_reads_like_a_recommendation(client):
    text = client.get("/recommendation/R3").get_data(as_text=True)
    assert "Applies when" in text and "Evidence" in text and "Cautions" in text
    assert "lenalidomide-refractory" in text and "CASTOR" in text and "0.44" in text


# -- the as-of date and strict records ---------------------------------------------------------

WASHOUT = EXAMPLES / "dara-refractory-washout-boundary.json"


def test_the_api_reads_the_record_s_as_of_date_and_a_parameter_wins(client):
    body = WASHOUT.read_text()
    own = client.post("/api/recommend", data=body, content_type="application/json").get_json()
    assert own["asOf"] == "2026-11-24" and len(own["recommended"]) == 5  # the documented answer, whatever today is
    later = client.post("/api/recommend?asOf=2026-12-07", data=body, content_type="application/json").get_json()
    assert later["asOf"] == "2026-12-07" and len(later["recommended"]) == 8
    checked = client.post("/api/validate?asOf=2026-12-01", data=body, content_type="application/json").get_json()
    assert checked["asOf"] == "2026-12-01" and checked["conforms"]
    for wrong in ("24/11/2026", "2026-02-30", ""):
        refused = client.post(f"/api/recommend?asOf={wrong}", data=body, content_type="application/json")
        assert refused.status_code == 400 and "YYYY-MM-DD" in refused.get_json()["error"]


def test_an_unknown_key_is_a_warning_and_with_strict_a_refusal(client):
    record = json.loads(WASHOUT.read_text())
    record["ECOG"] = 4
    body = json.dumps(record)
    answer = client.post("/api/recommend", data=body, content_type="application/json")
    assert answer.status_code == 200
    assert any("'ECOG' is not a key the program reads" in w for w in answer.get_json()["warnings"])
    strict = client.post("/api/recommend?strict=true", data=body, content_type="application/json")
    assert strict.status_code == 422 and "'ECOG'" in strict.get_json()["error"]
    assert client.post("/api/validate?strict=true", data=body, content_type="application/json").status_code == 422
    clean = client.post("/api/recommend?strict=true", data=WASHOUT.read_text(), content_type="application/json")
    assert clean.status_code == 200
    assert client.post("/api/recommend?strict=yes", data=body, content_type="application/json").status_code == 400
