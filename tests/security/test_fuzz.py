"""Hostile input, generated: thousands of requests to every route, each answer measured.

Hypothesis generates the requests (derandomized, so every run sends the same ones): query texts
for /sparql (random text, mutations of the shipped queries, keyword soup, small well-formed
queries with odd functions and literals, odd Accept headers and dataset parameters), patient
records for /api/validate and /api/recommend (wrong types, nested junk, huge numbers, odd dates,
Turtle and JSON-LD junk, odd content types), parameter values for every named query and unknown
query names, dereference paths (traversal, extensions, percent-encodings, long paths, Range
headers) and /search texts.  Most go through the Flask test client (fast); a smaller share goes
as raw bytes to a real server (``myeloma-kg serve``, waitress) so odd request lines and paths
reach the server as sent.

Every answer must: not be a 500 (nor any 5xx other than the endpoint's own 503 for a stopped
query), carry no Python traceback, and come within the time limit plus a margin.  Inputs name
the loopback trap (``{T}``) wherever an address fits; after the run the trap must have seen no
connection and the graph (the app's store, and COUNT(*) through /sparql) must be as before.

The number of examples of each test is set in ``EXAMPLES`` for the full campaign (``pytest
--fuzz-campaign=full``, a step of its own in .ci/run); the quick campaign of ``make test`` sends a
sixth of each, and never fewer than ``QUICK_FLOOR``.  The requests actually sent are counted and
the last test checks the total.  Shrinking is off so that the run stays bounded; a
failure message carries the whole request.  Inputs that were server errors before the fixes
made with this file are replayed as explicit cases (``FOUND``).  Texts the parser reads very
slowly (found by probing query sizes by hand, not by the generators) are sent at the end, beside
a cheap query: the parse runs in a query worker under the time limit, so the slow text is stopped
at the limit and the cheap query is not held up.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from myeloma_kg.namespaces import BASE
from myeloma_kg.queries import QueryCatalog

from .conftest import COUNT_ALL, Trap
from conftest import FUZZ_CAMPAIGN, ROOT, _free_port, _wait_for

# -- the budget ------------------------------------------------------------------------------

EXAMPLES = {  # hypothesis examples per test (each sends one request unless said otherwise)
    "sparql_random_text": 900,
    "sparql_mutations": 350,
    "sparql_keyword_soup": 700,
    "sparql_small_queries": 450,
    "sparql_protocol": 600,
    "sparql_huge": 25,
    "records_json": 550,  # two requests each: /api/validate and /api/recommend
    "records_text": 300,  # two requests each
    "named_queries": 600,
    "dereference": 800,
    "search": 350,
    "waitress_raw": 250,
}
FULL = FUZZ_CAMPAIGN["size"] == "full"
QUICK_SHARE, QUICK_FLOOR = 6, 10
if not FULL:
    EXAMPLES = {name: max(QUICK_FLOOR, count // QUICK_SHARE) for name, count in EXAMPLES.items()}
AT_LEAST = 5000 if FULL else 800  # requests in all, checked by the last test
MARGIN_S = 3.0  # on top of the query time limit, for a busy two-core machine
REAL_SERVER_LIMIT_S = 2.0

SENT: Counter[str] = Counter()  # requests actually sent, by test
STATUSES: Counter[tuple[str, int]] = Counter()


def budget(name: str):
    return settings(max_examples=EXAMPLES[name], derandomize=True, deadline=None, database=None,
                    phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))


# -- the harness -----------------------------------------------------------------------------


class Fuzz:
    """Sends requests through the test client and checks each answer."""

    def __init__(self, app, trap: Trap) -> None:
        self.app = app
        self.client = app.test_client()
        self.trap = trap
        self.limit_s = app.config["SETTINGS"].query_timeout_s

    def fill(self, value):
        if isinstance(value, str):
            return value.replace("{T}", self.trap.url)
        if isinstance(value, bytes):
            return value.replace(b"{T}", self.trap.url.encode())
        if isinstance(value, dict):
            return {self.fill(k): self.fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.fill(v) for v in value)
        return value

    def send(self, target: str, method: str, path: str, **kwargs):
        path, kwargs = self.fill(path), self.fill(kwargs)
        started = time.monotonic()
        response = self.client.open(path, method=method, **kwargs)
        body = response.get_data()
        elapsed = time.monotonic() - started
        SENT[target] += 1
        STATUSES[(target, response.status_code)] += 1
        check_answer(f"{method} {path!r} {kwargs!r}", response.status_code, body, elapsed, self.limit_s)
        return response


def check_answer(what: str, status: int, body: bytes, elapsed: float, limit_s: float) -> None:
    what = what if len(what) < 1500 else what[:1500] + "..."
    assert status != 500, f"HTTP 500 for {what}: {body[:500]!r}"
    assert status < 500 or status == 503 and (b"time limit" in body or b"long queries" in body), \
        f"HTTP {status} for {what}: {body[:500]!r}"
    assert b"Traceback" not in body, f"a traceback in the answer to {what}: {body[:2000]!r}"
    assert elapsed <= limit_s + MARGIN_S, f"{elapsed:.2f} s (limit {limit_s:g} s) for {what}"


def endpoint_count(client) -> int:
    response = client.get("/sparql", query_string={"query": COUNT_ALL})
    assert response.status_code == 200, response.get_data(as_text=True)
    return int(response.json["results"]["bindings"][0]["n"]["value"])


@pytest.fixture(scope="module")
def fuzz(secure_app, kg):
    trap = Trap()
    harness = Fuzz(secure_app, trap)
    harness.before = (len(kg.store), endpoint_count(harness.client))
    yield harness
    trap.close()


@pytest.fixture(autouse=True)
def _no_connection_after_each(fuzz):
    yield
    assert fuzz.trap.connections() == 0, f"a connection reached the trap: {fuzz.trap.arrived[:3]!r}"


# -- building blocks of generated input -------------------------------------------------------

ODD = ["\x00", "\x01", "\x7f", "\u202e", "\u200b", "\ufeff", "\ufffd", "\uffff", "\U0001f9ec", "e\u0301",
       "\u2028", "\x85", "\u0130", "\u00df", "\ufb00", "\uff33\uff25\uff2c\uff25\uff23\uff34", "\u00a0", "\t",
       "\r\n", "\\u0053", "\\U00000053", "%00", "%2e%2e%2f", "..", "/", "\\", "'", '"', "<", ">", "{", "}",
       "#", "?", "&", "=", ";", "\U000e0041", "\u0663", "\u2067", "\ud7ff", "\U0010ffff", "{T}"]
chars = st.characters(codec="utf-8")  # any code point that can be sent (no lone surrogates)
text = st.text(chars, max_size=120)
odd_text = st.lists(st.one_of(text, st.sampled_from(ODD)), max_size=10).map("".join)

SPARQL_WORDS = [
    "SELECT", "select", "SeLeCt", "ASK", "CONSTRUCT", "DESCRIBE", "WHERE", "FROM", "NAMED", "GRAPH", "OPTIONAL",
    "UNION", "MINUS", "FILTER", "EXISTS", "NOT", "BIND", "AS", "VALUES", "UNDEF", "SERVICE", "SILENT", "LIMIT",
    "OFFSET", "ORDER", "BY", "ASC", "DESC", "GROUP", "HAVING", "DISTINCT", "REDUCED", "PREFIX", "BASE", "INSERT",
    "DELETE", "DATA", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "INTO", "WITH", "USING", "ALL",
    "DEFAULT", "COUNT", "SUM", "MIN", "MAX", "AVG", "SAMPLE", "GROUP_CONCAT", "separator", "REGEX", "REPLACE",
    "STR", "IRI", "URI", "BNODE", "STRDT", "STRLANG", "LANG", "DATATYPE", "CONCAT", "SUBSTR", "STRLEN", "UCASE",
    "LCASE", "CONTAINS", "STRSTARTS", "ENCODE_FOR_URI", "NOW", "RAND", "UUID", "STRUUID", "SHA512", "IF",
    "COALESCE", "IN", "TRIPLE", "isTRIPLE", "a", "true", "false", "*", ".", ";", ",", "{", "}", "(", ")", "[", "]",
    "<<", ">>", "{|", "|}", "=", "!=", "<", ">", "<=", ">=", "&&", "||", "!", "+", "-", "/", "^", "^^", "|", "?",
    "$x", "?s", "?p", "?o", "?x", "?g", "_:b", "[]", "()", "0", "1", "-0", "1e308", "1e-400", "9" * 40,
    "1.5", ".5", "'x'", '"x"', '"""a\n"""', '"x"@en', '"x"@EN-us-x-odd', '"1"^^xsd:integer', '"x"^^xsd:date',
    "mkg:Drug", "mkg:Regimen", "rdfs:label", "drug:daratumumab", "regimen:DPd", "undeclared:x", "<>", "<#x>",
    "<{T}/>", "<{T}/sparql>", "<http://localhost/>", "<https://w3id.org/myeloma-kg/graph/guideline>",
    "<file:///etc/passwd>", "#", "\n", "\\u0053ERVICE",
]
GRAPHS = ["https://w3id.org/myeloma-kg/graph/guideline", "https://w3id.org/myeloma-kg/graph/ontology",
          "https://w3id.org/myeloma-kg/graph/inferred", "{T}/g", "", "urn:x", "not an iri", "<{T}>",
          "https://w3id.org/myeloma-kg/graph/../graph/guideline", "file:///etc/passwd"]
ACCEPTS = ["", "*/*", "application/sparql-results+json", "application/sparql-results+xml", "text/csv",
           "text/tab-separated-values", "text/turtle", "application/ld+json", "application/rdf+xml",
           "application/n-triples", "application/json", "text/xml", "application/xml", "text/html",
           "image/png", "application/n-quads", "*/*;q=0", "text/*;q=0.5, */*;q=0.1", "text/csv;q=abc",
           "application/sparql-results+json;q=2", "*;q=1", "/", ";;;,,,", "text/turtle;charset=ebcdic",
           "application/*", "a" * 5000, "text/csv;q=0, text/csv;q=1", "\x00", "*/*;q=-1", "application/json;q=0"]
CONTENT_TYPES = [None, "", "application/json", "application/ld+json", "text/turtle", "application/x-turtle",
                 "text/plain", "application/sparql-query", "application/sparql-update",
                 "application/x-www-form-urlencoded", "multipart/form-data", "multipart/form-data; boundary=x",
                 "application/json; charset=utf-16", "application/json; charset=nonsense", "text/turtle;;;",
                 "application/octet-stream", "image/png", "application/xml", "text/html", "*/*", "x" * 300]


def _real_queries() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted((ROOT / "queries").rglob("*.rq"))]


REAL_QUERIES = _real_queries()
CATALOG = QueryCatalog(ROOT / "queries")


@st.composite
def mutated_query(draw) -> str:
    """A shipped query with a few random edits (or two spliced together)."""
    query = draw(st.sampled_from(REAL_QUERIES))
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(query)))
        end = draw(st.integers(start, min(len(query), start + 60)))
        op = draw(st.sampled_from(["delete", "insert", "duplicate", "replace", "swapcase", "truncate", "splice"]))
        if op == "delete":
            query = query[:start] + query[end:]
        elif op == "insert":
            query = query[:start] + " " + draw(st.sampled_from(SPARQL_WORDS)) + " " + query[start:]
        elif op == "duplicate":
            query = query[:end] + query[start:end] * draw(st.integers(1, 4)) + query[end:]
        elif op == "replace":
            query = query[:start] + draw(odd_text) + query[end:]
        elif op == "swapcase":
            query = query[:start] + query[start:end].swapcase() + query[end:]
        elif op == "truncate":
            query = query[:start]
        else:
            other = draw(st.sampled_from(REAL_QUERIES))
            query = query[:start] + other[draw(st.integers(0, len(other))):]
    return query


keyword_soup = st.lists(st.one_of(st.sampled_from(SPARQL_WORDS), st.sampled_from(ODD), text), min_size=1,
                        max_size=40).map(" ".join)

# Small well-formed queries, so that the workers see odd functions, literals and patterns too.
VARS = st.sampled_from(["?s", "?p", "?o", "?x", "?label"])
string_literal = text.map(lambda t: json.dumps(t))  # a JSON string is a valid SPARQL string
LITERALS = st.one_of(
    st.integers(-10**40, 10**40).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    string_literal,
    st.tuples(string_literal, st.sampled_from(["integer", "decimal", "double", "date", "dateTime", "boolean",
                                               "string", "duration", "gYear", "anyURI", "nonsense"]))
    .map(lambda p: f"{p[0]}^^xsd:{p[1]}"),
    st.tuples(string_literal, st.sampled_from(["en", "EN-x-y", "zh-Hant-TW", "a" * 8, "x-" + "b" * 8]))
    .map(lambda p: f"{p[0]}@{p[1]}"),
)
REGEXES = ["(a+)+$", "[", "\\\\", "(?i)dara", "\\\\p{L}+", ".*.*.*.*.*=", "^$", "(", "a{1000000}", "\\\\1",
           "[^\\\\x00-\\\\x7f]", "(?x) a # note"]
FUNCTIONS1 = ["STR", "STRLEN", "UCASE", "LCASE", "ENCODE_FOR_URI", "ABS", "CEIL", "FLOOR", "ROUND", "YEAR",
              "MONTH", "TZ", "MD5", "SHA1", "SHA256", "SHA512", "LANG", "DATATYPE", "isIRI", "isLiteral",
              "isNumeric", "BOUND", "IRI", "BNODE", "xsd:integer", "xsd:date", "xsd:dateTime", "xsd:double",
              "xsd:decimal", "xsd:boolean", "xsd:string", "STRUUID", "!", "-"]


OPERATORS = ["+", "-", "*", "/", "=", "!=", "<", ">=", "&&", "||"]


@st.composite
def expression(draw, depth: int = 0) -> str:
    """A SPARQL expression: functions of odd arguments, nested up to three deep."""
    if depth >= 3 or draw(st.integers(0, 2)) == 0:
        return draw(st.one_of(VARS, LITERALS))
    a = draw(expression(depth + 1))
    kind = draw(st.sampled_from(["f1", "f1", "op", "regex", "replace", "substr", "concat", "if", "strdt", "in"]))
    if kind == "f1":
        return f"{draw(st.sampled_from(FUNCTIONS1))}({a})"
    if kind == "op":
        return f"({a} {draw(st.sampled_from(OPERATORS))} {draw(expression(depth + 1))})"
    if kind == "regex":
        return f'REGEX(STR({a}), "{draw(st.sampled_from(REGEXES))}", "{draw(st.sampled_from(["", "i", "x", "q", "z"]))}")'
    if kind == "replace":
        return f'REPLACE(STR({a}), "{draw(st.sampled_from(REGEXES))}", "$1$9")'
    if kind == "substr":
        return f"SUBSTR(STR({a}), {draw(LITERALS)}, {draw(LITERALS)})"
    if kind == "concat":
        return f"CONCAT(STR({a}), {draw(expression(depth + 1))})"
    if kind == "if":
        return f"IF({a}, {draw(expression(depth + 1))}, {draw(expression(depth + 1))})"
    if kind == "strdt":
        return f"STRDT(STR({a}), <{{T}}/type>)"
    return f"({a} IN ({draw(LITERALS)}, {draw(VARS)}))"


expressions = expression()


@st.composite
def small_query(draw) -> str:
    subject = draw(st.sampled_from(["?s", "drug:daratumumab", "regimen:DPd", "<{T}/x>", "rec:R8"]))
    pattern = f"{subject} ?p ?o ."
    if draw(st.booleans()):
        pattern += f" OPTIONAL {{ ?o {draw(st.sampled_from(['rdfs:label', '?q', 'a']))} ?label }}"
    extras = draw(st.lists(st.sampled_from(["filter", "bind", "values"]), max_size=3))
    for kind in extras:
        if kind == "filter":
            pattern += f" FILTER({draw(expressions)})"
        elif kind == "bind":
            pattern += f" BIND({draw(expressions)} AS ?x)"
        else:
            pattern += f" VALUES ?label {{ {draw(LITERALS)} UNDEF }}"
    form = draw(st.sampled_from(["SELECT", "SELECT DISTINCT", "ASK", "CONSTRUCT", "DESCRIBE", "COUNT"]))
    limit = f" LIMIT {draw(st.integers(0, 300))}" + (f" OFFSET {draw(st.integers(0, 10**30))}"
                                                     if draw(st.booleans()) else "")
    order = f" ORDER BY {draw(expressions)}" if draw(st.booleans()) else ""
    if form == "ASK":
        return f"ASK {{ {pattern} }}"
    if form == "CONSTRUCT":
        return f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ {pattern} }}{limit}"
    if form == "DESCRIBE":
        return f"DESCRIBE ?o WHERE {{ {pattern} }}{limit}"
    if form == "COUNT":
        return f"SELECT (COUNT(*) AS ?n) (SAMPLE({draw(expressions)}) AS ?e) WHERE {{ {pattern} }} GROUP BY ?p{limit}"
    return f"{form} * WHERE {{ {pattern} }}{order}{limit}"


# -- /sparql ---------------------------------------------------------------------------------


def _sparql(fuzz, target: str, query: str, how: str):
    if how == "GET":
        return fuzz.send(target, "GET", "/sparql", query_string={"query": query})
    if how == "POST-form":
        return fuzz.send(target, "POST", "/sparql", data={"query": query})
    return fuzz.send(target, "POST", "/sparql", data=query.encode("utf-8"), content_type="application/sparql-query")


HOW = st.sampled_from(["GET", "POST-form", "POST-direct"])


@budget("sparql_random_text")
@given(query=st.one_of(text, odd_text, st.binary(max_size=200).map(lambda b: b.decode("latin-1"))), how=HOW)
@example(query="", how="GET").via("the service description")
@example(query="\x00" * 1000, how="POST-direct")
def test_sparql_random_text(fuzz, query, how):
    _sparql(fuzz, "sparql_random_text", query, how)


@budget("sparql_mutations")
@given(query=mutated_query(), how=HOW)
def test_sparql_mutations_of_the_shipped_queries(fuzz, query, how):
    _sparql(fuzz, "sparql_mutations", query, how)


@budget("sparql_keyword_soup")
@given(query=keyword_soup, how=HOW)
def test_sparql_keyword_soup(fuzz, query, how):
    _sparql(fuzz, "sparql_keyword_soup", query, how)


@budget("sparql_small_queries")
@given(query=small_query(), how=HOW)
@example(query="SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }", how="GET").via("a runaway: 503")
def test_sparql_small_queries_with_odd_functions_and_literals(fuzz, query, how):
    _sparql(fuzz, "sparql_small_queries", query, how)


@budget("sparql_protocol")
@given(
    method=st.sampled_from(["GET", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "PROPFIND"]),
    query=st.one_of(st.sampled_from(["SELECT * WHERE { ?s ?p ?o } LIMIT 3", "ASK { ?s a mkg:Drug }",
                                     "CONSTRUCT WHERE { ?s a mkg:Regimen } LIMIT 3", "DESCRIBE drug:daratumumab",
                                     "SELECT * FROM <https://w3id.org/myeloma-kg/graph/guideline> "
                                     "WHERE { ?s ?p ?o } LIMIT 2", "INSERT DATA { <{T}/a> <{T}/b> 1 }"]),
                    keyword_soup, st.none()),
    update=st.one_of(st.none(), st.sampled_from(["CLEAR ALL", "LOAD <{T}/x>", "", "SELECT * WHERE {}"]), text),
    default_graphs=st.lists(st.one_of(st.sampled_from(GRAPHS), text), max_size=3),
    named_graphs=st.lists(st.one_of(st.sampled_from(GRAPHS), text), max_size=3),
    accept=st.one_of(st.sampled_from(ACCEPTS), text.filter(lambda t: "\n" not in t and "\r" not in t)),
    content_type=st.sampled_from(CONTENT_TYPES),
    in_body=st.booleans(),
    repeated=st.booleans(),
)
def test_sparql_protocol_parameters_and_headers(fuzz, method, query, update, default_graphs, named_graphs, accept,
                                                content_type, in_body, repeated):
    params: list[tuple[str, str]] = []
    if query is not None:
        params.append(("query", query))
        if repeated:
            params.append(("query", "ASK {}"))
    if update is not None:
        params.append(("update", update))
    params += [("default-graph-uri", g) for g in default_graphs] + [("named-graph-uri", g) for g in named_graphs]
    kwargs = {"headers": {"Accept": accept}}
    if in_body and method not in ("GET", "HEAD"):
        if content_type in ("application/sparql-query", "application/sparql-update"):
            kwargs["data"] = (query or update or "").encode("utf-8")
            kwargs["query_string"] = params
        else:
            kwargs["data"] = "&".join(f"{quote(k)}={quote(v)}" for k, v in params)
        if content_type is not None:
            kwargs["content_type"] = content_type
    else:
        kwargs["query_string"] = params
    fuzz.send("sparql_protocol", method, "/sparql", **kwargs)


@budget("sparql_huge")
@given(piece=st.sampled_from(["\U0001f9ec", "x", "\x00", "#", "\u0301", "{", "SELECT * WHERE { ", "'", "%", "é"]),
       size=st.integers(10_000, 400_000), how=HOW)
@example(piece="a", size=1_200_000, how="POST-direct").via("over the request limit: 413")
@example(piece="a", size=1_200_000, how="POST-form")
def test_sparql_huge_texts(fuzz, piece, size, how):
    _sparql(fuzz, "sparql_huge", piece * (size // len(piece)), how)


# -- /api/validate and /api/recommend ---------------------------------------------------------

RECORD_KEYS = ["id", "age", "ecog", "creatinineClearance", "extramedullaryDisease", "imwgFrailty", "frailty",
               "cytogenetics", "therapyLines", "line", "drugs", "drug", "start", "end", "bestResponse",
               "progressionDate", "stopReason", "charlson", "adl", "iadl", "@context", "@id", "@type", "@graph",
               "@value", "@list", "@set", "@reverse", "@import", "@vocab", "@base", "@language", "@included",
               "@nest", "@json", "__proto__", "constructor"]
DATES = ["2023-01-01", "2020-02-30", "0000-01-01", "9999-12-31", "2020-1-1", "+2020-01-01", "-0001-01-01",
         "2020-01-01T00:00:00Z", "2020-W01-1", "20200101", "2020-13-01", "\u0662\u0660\u0662\u0660-01-01", "",
         "1e9", "tomorrow", "2020-01-01\x00", "99999-01-01"]
WORDS = ["bortezomib", "lenalidomide", "daratumumab", "DARA", "Darzalex", "dexamethasone", "del(17p)",
         "t(4;14)", "1q21+", "VGPR", "CR", "PD", "progression", "toxicity", "fit", "frail", "drug:daratumumab",
         "mkg:Drug", "https://w3id.org/myeloma-kg/drug/daratumumab", "{T}/x", "", " ", "unknown"]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-10**400, 10**400), st.sampled_from([10**4000]),
    st.floats(), st.sampled_from(DATES), st.sampled_from(WORDS), odd_text,
)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5),
    st.dictionaries(st.one_of(st.sampled_from(RECORD_KEYS), text), inner, max_size=5)), max_leaves=25)
therapy_line = st.fixed_dictionaries({}, optional={
    "line": json_values, "drugs": st.one_of(st.lists(st.one_of(st.sampled_from(WORDS), json_values), max_size=4),
                                            json_values),
    "start": st.one_of(st.sampled_from(DATES), json_values), "end": st.sampled_from(DATES),
    "progressionDate": st.sampled_from(DATES), "bestResponse": st.one_of(st.sampled_from(WORDS), json_values),
    "stopReason": st.one_of(st.sampled_from(WORDS), json_values)})
record = st.fixed_dictionaries({}, optional={
    "id": json_values, "age": st.one_of(st.integers(-10**30, 10**30), json_values),
    "ecog": json_values, "creatinineClearance": json_values, "extramedullaryDisease": json_values,
    "imwgFrailty": st.one_of(st.fixed_dictionaries({}, optional={"charlson": json_values, "adl": json_values,
                                                                 "iadl": json_values}), json_values),
    "frailty": json_values, "cytogenetics": st.one_of(st.lists(st.sampled_from(WORDS), max_size=4), json_values),
    "therapyLines": st.one_of(st.lists(therapy_line, max_size=4), json_values),
    "@context": st.one_of(st.sampled_from(["https://w3id.org/myeloma-kg/context.jsonld", "{T}/context.jsonld"]),
                          json_values),
    "@id": st.one_of(st.sampled_from(["https://w3id.org/myeloma-kg/patient/P", "{T}/p", "_:b", ""]), json_values),
    "@type": st.one_of(st.sampled_from(["mkg:Patient", "https://w3id.org/myeloma-kg/ontology#Patient"]), json_values),
    "@graph": json_values,
})


def _dump(value) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)  # NaN and Infinity come out as the words JSON lacks
    except (ValueError, RecursionError):
        return "{}"


def _post_record(fuzz, target, body, content_type):
    for route in ("/api/validate", "/api/recommend"):
        kwargs = {"data": body.encode("utf-8") if isinstance(body, str) else body}
        if content_type is not None:
            kwargs["content_type"] = content_type
        fuzz.send(target, "POST", route, **kwargs)


@budget("records_json")
@given(value=st.one_of(record, record, json_values), content_type=st.sampled_from(CONTENT_TYPES))
@example(value={"id": "T1", "age": 70, "therapyLines": [{"line": 1, "drugs": ["lenalidomide"], "start": "2022-01-01",
                                                          "end": "2023-01-01", "stopReason": "progression"}]},
         content_type="application/json").via("a record that conforms")
def test_records_as_json(fuzz, value, content_type):
    _post_record(fuzz, "records_json", _dump(value), content_type)


TURTLE_PIECES = [
    "@prefix mkg: <https://w3id.org/myeloma-kg/ontology#> .", "@prefix : <{T}/> .", "@base <{T}/> .",
    "PREFIX owl: <http://www.w3.org/2002/07/owl#>", "<P>", "<https://w3id.org/myeloma-kg/patient/P>", "a",
    "mkg:Patient", "mkg:age", "mkg:hasTherapyLine", "mkg:lineNumber", "mkg:startDate", "owl:imports", "<{T}/x.ttl>",
    '"70"^^<http://www.w3.org/2001/XMLSchema#integer>', '"x"^^<http://www.w3.org/2001/XMLSchema#date>', "70",
    "-1e999", "true", "[", "]", "(", ")", ";", ",", ".", "_:b", "<< <a> <b> <c> >>", "{|", "|}", '"""x"""',
    '"x"@en', "\\u0000", "#", "\n", "<>", "<#>", "<../../etc/passwd>", "<file:///etc/passwd>", "mkg:asOfDate",
    '"2020-02-30"^^<http://www.w3.org/2001/XMLSchema#date>', "<http://[::1]/>", "@keywords", "GRAPH", "{", "}",
]
turtle_junk = st.lists(st.one_of(st.sampled_from(TURTLE_PIECES), odd_text), max_size=30).map(" ".join)
JSONLD_CONTEXTS = st.one_of(
    st.sampled_from(["https://w3id.org/myeloma-kg/context.jsonld", "{T}/c.jsonld", "", "_:x", "file:///etc/x",
                     "relative.jsonld"]),
    st.fixed_dictionaries({}, optional={"@vocab": st.sampled_from(["https://w3id.org/myeloma-kg/ontology#", "{T}/",
                                                                   "", "_:"]),
                                        "@base": st.sampled_from(["{T}/", "", "x"]), "@import": st.just("{T}/i"),
                                        "@version": st.sampled_from([1.1, 1.0, "1.1", 2]),
                                        "@protected": json_values, "age": json_values,
                                        "mkg": st.just("https://w3id.org/myeloma-kg/ontology#")}),
    json_values,
)
jsonld_doc = st.fixed_dictionaries({"@context": st.one_of(JSONLD_CONTEXTS, st.lists(JSONLD_CONTEXTS, max_size=3))},
                                   optional={"@id": st.one_of(st.sampled_from(["_:p", "{T}/p", "P", "", "mkg:P"]),
                                                              json_values),
                                             "@type": st.one_of(st.sampled_from(["mkg:Patient", "Patient", "@json"]),
                                                                json_values),
                                             "@graph": st.lists(json_values, max_size=3),
                                             "mkg:age": st.one_of(st.fixed_dictionaries(
                                                 {"@value": json_values, "@type": st.sampled_from(
                                                     ["xsd:integer", "@json", "{T}/t", "@id"])}), json_values),
                                             "@reverse": json_values, "@included": json_values})


@budget("records_text")
@given(body=st.one_of(turtle_junk, jsonld_doc.map(_dump),
                      st.tuples(st.sampled_from(["[", '{"a":', '{"therapyLines":[', "[{", '{"@context":[']),
                                st.integers(10, 100_000)).map(lambda p: p[0] * p[1]),
                      st.integers(4000, 60_000).map(lambda n: '{"id": "T", "age": ' + "9" * n + "}"),
                      st.binary(max_size=300)),
       content_type=st.sampled_from(CONTENT_TYPES))
@example(body="[" * 100_000, content_type="application/json").via("deeply nested JSON")
@example(body='{"a":' * 50_000, content_type=None)
@example(body=b"\xff\xfe{\x00}\x00", content_type="application/json")
@example(body='{"id": "T", "age": ' + "9" * 5000 + "}", content_type="application/json").via("a huge integer")
def test_records_as_turtle_json_ld_and_junk(fuzz, body, content_type):
    _post_record(fuzz, "records_text", body, content_type)


# -- /api/queries/<name> ---------------------------------------------------------------------

NAMES = CATALOG.names()
PARAM_VALUES = ["", " ", "drug:daratumumab", "regimen:DPd", "rec:R8", "mkg:AntiCD38Antibody", "risk:Any1q21Plus",
                "<https://w3id.org/myeloma-kg/drug/daratumumab>", "{T}/x", "<{T}/x>", "http://localhost/",
                "file:///etc/passwd", "urn:x", "javascript:alert(1)", "mkg:", ":", "x:y", "drug:a b", "drug:a>b",
                "true", "false", "TRUE", "1", "-1", "1e999", "NaN", "Infinity", "9" * 5000, "2023-01-01",
                "2020-02-30", "0.5", "' } SERVICE <{T}/> { '", '" } ; DROP ALL ; #', "\x00", "?x", "$x",
                "drug:" + "a" * 10_000]
param_value = st.one_of(st.sampled_from(PARAM_VALUES), odd_text)


@st.composite
def named_query_request(draw):
    if draw(st.integers(0, 9)) == 0:  # an unknown name
        name = draw(st.one_of(st.sampled_from(["..", "../../etc/passwd", "%2e%2e", "search-labels.rq", "SEARCH-LABELS",
                                               "search-labels/", "x" * 3000, "%00", "queries"]),
                              text.filter(lambda t: "?" not in t and "#" not in t)))
        return quote(name, safe="/%.") if draw(st.booleans()) else name, {}
    named = CATALOG.get(draw(st.sampled_from(NAMES)))
    params = {p.name: draw(param_value) for p in named.params if draw(st.integers(0, 3)) > 0}
    if draw(st.integers(0, 5)) == 0:
        params[draw(st.sampled_from(["patient", "query", "x", "__class__"]))] = draw(param_value)
    return named.name, params


@budget("named_queries")
@given(request=named_query_request())
@example(request=("search-labels", {"text": "a"})).via("every named query with its defaults is sent below")
def test_named_queries_with_generated_parameters(fuzz, request):
    name, params = request
    fuzz.send("named_queries", "GET", f"/api/queries/{name}", query_string=params)


def test_every_named_query_answers_with_its_defaults(fuzz):
    for name in NAMES + ["openapi.json"]:
        fuzz.send("named_queries", "GET", f"/api/queries/{name}" if name != "openapi.json" else "/api/openapi.json")
    fuzz.send("named_queries", "GET", "/api/queries")


# -- dereference routes, static files, downloads ------------------------------------------------

KINDS = ["drug", "regimen", "trial", "recommendation", "risk", "outcome", "criterion", "caution", "action",
         "schedule", "publication", "guideline", "identifier", "ontology", "patient", "graph", "static",
         "download", "DRUG", "drugs", ".."]  # a path that starts with // goes in the raw share (the client reads a host)
EXTENSIONS = ["", ".ttl", ".jsonld", ".rdf", ".nt", ".exe", ".html", ".TTL", ".ttl.ttl", "/forest.svg",
              ".svg", ".trig", ".nq", ".", ".ttl%00", ".ttl?x=1", ".jsonld#x", "/", "//", ".php"]
PIECES = ["..", "%2e%2e", "%2E%2E%2F", "..%2f", "%252e%252e", "%00", "%ff", "%zz", "%", "%c0%af", "%u002e", "~",
          "etc", "passwd", "static", "site.css", "vendor", "R8", "DPd", "daratumumab", "NCT03275285", "{T}", ";",
          "&", "=", "'", '"', "<script>", "\u202e", "\U0001f9ec", "\\", "con", "aux", "CON.txt", "a" * 300]


def _local_names(kg) -> list[str]:
    """The local part of every IRI of the graph under the project's base (sampled)."""
    found = set()
    for quad in kg.store.quads_for_pattern(None, None, None, None):
        if quad.subject.__class__.__name__ == "NamedNode" and quad.subject.value.startswith(BASE):
            found.add(quad.subject.value[len(BASE):])
    return sorted(found)


