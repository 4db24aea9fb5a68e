"""The endpoint against the SPARQL 1.1 Protocol and Query: the dataset of a query, relative IRIs,
one query per request, Accept with parameters, Allow on 405, errors in words, and the memory
the endpoint keeps about query texts.

Each dataset and base case is asked twice: the first answer comes from a query worker, the
second, when the query was fast enough to be remembered, from the server's fast path (checked: no
worker is asked), and both must be right.  A service that remembers every query checks the fast
path on each dataset case for certain.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from types import SimpleNamespace

import pyoxigraph as ox
import pytest

from myeloma_kg.sparql import guard
from myeloma_kg.sparql.memo import MAX_TEXT
from myeloma_kg.sparql.service import Limits, SparqlService, _fast_key
from myeloma_kg.web.sparql import endpoint_iri, negotiate

GRAPH = "https://w3id.org/myeloma-kg/graph/"
INFERRED, GUIDELINE, ONTOLOGY = GRAPH + "inferred", GRAPH + "guideline", GRAPH + "ontology"
JSON = "application/sparql-results+json"
BASE = "http://localhost/sparql"  # the URL of /sparql for the test client


@pytest.fixture()
def service(app):
    return app.extensions["sparql"]


def _rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [{k: v["value"] for k, v in row.items()} for row in response.json["results"]["bindings"]]


def _twice(client, service, monkeypatch, params: dict, **kwargs):
    """The answer from a worker, then the same request again: from the fast path (no worker asked)
    if the query ran fast enough to be remembered."""
    first = client.get("/sparql", query_string=params, **kwargs)
    assert first.status_code == 200, first.get_data(as_text=True)
    base = kwargs.get("base_url", "http://localhost/").rstrip("/") + "/sparql"
    key = _fast_key(params["query"], base, tuple(_list(params.get("default-graph-uri"))),
                    tuple(_list(params.get("named-graph-uri"))))
    with monkeypatch.context() as patch:
        if service._fast.get(key) is not None:
            patch.setattr(service, "_run_on", _no_worker)
        second = client.get("/sparql", query_string=params, **kwargs)
    assert (second.status_code, second.data) == (first.status_code, first.data)
    return first


def _list(value) -> list:
    return [] if value is None else [value] if isinstance(value, str) else list(value)


def _no_worker(*_args, **_kwargs):
    raise AssertionError("a worker was asked: the fast path did not answer")


def _count(response) -> int:
    return int(_rows(response)[0]["n"])


# -- the dataset ---------------------------------------------------------------------------

def test_from_makes_the_default_graph(client, service, kg, monkeypatch):
    text = f"SELECT (COUNT(*) AS ?n) FROM <{INFERRED}> WHERE {{ ?s ?p ?o }}"
    assert _count(_twice(client, service, monkeypatch, {"query": text})) == kg.count(ox.NamedNode(INFERRED))
    two = f"SELECT (COUNT(*) AS ?n) FROM <{INFERRED}> FROM <{ONTOLOGY}> WHERE {{ ?s ?p ?o }}"
    merged = len({q.triple for g in (INFERRED, ONTOLOGY) for q in kg.store.quads_for_pattern(None, None, None,
                                                                                             ox.NamedNode(g))})
    assert _count(_twice(client, service, monkeypatch, {"query": two})) == merged


def test_from_alone_gives_no_named_graphs_and_from_named_alone_an_empty_default_graph(client, service, monkeypatch):
    graphs = f"SELECT DISTINCT ?g FROM <{INFERRED}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"
    assert _rows(_twice(client, service, monkeypatch, {"query": graphs})) == []
    named = f"SELECT DISTINCT ?g FROM NAMED <{GUIDELINE}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"
    assert _rows(_twice(client, service, monkeypatch, {"query": named})) == [{"g": GUIDELINE}]
    empty = f"SELECT (COUNT(*) AS ?n) FROM NAMED <{GUIDELINE}> WHERE {{ ?s ?p ?o }}"
    assert _count(_twice(client, service, monkeypatch, {"query": empty})) == 0


def test_a_default_graph_parameter_leaves_no_named_graphs(client, service, kg, monkeypatch):
    graphs = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } } # parameter"
    assert _rows(_twice(client, service, monkeypatch, {"query": graphs, "default-graph-uri": INFERRED})) == []
    named = _rows(_twice(client, service, monkeypatch, {"query": graphs, "named-graph-uri": ONTOLOGY}))
    assert named == [{"g": ONTOLOGY}]
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o } # parameter"
    assert _count(_twice(client, service, monkeypatch, {"query": count, "named-graph-uri": ONTOLOGY})) == 0


def test_the_parameters_override_the_query_dataset(client, service, kg, monkeypatch):
    text = f"SELECT (COUNT(*) AS ?n) FROM <{INFERRED}> WHERE {{ ?s ?p ?o }} # overridden"
    answer = _twice(client, service, monkeypatch, {"query": text, "default-graph-uri": GUIDELINE})
    assert _count(answer) == kg.count(ox.NamedNode(GUIDELINE))
    named = f"SELECT DISTINCT ?g FROM NAMED <{INFERRED}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"
    assert _rows(_twice(client, service, monkeypatch, {"query": named, "named-graph-uri": ONTOLOGY})) == [
        {"g": ONTOLOGY}]


def test_without_a_dataset_the_default_graph_is_the_union_and_every_graph_is_named(client, service, kg,
                                                                                     monkeypatch):
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o } # union"
    assert _count(_twice(client, service, monkeypatch, {"query": count})) == kg.count()
    graphs = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } } ORDER BY ?g"
    assert [r["g"] for r in _rows(_twice(client, service, monkeypatch, {"query": graphs}))] == sorted(
        g.value for g in kg.graph_names(inferred=True))


def test_the_fast_path_runs_on_the_same_dataset(remember_all, kg, monkeypatch):
    counts = {g: kg.count(ox.NamedNode(g)) for g in (INFERRED, ONTOLOGY, GUIDELINE)}
    count = "SELECT (COUNT(*) AS ?n) {from} WHERE {{ ?s ?p ?o }}"
    graphs = "SELECT ?g {from} WHERE {{ GRAPH ?g {{ }} }} ORDER BY ?g"
    cases = [  # (query, default-graph-uri, named-graph-uri, rows)
        (count.format(**{"from": f"FROM <{INFERRED}>"}), (), (), [{"n": str(counts[INFERRED])}]),
        (count.format(**{"from": f"FROM NAMED <{INFERRED}>"}), (), (), [{"n": "0"}]),
        (count.format(**{"from": f"FROM <{INFERRED}>"}), (ONTOLOGY,), (), [{"n": str(counts[ONTOLOGY])}]),
        (count.format(**{"from": ""}), (), (GUIDELINE,), [{"n": "0"}]),
        (graphs.format(**{"from": f"FROM <{INFERRED}>"}), (), (), []),
        (graphs.format(**{"from": ""}), (INFERRED,), (), []),
        (graphs.format(**{"from": ""}), (), (ONTOLOGY, INFERRED), [{"g": INFERRED}, {"g": ONTOLOGY}]),
        (graphs.format(**{"from": f"FROM NAMED <{GUIDELINE}>"}), (), (), [{"g": GUIDELINE}]),
        (graphs.format(**{"from": ""}), (), (), [{"g": g.value} for g in sorted(kg.graph_names(inferred=True),
                                                                             key=lambda n: n.value)]),
    ]
    for text, default, named, expected in cases:
        first = remember_all.run(text, JSON, "text/turtle", default, named, base=BASE)
        assert remember_all._fast.get(_fast_key(text, BASE, default, named)) is not None, text
        with monkeypatch.context() as patch:
            patch.setattr(remember_all, "_run_on", _no_worker)
            second = remember_all.run(text, JSON, "text/turtle", default, named, base=BASE)
        assert second[:2] == first[:2], text
        rows = [{k: v["value"] for k, v in row.items()} for row in json.loads(second[1])["results"]["bindings"]]
        assert rows == expected, (text, default, named)


# -- relative IRIs -------------------------------------------------------------------------

def test_relative_iris_are_resolved_against_the_endpoint(client, service, monkeypatch):
    answer = _twice(client, service, monkeypatch, {"query": "CONSTRUCT { <s> <p> 1 } WHERE {}"},
                    headers={"Accept": "application/n-triples"})
    assert answer.data.decode().split() == ["<http://localhost/s>", "<http://localhost/p>",
                                            '"1"^^<http://www.w3.org/2001/XMLSchema#integer>', "."]
    own = _twice(client, service, monkeypatch, {"query": "BASE <data/> SELECT ?x WHERE { BIND(<x> AS ?x) }"})
    assert _rows(own) == [{"x": "http://localhost/data/x"}]


def test_relative_graph_iris_name_the_store_graphs_under_the_public_url(client, service, kg, monkeypatch):
    # served below https://w3id.org/myeloma-kg/, the endpoint is .../sparql and <graph/inferred> is a graph of it
    text = "SELECT (COUNT(*) AS ?n) FROM <graph/inferred> WHERE { ?s ?p ?o }"
    answer = _twice(client, service, monkeypatch, {"query": text}, base_url="https://w3id.org/myeloma-kg/")
    assert _count(answer) == kg.count(ox.NamedNode(INFERRED))
    elsewhere = client.get("/sparql", query_string={"query": text})  # http://localhost/graph/inferred
    assert elsewhere.status_code == 400 and "not in this store" in elsewhere.get_data(as_text=True)


def test_the_base_is_the_public_url_when_the_settings_give_one():
    environ = {"wsgi.url_scheme": "http", "HTTP_HOST": "10.0.0.5:8080", "SCRIPT_NAME": "", "PATH_INFO": "/sparql",
               "SERVER_NAME": "10.0.0.5", "SERVER_PORT": "8080"}
    assert endpoint_iri(environ, SimpleNamespace()) == "http://10.0.0.5:8080/sparql"
    assert endpoint_iri(environ, SimpleNamespace(public_url="https://kg.example.org/")) == \
        "https://kg.example.org/sparql"
    assert endpoint_iri(environ, SimpleNamespace(public_url="https://kg example.org")) is None  # not an IRI


def test_the_guard_resolves_base_declarations_as_rfc_3986_says():
    checked = guard.check_query("BASE <a/> PREFIX g: <graph/> SELECT * FROM <../x> FROM NAMED g:y WHERE {}",
                                "http://example.org/kg/sparql")
    assert checked.from_graphs == ("http://example.org/kg/x",)
    assert checked.from_named == ("http://example.org/kg/a/graph/y",)
    examples = {"g": "http://a/b/c/g", "../g": "http://a/b/g", "../../../g": "http://a/g", "?y": "http://a/b/c/d;p?y",
                "g;x=1/../y": "http://a/b/c/y", "//g": "http://g", "#s": "http://a/b/c/d;p?q#s", "": "http://a/b/c/d;p?q"}
    for reference, expected in examples.items():  # RFC 3986, 5.4
        assert guard.resolve_iri("http://a/b/c/d;p?q", reference) == expected


# -- requests ------------------------------------------------------------------------------

def test_two_queries_in_one_request_are_refused(client):
    response = client.get("/sparql?query=ASK%20%7B%7D&query=SELECT%20*%20%7B%7D")
    assert response.status_code == 400 and "2 queries" in response.get_data(as_text=True)
    both = client.post("/sparql?query=ASK%20%7B%7D", data="ASK {}", content_type="application/sparql-query")
    assert both.status_code == 400
    form = client.post("/sparql", data="query=ASK%20%7B%7D&query=ASK%20%7B%7D",
                       content_type="application/x-www-form-urlencoded")
    assert form.status_code == 400


@pytest.mark.parametrize("accept,form,expected", [
    ("application/sparql-results+json;charset=utf-8", "SELECT", "application/sparql-results+json"),
    ("application/sparql-results+json; charset=UTF-8", "ASK", "application/sparql-results+json"),
    ("text/csv; charset=utf-8; q=0.8, application/sparql-results+xml; q=0.5", "SELECT", "text/csv"),
    ("text/turtle; q=0.9", "CONSTRUCT", "text/turtle"),
    ("application/n-triples; q=0.9, text/turtle; q=0.4", "CONSTRUCT", "application/n-triples"),
    ("application/rdf+xml;q=0.2, */*;q=0.1", "DESCRIBE", "application/rdf+xml"),
    ("text/*;q=0.5, application/json;q=0.4", "SELECT", "text/csv"),
    ("*/*;q=0.5, application/sparql-results+xml", "SELECT", "application/sparql-results+xml"),
    ("*/*", "CONSTRUCT", "text/turtle"),
    ("text/csv;charset=latin-1", "SELECT", None),  # answers are UTF-8 only
    ("text/turtle;q=0, */*", "CONSTRUCT", "application/ld+json"),
    ("image/png", "SELECT", None),
])
def test_accept_parameters_are_honoured(accept, form, expected):
    assert negotiate(accept, form) == expected


@pytest.mark.parametrize("query,accept,media", [
    ("SELECT ?x WHERE { BIND(1 AS ?x) }", "application/sparql-results+json;charset=utf-8", JSON),
    ("CONSTRUCT WHERE { drug:daratumumab a ?t }", "text/turtle; q=0.9", "text/turtle"),
    ("CONSTRUCT WHERE { drug:daratumumab a ?t }", "application/n-triples;charset=utf-8", "application/n-triples"),
])
def test_accept_with_parameters_is_answered_alike_by_the_app_and_the_fast_path(client, service, monkeypatch,
                                                                               query, accept, media):
    answer = _twice(client, service, monkeypatch, {"query": query}, headers={"Accept": accept})
    assert answer.mimetype == media


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_every_405_says_which_methods_are_allowed(client, method):
    response = client.open("/sparql?query=ASK%20%7B%7D", method=method)
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["Allow"].split(",")} >= {"GET", "POST"}
    elsewhere = client.open("/", method=method)
    assert elsewhere.status_code == 405 and "GET" in elsewhere.headers["Allow"]


def test_a_query_body_in_another_charset_or_type_is_refused(client):
    utf16 = client.post("/sparql", data="ASK {}".encode("utf-16"),
                        content_type="application/sparql-query; charset=UTF-16")
    assert utf16.status_code == 415 and "UTF-8" in utf16.get_data(as_text=True)
    assert client.post("/sparql", data=b"ASK {\xff}", content_type="application/sparql-query").status_code == 400
    plain = client.post("/sparql", data="ASK {}", content_type="text/plain")
    assert plain.status_code == 415 and "application/sparql-query" in plain.get_data(as_text=True)


# -- errors in words -----------------------------------------------------------------------

CLASS_NAME = re.compile(r"\b(?:[A-Z][A-Za-z]*(?:Error|Exception)|QueryBadFormed|ParseException|CompValue|"
                        r"pyoxigraph|pyparsing|rdflib)\b")


@pytest.mark.parametrize("query,where", [
    ("SELEC x", "line 1, column 1"),
    ("SELECT * WHERE { ?s ?p }", "line 1, column 18"),
    ("SELECT ?x WHERE { BIND(1 AS ?x) BIND(2 AS ?x) }", "line 1, column"),
    ("SELECT ?x WHERE { VALUES ?x { 1 } } GROUP BY ?y", "line 1, column 48"),
    ("SELECT * WHERE { ?s ?p ?o } LIMIT 99999999999999999999999", "line 1, column"),
    ('ASK { FILTER("a"@en-x-y-z-zzzzzzzzzzzzzzzz) }', "line 1, column"),
    ("SELECT * WHERE { ?s foo:bar ?o }", "foo"),
])
def test_errors_say_what_is_wrong_without_exception_names(client, query, where):
    response = client.get("/sparql", query_string={"query": query})
    body = response.get_data(as_text=True)
    assert response.status_code == 400, body
    assert not CLASS_NAME.search(body), body
    assert where in body


def test_engine_errors_keep_the_position_and_the_engine_reason():
    from myeloma_kg.sparql.service import engine_refusal

    message = engine_refusal("error at 1:48: expected one of \"$\", \"(\", The SELECT contains a variable that is "
                             "unbound, ['0' ..= '9' | '\\u{00B7}'], [_]")
    assert message == ("the query engine cannot read the query at line 1, column 48: the SELECT contains a "
                       "variable that is unbound")
    assert engine_refusal("error at 2:3: expected WHERE").endswith("line 2, column 3: it expected WHERE there")


# -- memory --------------------------------------------------------------------------------

def retained(obj, seen=None) -> int:
    """The bytes an object holds, counting what it refers to (strings, tuples, dataclasses, ...) once."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(retained(k, seen) + retained(v, seen) for k, v in obj.items())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        size += sum(retained(item, seen) for item in obj)
    elif dataclasses.is_dataclass(obj):
        size += sum(retained(getattr(obj, f.name), seen) for f in dataclasses.fields(obj))
    return size


