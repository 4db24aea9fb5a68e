"""The W3C SPARQL 1.1 test suites that apply to a read-only endpoint, run against this one.

The test files are the W3C's (vendored here, see README.md and LICENSE.md).

* Protocol (sparql11/protocol): every case, through the Flask test client of the web app with its
  endpoint serving the suite's three graphs; a few that need no data also against a real
  ``myeloma-kg serve`` on a loopback port.  Query operations get the status and media type the
  manifest states.  The endpoint is read-only, so every update operation must be refused (4xx)
  and change nothing: the store keeps its quads and the manifest's follow-up ASK, which checks
  that the update happened, answers false.
* Query evaluation (a sample: aggregates, bind, construct, exists, functions, grouping,
  negation, property-path, subquery): each case runs on the endpoint's own path, the code a
  query worker runs (``service.handle``: the guard's checks, the dataset, the engine, the
  answer written as /sparql writes it), over a store holding the case's data, and the answer is
  compared with the expected result (blank nodes up to renaming, rows in order only under ORDER
  BY).  Each case's dataset goes as the protocol's parameters (its data as the default graph,
  its graph data as named graphs) unless the query names its own.

A case where the answer differs from the expected one is listed in KNOWN_DIFFERENCES with the
reason (a strict xfail: it fails the run once it starts to pass, so the list stays true).
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from rdflib.compare import isomorphic

from myeloma_kg.errors import SparqlRequestError
from myeloma_kg.sparql.service import Job, Limits, SparqlService, handle

HERE = Path(__file__).parent / "sparql11"
SUITE = "http://www.w3.org/2009/sparql/docs/tests/data-sparql11/"
MF = rdflib.Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
QT = rdflib.Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-query#")
HT = rdflib.Namespace("http://www.w3.org/2011/http#")
CNT = rdflib.Namespace("http://www.w3.org/2011/content#")
UT = rdflib.Namespace("http://www.w3.org/2009/sparql/tests/test-update#")
HTS = "http://www.w3.org/2011/http-statusCodes#StatusCode"
EVALUATION = ["aggregates", "bind", "construct", "exists", "functions", "grouping", "negation", "property-path",
              "subquery"]
JSON_RESULTS = "application/sparql-results+json"
NTRIPLES = "application/n-triples"

# Cases whose answer differs from the expected one, each with the reason.  Every one of them is
# pyoxigraph's own answer: the engine run alone on the suite's dataset gives the same.
LEXICAL = ("pyoxigraph writes xsd:decimal and xsd:double values in a lexical form of its own ('1' for '1.0', "
           "'0.4' for '4.0E-1'), in the data it returns as in the values it computes; the values are the expected "
           "ones (test_numbers_differ_only_in_how_they_are_written)")
KNOWN_DIFFERENCES: dict[str, str] = {
    **{name: LEXICAL for name in (
        "aggregates/agg-sum-02", "aggregates/agg-avg-02", "aggregates/agg-min-01", "aggregates/agg-min-02",
        "aggregates/agg-max-01", "aggregates/agg-max-02", "aggregates/agg-err-02", "aggregates/agg-max-distinct",
        "aggregates/agg-min-distinct", "functions/plus-1-corrected", "functions/plus-2-corrected",
        "functions/coalesce01")},
    "aggregates/agg-groupconcat-04": "pyoxigraph's GROUP_CONCAT keeps the language tag its values share "
                                     "(\"1 2\"@en); the test expects a simple literal",
    "aggregates/agg-groupconcat-06": "the same: GROUP_CONCAT of \"1\"@en gives \"1\"@en, not \"1\"",
    "aggregates/agg-empty-group-count-graph": "an aggregate subquery without GROUP BY inside GRAPH ?g: pyoxigraph "
                                              "gives one row for the whole dataset, without ?g, instead of one row "
                                              "per named graph",
    "functions/bnode01": "BNODE(string): pyoxigraph gives the same blank node for the same string in different "
                         "solutions; the test expects a new one in each solution",
    "negation/graph-minus": "MINUS inside GRAPH ?g: pyoxigraph counts the graph variable as shared with the MINUS "
                            "part and removes the row; the test expects MINUS without a shared variable to "
                            "remove nothing",
    **{f"property-path/{name}": "a zero-length path (p* or p?) to or from a constant that is in no triple: "
                                "pyoxigraph gives no row; the test expects the constant itself"
       for name in ("zero_or_more_set_start", "zero_or_more_set_end", "zero_or_one_set_start",
                    "zero_or_one_set_end")},
}

# Protocol cases the endpoint answers otherwise on purpose, each with the reason.
PROTOCOL_POLICY = {
    "query_post_form": "names <.../data0.rdf> as default-graph-uri, a graph this store does not hold: the endpoint "
                       "refuses (400, listing its graphs) instead of reading it as an empty graph",
    "query_get": "the same: default-graph-uri <.../data0.rdf> is not a graph of the store",
    "query_content_type_select": "the same: default-graph-uri <.../data0.rdf> is not a graph of the store",
    "query_content_type_ask": "the same: default-graph-uri <.../data0.rdf> is not a graph of the store",
    "query_content_type_describe": "the same: default-graph-uri <.../data0.rdf> is not a graph of the store",
    "query_content_type_construct": "the same: default-graph-uri <.../data0.rdf> is not a graph of the store",
}
UNKNOWN_GRAPH = "http://kasei.us/2009/09/sparql/data/data0.rdf"


def _local(iri: str) -> Path:
    assert iri.startswith(SUITE), iri
    return HERE / iri[len(SUITE):]


def _manifest(directory: str) -> tuple[rdflib.Graph, list[rdflib.term.Node]]:
    graph = rdflib.Graph().parse(HERE / directory / "manifest.ttl", format="turtle",
                                 publicID=f"{SUITE}{directory}/manifest.ttl")
    manifest = next(graph.subjects(rdflib.RDF.type, MF.Manifest))
    entries = list(rdflib.collection.Collection(graph, graph.value(manifest, MF.entries)))
    return graph, entries


# -- query evaluation ------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    name: str  # directory/entry
    kind: str  # QueryEvaluationTest or NegativeSyntaxTest11
    query: str  # IRI of the query file
    data: tuple[str, ...] = ()
    graph_data: tuple[str, ...] = ()
    result: str | None = None


def _evaluation_cases() -> list[Case]:
    cases = []
    for directory in EVALUATION:
        graph, entries = _manifest(directory)
        for entry in entries:
            kind = str(graph.value(entry, rdflib.RDF.type)).rsplit("#", 1)[1]
            name = f"{directory}/{str(entry).rsplit('#', 1)[1]}"
            action = graph.value(entry, MF.action)
            if kind == "NegativeSyntaxTest11":
                cases.append(Case(name, kind, str(action)))
            elif kind == "QueryEvaluationTest":
                result = graph.value(entry, MF.result)
                cases.append(Case(name, kind, str(graph.value(action, QT.query)),
                                  tuple(sorted(str(d) for d in graph.objects(action, QT.data))),
                                  tuple(sorted(str(d) for d in graph.objects(action, QT.graphData))),
                                  str(result) if result is not None else None))
            else:  # pragma: no cover - the sample holds only these two kinds
                raise AssertionError(f"{name}: a test of kind {kind}")
    return cases


CASES = _evaluation_cases()
FORMATS = {".ttl": ox.RdfFormat.TURTLE, ".nt": ox.RdfFormat.N_TRIPLES, ".rdf": ox.RdfFormat.RDF_XML}


def _store(case: Case) -> ox.Store:
    """The case's files, each in the named graph of its IRI (the default graph stays empty)."""
    store = ox.Store()
    for iri in dict.fromkeys(case.data + case.graph_data):
        path = _local(iri)
        store.load(path=str(path), format=FORMATS[path.suffix], base_iri=iri, to_graph=ox.NamedNode(iri))
    return store