@st.composite
def dereference_request(draw, locals_):
    choice = draw(st.integers(0, 9))
    if choice <= 3:  # a real resource, with an extension
        path = "/" + draw(st.sampled_from(locals_)) + draw(st.sampled_from(EXTENSIONS))
    elif choice <= 7:  # a made-up one
        segments = draw(st.lists(st.one_of(st.sampled_from(PIECES), text.filter(lambda t: "?" not in t and "#" not in t)),
                                 min_size=1, max_size=8))
        path = "/" + draw(st.sampled_from(KINDS)) + "/" + "/".join(segments) + draw(st.sampled_from(EXTENSIONS))
    elif choice == 8:
        path = draw(st.sampled_from(["/static/", "/static/site.css", "/static/query.js", "/static/../../pyproject.toml",
                                     "/static/vendor", "/static/%2e%2e/%2e%2e/pyproject.toml", "/ontology",
                                     "/ontology.ttl", "/ontology.exe", "/ontology.nt", "/download/myeloma-kg.nt",
                                     "/download/myeloma-kg.exe", "/download/myeloma-kg.", "/", "/query",
                                     "/context.jsonld", "/patient", "/%2f%2f{T}"]))
    else:  # very long
        path = "/" + draw(st.sampled_from(KINDS)) + "/" + draw(st.sampled_from(PIECES)) * draw(st.integers(50, 3000))
    headers = {}
    if draw(st.booleans()):
        headers["Accept"] = draw(st.sampled_from(ACCEPTS))
    if draw(st.integers(0, 4)) == 0:
        headers["Range"] = draw(st.sampled_from(["bytes=0-10", "bytes=999999999-", "bytes=-0", "bytes=5-1",
                                                 "bytes=0-0,1-1,2-2,3-3", "pages=1", "bytes=a-b"]))
    if draw(st.integers(0, 6)) == 0:
        headers["If-Modified-Since"] = draw(st.sampled_from(["Thu, 01 Jan 1970 00:00:00 GMT", "yesterday", "\x00"]))
    method = draw(st.sampled_from(["GET", "GET", "GET", "HEAD", "POST", "OPTIONS"]))
    return method, path, headers