def _large(i: int, size: int) -> str:
    return f"ASK {{ }} # {i}\n#" + "x" * size + "\n"


@pytest.fixture(scope="module")
def remember_all(kg):
    """A service that remembers every query it answers as fast."""
    graphs = [g.value for g in kg.graph_names(inferred=True)]
    svc = SparqlService(kg.export("nquads", inferred=True), graphs, Limits(timeout_s=10.0, fast_s=60.0), workers=1)
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def small_service(kg):
    graphs = [g.value for g in kg.graph_names(inferred=True)]
    svc = SparqlService(kg.export("nquads", inferred=True), graphs, Limits(timeout_s=10.0, max_rows=100), workers=1)
    yield svc
    svc.close()


def test_large_query_texts_leave_nothing_behind(small_service, monkeypatch):
    cheap = "SELECT ?d WHERE { ?d a mkg:AntiCD38Antibody } ORDER BY ?d # remembered"
    first = small_service.run(cheap, JSON, "text/turtle")
    assert small_service.known_form(cheap) == "SELECT"
    texts = 40
    for i in range(texts):  # 40 distinct texts of 900 KB: 36 MB the caches must not keep
        media, body, _, _ = small_service.run(_large(i, 900_000), JSON, "text/turtle")
        assert body == b'{"head":{},"boolean":true}'
    kept = retained(small_service._fast.items())
    assert kept < 64 * 1024, kept
    remembered = small_service.known_form(_large(0, 900_000)) is not None
    assert not remembered, "a 900 KB text was remembered"
    with monkeypatch.context() as patch:  # the query remembered before is still answered here
        patch.setattr(small_service, "_run_on", _no_worker)
        assert small_service.run(cheap, JSON, "text/turtle") == first