def _answer(case: Case) -> tuple[str, bytes]:
    """(form, body) as the endpoint's query worker gives it."""
    from myeloma_kg.sparql.guard import check_query

    text = _local(case.query).read_text(encoding="utf-8")
    store = _store(case)
    graphs = frozenset(case.data + case.graph_data)  # the graphs this store holds, an empty one too
    own = check_query(text, case.query).own_dataset
    job = Job(text, JSON_RESULTS, NTRIPLES, default_graphs=() if own else case.data,
              named_graphs=() if own else case.graph_data, max_rows=100_000, base=case.query)
    outcome = handle(store, graphs, job)
    return outcome.form, outcome.body


def _solutions(results) -> list[dict[str, ox.Term]]:
    names = [v.value for v in results.variables]
    return [{n: s[n] for n in names if s[n] is not None} for s in results]


RS = rdflib.Namespace("http://www.w3.org/2001/sw/DataAccess/tests/result-set#")


def _term(node) -> ox.Term:
    if isinstance(node, rdflib.URIRef):
        return ox.NamedNode(str(node))
    if isinstance(node, rdflib.BNode):
        return ox.BlankNode(str(node))
    if node.language:
        return ox.Literal(str(node), language=node.language)
    return ox.Literal(str(node), datatype=ox.NamedNode(str(node.datatype)) if node.datatype else None)