@pytest.fixture(scope="module")
def local_names(kg):
    return _local_names(kg)


def test_dereference_routes(fuzz, local_names):
    @budget("dereference")
    @given(request=dereference_request(local_names))
    def run(request):
        method, path, headers = request
        fuzz.send("dereference", method, path, headers=headers)

    run()


# -- /search ---------------------------------------------------------------------------------


@budget("search")
@given(q=st.one_of(odd_text, st.sampled_from(['") } SERVICE <{T}/> { ("', "\\", ".*", "(", "%", "_", "\x00", "a" * 10_000,
                                              "dara", "DPd", "1q21", "'", '"""', "\\u0022"]),
                   st.lists(st.sampled_from(SPARQL_WORDS), max_size=10).map(" ".join)),
       repeated=st.booleans())
def test_search(fuzz, q, repeated):
    params = [("q", q)] + ([("q", "dara")] if repeated else [])
    fuzz.send("search", "GET", "/search", query_string=params)


# -- a share through the real server (waitress), as raw bytes --------------------------------------


class RealServer:
    def __init__(self, tmp: Path) -> None:
        self.port = _free_port()
        self.log = tmp / "server.log"
        env = {**os.environ, "MYELOMA_KG_QUERY_TIMEOUT_S": str(REAL_SERVER_LIMIT_S),
               "MYELOMA_KG_MAX_RESULT_ROWS": "2000", "MYELOMA_KG_HOME": str(ROOT)}
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "myeloma_kg.cli.main", "serve", "--port", str(self.port)],
                                            stdout=out, stderr=subprocess.STDOUT, env=env)
        self.url = f"http://127.0.0.1:{self.port}"

    def raw(self, request: bytes, timeout: float) -> tuple[int, bytes, float]:
        """Send bytes as they are; (status, whole answer, seconds).  Status 0: the server closed.

        Our side stays open while the server works: it reads ahead on a connection (so the app can
        tell that a client has gone), and a closed side reads as a client that has gone, whose
        answer is dropped.  A request that promised more bytes than it sent is cut short by
        closing our side once nothing has come back past the query time limit."""
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as conn:
            conn.sendall(request)
            conn.settimeout(REAL_SERVER_LIMIT_S + 1)
            chunks: list[bytes] = []
            deadline = started + timeout
            cut = False
            while time.monotonic() < deadline:
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    if chunks or cut:
                        break
                    conn.shutdown(socket.SHUT_WR)  # nothing yet: no more bytes are coming
                    cut = True
                    continue
                if not chunk:
                    break
                chunks.append(chunk)
        answer = b"".join(chunks)
        status = int(answer[9:12]) if answer.startswith(b"HTTP/1.") and answer[9:12].isdigit() else 0
        return status, answer, time.monotonic() - started

    def stop(self) -> str:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        return self.log.read_text(errors="replace")