def test_the_fast_table_is_bounded_in_entries_and_keeps_no_text(small_service, monkeypatch):
    monkeypatch.setattr(small_service._fast, "max_entries", 30)
    texts = [f"SELECT ?x WHERE {{ BIND({i} AS ?x) }} #" + "y" * 30_000 for i in range(45)]  # under MAX_TEXT
    for text in texts:
        small_service.run(text, JSON, "text/turtle")
    assert len(small_service._fast) == 30
    assert small_service.known_form(texts[-1]) == "SELECT" and small_service.known_form(texts[0]) is None
    kept = retained(small_service._fast.items())
    assert kept < 30 * 2048, kept  # 45 texts of 30 KB went through; none is kept


def test_the_guard_remembers_checks_by_digest_and_never_long_texts():
    guard._CHECKED.clear()
    for i in range(60):
        guard.check_query(_large(i, MAX_TEXT + 10))
    assert len(guard._CHECKED) == 0
    for i in range(1100):  # more than the memo holds
        guard.check_query(f"SELECT * FROM <{GRAPH}g{i}> WHERE {{ ?s ?p ?o }} #" + "z" * 2000)
    assert len(guard._CHECKED) == guard._CHECKED.max_entries
    kept = retained(guard._CHECKED.items())
    assert kept < guard._CHECKED.max_entries * 1024, kept  # 2 KB texts, each check kept in well under 1 KB
    assert all(isinstance(key, bytes) and len(key) == 32 for key, _ in guard._CHECKED.items())
    again = guard.check_query(f"SELECT * FROM <{GRAPH}g1099> WHERE {{ ?s ?p ?o }} #" + "z" * 2000)
    assert again.text.endswith("z" * 2000) and again.from_graphs == (f"{GRAPH}g1099",)