def _expected(case: Case):
    """The expected result: a boolean, a list of rows, or a graph (rdflib)."""
    path = _local(case.result)
    formats = {".srx": ox.QueryResultsFormat.XML, ".srj": ox.QueryResultsFormat.JSON,
               ".tsv": ox.QueryResultsFormat.TSV, ".csv": ox.QueryResultsFormat.CSV}
    if path.suffix in formats:
        results = ox.parse_query_results(path=str(path), format=formats[path.suffix])
        return bool(results) if isinstance(results, ox.QueryBoolean) else _solutions(results)
    graph = rdflib.Graph().parse(path, format="turtle" if path.suffix == ".ttl" else "xml", publicID=case.result)
    result_set = next(graph.subjects(rdflib.RDF.type, RS.ResultSet), None)
    if result_set is None:
        return graph
    boolean = graph.value(result_set, RS.boolean)
    if boolean is not None:
        return bool(boolean.toPython())
    rows = []  # the result-set vocabulary, written in RDF
    for solution in graph.objects(result_set, RS.solution):
        rows.append({str(graph.value(b, RS.variable)): _term(graph.value(b, RS.value))
                     for b in graph.objects(solution, RS.binding)})
    return rows


def _same_rows(expected: list[dict], actual: list[dict], ordered: bool) -> bool:
    """The same rows, blank nodes up to a consistent renaming; in the same order if ``ordered``."""
    if len(expected) != len(actual):
        return False

    def fits(e: dict, a: dict, mapping: dict) -> dict | None:
        if e.keys() != a.keys():
            return None
        mapping = dict(mapping)
        for key, term in e.items():
            other = a[key]
            if isinstance(term, ox.BlankNode) and isinstance(other, ox.BlankNode):
                if mapping.setdefault(term, other) != other:
                    return None
            elif term != other:
                return None
        if len(set(mapping.values())) != len(mapping):
            return None
        return mapping

    if ordered:
        mapping: dict | None = {}
        for e, a in zip(expected, actual):
            mapping = fits(e, a, mapping)
            if mapping is None:
                return False
        return True

    def search(i: int, used: set[int], mapping: dict) -> bool:
        if i == len(expected):
            return True
        for j, a in enumerate(actual):
            if j not in used:
                found = fits(expected[i], a, mapping)
                if found is not None and search(i + 1, used | {j}, found):
                    return True
        return False

    return search(0, set(), {})


def _ordered(text: str) -> bool:
    return re.search(r"\bORDER\s+BY\b", text, re.IGNORECASE) is not None


def _check(case: Case) -> None:
    if case.kind == "NegativeSyntaxTest11":
        with pytest.raises(SparqlRequestError) as refused:
            _answer(case)
        assert refused.value.status == 400
        return
    form, body = _answer(case)
    expected = _expected(case)
    if form in ("CONSTRUCT", "DESCRIBE"):
        actual = rdflib.Graph().parse(data=body, format="nt")
        assert isomorphic(expected, actual), f"expected\n{expected.serialize(format='nt')}\ngot\n{body.decode()}"
        return
    actual = ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)
    if isinstance(expected, bool):
        assert isinstance(actual, ox.QueryBoolean) and bool(actual) == expected
        return
    assert isinstance(actual, ox.QuerySolutions), body
    got = _solutions(actual)
    ordered = _ordered(_local(case.query).read_text(encoding="utf-8"))
    assert _same_rows(expected, got, ordered), f"expected {expected}\ngot {got}"