def _real_count(server: RealServer) -> int:
    status, answer, _ = server.raw(b"GET /sparql?query=" + quote(COUNT_ALL).encode() + b" HTTP/1.1\r\nHost: x\r\n"
                                   b"Accept: text/csv\r\nConnection: close\r\n\r\n", 10)
    assert status == 200, answer[:300]
    return int(answer.rsplit(b"\r\n\r\n", 1)[1].split()[1])


RAW_PATHS = ["/sparql", "/search", "/drug/daratumumab", "/api/queries/search-labels", "/static/site.css",
             "/api/recommend", "/regimen/DPd.ttl", "/..", "/%2e%2e/%2e%2e/etc/passwd", "//{T}", "*", "{T}/sparql",
             "/drug/%c0%ae%c0%ae/", "/\x00", "/drug/\xff\xfe", "/" + "a" * 20_000, "/search?q=%ZZ", "/sparql?query=%"]


@st.composite
def raw_request(draw) -> bytes:
    method = draw(st.sampled_from([b"GET", b"POST", b"HEAD", b"OPTIONS", b"CONNECT", b"TRACE", b"G\x00T", b"get",
                                   b"GET GET"]))
    path = draw(st.one_of(st.sampled_from(RAW_PATHS), st.binary(max_size=60).map(lambda b: b"/" + b.replace(b" ", b"")),
                          st.tuples(st.sampled_from(["/sparql?query=", "/search?q=", "/api/queries/drug-identifiers?drug="]),
                                    st.one_of(keyword_soup, mutated_query(), odd_text))
                          .map(lambda p: p[0] + quote(p[1], safe="")),
                          ))
    path = path.encode("utf-8", "surrogateescape") if isinstance(path, str) else path
    version = draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.1 x", b""]))
    headers = [b"Host: x", b"Connection: close"]
    headers += draw(st.lists(st.sampled_from([
        b"Accept: " + a.encode("latin-1", "replace") for a in ACCEPTS[:20]] + [
        b"Content-Type: application/sparql-query", b"Content-Type: application/json", b"X: \xff\xfe",
        b"Range: bytes=999999999-", b"Accept-Encoding: gzip;q=x", b": novalue", b"No-Colon", b"Host: \x00",
        b"X-Forwarded-For: {T}", b"Content-Type: multipart/form-data; boundary="]), max_size=4))
    body = draw(st.sampled_from([b"", b"SELECT * WHERE { ?s ?p ?o } LIMIT 1", b'{"id": "T", "age": [[]]}',
                                 b"[" * 5000, b"query=ASK%20%7B%7D", b"\xff\x00"]))
    framing = draw(st.sampled_from(["length", "length", "chunked", "bad-chunked", "huge-length", "odd-length"]))
    if framing == "length":
        headers.append(b"Content-Length: " + str(len(body)).encode())
    elif framing == "chunked":
        headers.append(b"Transfer-Encoding: chunked")
        body = (b"%x\r\n" % len(body) + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
    elif framing == "bad-chunked":
        headers.append(b"Transfer-Encoding: chunked")
        body = b"zz\r\n" + body + b"\r\n0\r\n\r\n"
    elif framing == "huge-length":
        headers.append(b"Content-Length: 99999999999")
    else:
        headers.append(b"Content-Length: " + draw(st.sampled_from([b"-1", b"1e3", b"0x10", b"", b"5, 5"])))
    line = method + b" " + path.replace(b"{T}", b"http://127.0.0.1:{P}") + (b" " + version if version else b"")
    return line + b"\r\n" + b"\r\n".join(headers) + b"\r\n\r\n" + body


def test_raw_requests_to_the_real_server(fuzz, tmp_path):
    server = RealServer(tmp_path)
    try:
        assert _wait_for(server.url + "/sparql"), server.stop()[-2000:]
        before = _real_count(server)

        @budget("waitress_raw")
        @given(request=raw_request())
        @example(request=b"GET /sparql?query=" + quote("SELECT * WHERE { ?s ?p ?o } LIMIT 1").encode()
                 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").via("a plain query")
        def run(request):
            request = request.replace(b"{P}", str(fuzz.trap.port).encode())
            status, answer, elapsed = server.raw(request, REAL_SERVER_LIMIT_S + MARGIN_S + 1)
            SENT["waitress_raw"] += 1
            STATUSES[("waitress_raw", status)] += 1
            body = answer.partition(b"\r\n\r\n")[2]
            check_answer(f"raw {request[:1500]!r}", status, body, elapsed, REAL_SERVER_LIMIT_S)

        run()
        assert server.process.poll() is None, "the server stopped"
        assert _real_count(server) == before
    finally:
        output = server.stop()
    assert "Traceback" not in output, output[-3000:]


# -- what the fuzz found (each was an HTTP 500 before the fix in src/myeloma_kg/web/) ----------------

FOUND = [  # (method, path, options, the status now)
    # RecursionError; now refused (422) by the nesting limit before the text is parsed
    ("POST", "/api/validate", {"data": "[" * 100_000, "content_type": "application/json"}, 422),
    ("POST", "/api/recommend", {"data": '{"a":' * 50_000, "content_type": "application/json"}, 422),
    ("POST", "/api/recommend", {"data": '{"id": "T", "age": 1' + "0" * 5000 + "}",  # int() digit limit
                                "content_type": "application/json"}, 400),
    ("GET", "/drug/a b", {}, 404),  # ox.NamedNode refused the IRI: ValueError
    ("GET", "/risk/a%60b.ttl", {}, 404),
    ("GET", "/regimen/a\x16b/forest.svg", {}, 404),
    ("GET", "/static/site.css", {"headers": {"Range": "bytes=999999999-"}}, 416),  # an HTTPException sent to the 500 handler
]


def test_inputs_that_were_server_errors(fuzz):
    for method, path, options, status in FOUND:
        response = fuzz.send("found", method, path, **options)
        assert response.status_code == status, (path, response.get_data(as_text=True)[:300])


def test_the_patient_page_reads_deeply_nested_json_as_unreadable(fuzz):
    import re

    page = fuzz.client.get("/patient").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    for record, status in (("[" * 100_000, 422), ('{"age": 1' + "0" * 5000 + "}", 400)):  # too deep; not a number
        response = fuzz.send("found", "POST", "/patient", data={"csrf_token": token, "record": record,
                                                               "as_of": "2026-01-01"})
        assert response.status_code == status


# -- after the run -----------------------------------------------------------------------------


def test_after_the_fuzz_the_graph_is_unchanged_no_connection_was_made_and_enough_was_sent(fuzz, kg):
    if not SENT:
        pytest.skip("run the whole file: this test checks what the fuzz tests above sent")
    assert (len(kg.store), endpoint_count(fuzz.client)) == fuzz.before
    assert fuzz.trap.connections(wait=0.3) == 0
    total = sum(SENT.values())
    summary = ", ".join(f"{k} {v}" for k, v in sorted(SENT.items()))
    print(f"\nfuzz: {total} requests ({summary})")
    print("statuses: " + ", ".join(f"{t}/{s}: {n}" for (t, s), n in sorted(STATUSES.items())))
    assert total >= AT_LEAST, f"only {total} requests were sent: {summary}"


# -- a known bug, not fixed here ----------------------------------------------------

SLOW_PARSES = {
    # rdflib's parser (pyparsing) or its algebra translation takes time that grows faster than the
    # text: about 6.7 s for this 2 KB query on the development machine, 56 s at 8 KB.  When the
    # check ran in the request thread, under a lock, one such request stalled the whole endpoint;
    # it now runs in a query worker, bounded by the time limit.
    "object-list": "SELECT * WHERE { ?s ?p " + ",".join(["1"] * 1000) + " }",
    # ~3.5 s at 8 KB, 6 s at 16 KB.
    "additions": "SELECT * WHERE { BIND(" + "+".join(["1"] * 4000) + " AS ?x) }",
}


@pytest.mark.parametrize("case", sorted(SLOW_PARSES))
def test_a_slow_parse_is_stopped_at_the_limit_and_stalls_nothing(secure_app, case):
    limit = secure_app.config["SETTINGS"].query_timeout_s
    slow: list[float] = []

    def send_slow():
        started = time.monotonic()
        secure_app.test_client().post("/sparql", data=SLOW_PARSES[case], content_type="application/sparql-query")
        slow.append(time.monotonic() - started)

    thread = threading.Thread(target=send_slow)
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    cheap_query = f"ASK {{ ?s a mkg:Drug }} # {time.time_ns()}"  # a text the checker has not cached
    cheap = secure_app.test_client().get("/sparql", query_string={"query": cheap_query})
    cheap_s = time.monotonic() - started
    thread.join(timeout=120)
    assert cheap.status_code == 200
    assert cheap_s < 1.0, f"a cheap query waited {cheap_s:.1f} s behind the slow parse"
    assert slow and slow[0] <= limit + MARGIN_S, f"the slow parse took {slow[0]:.1f} s"