# -- rewrites for a remote store -------------------------------------------------------------

def test_rewrites_for_a_remote_store_are_checked_by_the_parser():
    from myeloma_kg.sparql.rewrite import with_absolute_prologue, without_dataset

    text = f'SELECT * FROM <{INFERRED}> FROM NAMED <{GUIDELINE}> WHERE {{ ?s ?p "FROM <x>" }} # FROM <y>'
    shortened = without_dataset(text, BASE)
    assert shortened is not None and INFERRED not in shortened and GUIDELINE not in shortened
    assert '"FROM <x>"' in shortened and "# FROM <y>" in shortened
    escaped = "PREFIX e: <http://e.org/> SELECT * FROM e:a\\#b WHERE { ?s ?p ?o }"
    assert without_dataset(escaped, BASE) in (None, "PREFIX e: <http://e.org/> SELECT *             WHERE { ?s ?p ?o }")
    assert without_dataset("SELECT * \\u0046ROM <http://e.org/g> WHERE { ?s ?p ?o }", BASE) is None  # not seen: refused
    resolved = with_absolute_prologue("BASE <a/> PREFIX p: <b/> SELECT ?x WHERE { BIND(p:c AS ?x) }",
                                      "http://e.org/kg/sparql")
    assert resolved == "BASE <http://e.org/kg/a/> PREFIX p: <http://e.org/kg/a/b/> SELECT ?x WHERE { BIND(p:c AS ?x) }"