def _params(cases):
    for case in cases:
        marks = ()
        if case.name in KNOWN_DIFFERENCES:
            marks = (pytest.mark.xfail(reason=KNOWN_DIFFERENCES[case.name], strict=True),)
        yield pytest.param(case, id=case.name, marks=marks)


@pytest.mark.parametrize("case", list(_params(CASES)))
def test_query_evaluation(case):
    _check(case)


_NUMBERS = {f"http://www.w3.org/2001/XMLSchema#{t}": kind for t, kind in (
    ("integer", "decimal"), ("decimal", "decimal"), ("double", "float"), ("float", "float"))}


def _by_value(rows: list[dict]) -> list[dict]:
    """The rows with each number written in one form per value (datatype kept)."""
    from decimal import Decimal

    def one_form(term):
        kind = _NUMBERS.get(term.datatype.value) if isinstance(term, ox.Literal) else None
        if kind is None:
            return term
        value = Decimal(term.value).normalize() if kind == "decimal" else float(term.value)
        return ox.Literal(str(value), datatype=term.datatype)

    return [{k: one_form(v) for k, v in row.items()} for row in rows]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES if KNOWN_DIFFERENCES.get(c.name) == LEXICAL])
def test_numbers_differ_only_in_how_they_are_written(case):
    _, body = _answer(case)
    got = _solutions(ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON))
    expected = _expected(case)
    assert not _same_rows(expected, got, False)
    assert _same_rows(_by_value(expected), _by_value(got), _ordered(_local(case.query).read_text(encoding="utf-8")))


def _engine_alone(case: Case):
    """pyoxigraph's own answer, the suite's dataset as the suite states it (data in the default
    graph, graph data in named graphs), without the endpoint: a boolean, rows, or a graph."""
    store = ox.Store()
    for iri in case.data:
        path = _local(iri)
        store.load(path=str(path), format=FORMATS[path.suffix], base_iri=iri, to_graph=ox.DefaultGraph())
    for iri in case.graph_data:
        path = _local(iri)
        store.load(path=str(path), format=FORMATS[path.suffix], base_iri=iri, to_graph=ox.NamedNode(iri))
    result = store.query(_local(case.query).read_text(encoding="utf-8"), base_iri=case.query)
    if isinstance(result, ox.QueryBoolean):
        return bool(result)
    if isinstance(result, ox.QuerySolutions):
        return _solutions(result)
    return rdflib.Graph().parse(data=ox.serialize(list(result), format=ox.RdfFormat.N_TRIPLES), format="nt")


@pytest.mark.parametrize("name", sorted(KNOWN_DIFFERENCES))
def test_each_known_difference_is_the_engines_own_answer(name):
    """The endpoint gives what pyoxigraph alone gives on the suite's dataset: the difference is
    the engine's, not the endpoint's."""
    case = next(c for c in CASES if c.name == name)
    alone = _engine_alone(case)
    form, body = _answer(case)
    if isinstance(alone, bool):
        assert json.loads(body)["boolean"] is alone
    elif isinstance(alone, list):
        got = _solutions(ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON))
        assert _same_rows(alone, got, False), (alone, got)
    else:
        assert isomorphic(alone, rdflib.Graph().parse(data=body, format="nt"))


def test_the_sample_is_what_it_says():
    kinds = Counter(case.kind for case in CASES)
    assert kinds["QueryEvaluationTest"] >= 190 and kinds["NegativeSyntaxTest11"] >= 5, kinds
    assert set(KNOWN_DIFFERENCES) <= {case.name for case in CASES}


# -- protocol --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    method: str
    path: str  # with the query string; the manifest's /sparql/ replaced by /sparql
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    statuses: tuple[str, ...]  # 2xx, 3xx, 4xx, ...
    boolean: bool | None = None
    format: str | None = None  # boolean, tabular or RDF


@dataclass(frozen=True)
class ProtocolCase:
    name: str
    requests: tuple[Request, ...]
    graphs: tuple[tuple[str, str], ...] = field(default=())  # (graph IRI, file)

    @property
    def is_update(self) -> bool:
        """An update operation (the manifest names them update_... and bad_update_...)."""
        return self.name.startswith(("update_", "bad_update_"))


def _protocol_cases() -> list[ProtocolCase]:
    graph, entries = _manifest("protocol")
    cases = []
    for entry in entries:
        name = str(entry).rsplit("#", 1)[1]
        action = graph.value(entry, MF.action)
        requests = []
        for node in rdflib.collection.Collection(graph, graph.value(action, HT.requests)):
            body = graph.value(node, HT.body)
            encoded = None
            if body is not None:
                encoding = str(graph.value(body, CNT.characterEncoding) or "UTF-8")
                encoded = str(graph.value(body, CNT.chars)).encode(encoding.lower())
            headers = []
            listed = graph.value(node, HT.headers)
            if listed is not None:
                for header in rdflib.collection.Collection(graph, listed):
                    headers.append((str(graph.value(header, HT.fieldName)).lower(),
                                    str(graph.value(header, HT.fieldValue))))
            response = graph.value(node, HT.resp)
            statuses = tuple(sorted(str(s).removeprefix(HTS) for s in graph.objects(response, MF.expectedStatus)))
            boolean = graph.value(response, MF.expectedBoolean)
            shape = graph.value(response, MF.expectedFormat)
            path = str(graph.value(node, HT.absolutePath)).replace("/sparql/", "/sparql", 1)
            requests.append(Request(str(graph.value(node, HT.methodName)), path, tuple(headers), encoded, statuses,
                                    None if boolean is None else bool(boolean.toPython()),
                                    None if shape is None else str(shape)))
        graphs = tuple(sorted((str(graph.value(d, rdflib.RDFS.label)), str(graph.value(d, UT.graph)))
                              for d in graph.objects(entry, UT.graphData)))
        cases.append(ProtocolCase(name, tuple(requests), graphs))
    return cases


PROTOCOL = _protocol_cases()
ALL_GRAPHS = sorted({g for case in PROTOCOL for g in case.graphs})
SHAPES = {  # the media types each expected format may come in
    "boolean": {"application/sparql-results+json", "application/sparql-results+xml"},
    "tabular": {"application/sparql-results+json", "application/sparql-results+xml", "text/csv",
                "text/tab-separated-values"},
    "RDF": {"application/rdf+xml", "text/turtle", "application/n-triples"},
}


@pytest.fixture(scope="module")
def protocol_app(settings, kg):
    """The web app, its endpoint serving the protocol suite's three graphs."""
    from myeloma_kg.web import create_app

    app = create_app(settings.with_overrides({"query_timeout_s": 5.0}), kg, query_workers=2)
    app.extensions["sparql"].close()
    store = ox.Store()
    for name, file in ALL_GRAPHS:
        store.load(path=str(_local(file)), format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(name))
    nquads = store.dump(format=ox.RdfFormat.N_QUADS)
    service = SparqlService(nquads, [name for name, _ in ALL_GRAPHS], Limits(timeout_s=5.0), workers=2)
    app.extensions["sparql"] = service
    app.wsgi_app.service = service  # the fast GET path answers from the same service
    yield app
    service.close()


def _send_client(client, request: Request):
    headers = dict(request.headers)
    content_type = headers.pop("content-type", None)
    response = client.open(request.path, method=request.method, data=request.body, headers=headers,
                           content_type=content_type)
    return response.status_code, response.headers.get("Content-Type", ""), response.data


def _check_response(name: str, request: Request, status: int, content_type: str, body: bytes) -> None:
    assert f"{status // 100}xx" in request.statuses, (name, status, body[:300])
    if request.format is None or status >= 300:
        return
    media = content_type.split(";")[0].strip().lower()
    assert media in SHAPES[request.format], (name, content_type)
    if request.format == "boolean":
        results = ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON if "json" in media
                                         else ox.QueryResultsFormat.XML)
        assert isinstance(results, ox.QueryBoolean), (name, body)
        assert request.boolean is None or bool(results) is request.boolean, (name, body)
    elif request.format == "tabular":
        formats = {"application/sparql-results+json": ox.QueryResultsFormat.JSON,
                   "application/sparql-results+xml": ox.QueryResultsFormat.XML,
                   "text/csv": ox.QueryResultsFormat.CSV, "text/tab-separated-values": ox.QueryResultsFormat.TSV}
        assert isinstance(ox.parse_query_results(body, format=formats[media]), ox.QuerySolutions)
    else:
        formats = {"application/rdf+xml": ox.RdfFormat.RDF_XML, "text/turtle": ox.RdfFormat.TURTLE,
                   "application/n-triples": ox.RdfFormat.N_TRIPLES}
        list(ox.parse(body, format=formats[media]))


def _quads(service) -> list:
    return sorted(str(q) for q in service.store)


def _protocol_params():
    for case in PROTOCOL:
        marks = ()
        if case.name in PROTOCOL_POLICY:
            marks = (pytest.mark.xfail(reason=PROTOCOL_POLICY[case.name], strict=True),)
        yield pytest.param(case, id=case.name, marks=marks)


@pytest.mark.parametrize("case", list(_protocol_params()))
def test_protocol(protocol_app, case):
    client = protocol_app.test_client()
    service = protocol_app.extensions["sparql"]
    if case.is_update:
        before = _quads(service)
        status, _, body = _send_client(client, case.requests[0])
        assert 400 <= status < 500, (case.name, status, body)
        assert _quads(service) == before
        for follow_up in case.requests[1:]:  # the manifest's check that the update took place
            status, content_type, body = _send_client(client, follow_up)
            assert status == 200, body
            assert json.loads(body)["boolean"] is False, (case.name, body)
        return
    for request in case.requests:
        _check_response(case.name, request, *_send_client(client, request))


def _without_unknown_graph(request: Request) -> Request:
    path, _, query = request.path.partition("?")
    kept = [(k, v) for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True) if v != UNKNOWN_GRAPH]
    return Request(request.method, path + ("?" + urllib.parse.urlencode(kept) if kept else ""), request.headers,
                   request.body, request.statuses, request.boolean, request.format)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in PROTOCOL if c.name in PROTOCOL_POLICY])
def test_protocol_cases_refused_by_policy_pass_without_the_unknown_graph(protocol_app, case):
    """The cases above that name a graph the store does not hold, sent without that parameter:
    their status, media type and answer are as the manifest states."""
    client = protocol_app.test_client()
    refused = _send_client(client, case.requests[0])
    assert refused[0] == 400 and b"not in this store" in refused[2]
    for request in case.requests:
        _check_response(case.name, _without_unknown_graph(request), *_send_client(client,
                                                                                  _without_unknown_graph(request)))


# Cases that need none of the suite's graphs, sent to a real server as raw HTTP.
ON_A_REAL_SERVER = ["query_post_direct", "bad_query_method", "bad_multiple_queries", "bad_query_wrong_media_type",
                    "bad_query_missing_form_type", "bad_query_missing_direct_type", "bad_query_non_utf8",
                    "bad_query_syntax", "bad_update_get", "update_post_form", "update_post_direct",
                    "bad_multiple_updates", "bad_update_non_utf8"]


@pytest.mark.parametrize("name", ON_A_REAL_SERVER)
def test_protocol_on_a_real_server(live_server, name):
    case = next(c for c in PROTOCOL if c.name == name)
    request = case.requests[0]
    port = int(live_server.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest(request.method, request.path)
        for header, value in request.headers:
            connection.putheader(header, value)
        connection.putheader("Content-Length", str(len(request.body or b"")))
        connection.endheaders(request.body or b"")
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if case.is_update:
        assert 400 <= response.status < 500, (name, response.status, body)
        return
    _check_response(name, request, response.status, response.getheader("Content-Type", ""), body)
    if response.status == 405:
        assert "GET" in response.getheader("Allow", "")
