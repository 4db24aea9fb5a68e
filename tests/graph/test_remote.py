"""Remote triple stores: Oxigraph and Virtuoso servers in their default configuration, started
and stopped by the tests (tests/stores.py), against the embedded store.

Neither server makes its default graph the union of the named graphs here, so these tests also
show that every query states its dataset.  The named queries are written so that Virtuoso gives
the embedded store's answers (see below for the constructs they avoid), and are compared with
no allowance for either engine.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import time

import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from myeloma_kg import Settings, load_graph
from myeloma_kg.cli.main import main
from myeloma_kg.errors import StoreError
from myeloma_kg.graph.remote import RemoteStore, bind_values, own_dataset
from myeloma_kg.graph.store import META_GRAPH

from conftest import FIXTURES, ROOT, _free_port
from stores import ENGINE, LOAD_ENV, load_into, oxigraph_read_only, oxigraph_server, virtuoso_env, virtuoso_server

EXAMPLES = ROOT / "examples" / "patients"
GRAPH = "https://w3id.org/myeloma-kg/graph/"

# Named queries Virtuoso 7.2 cannot compile (internal errors of its SPARQL-to-SQL compiler), each
# with the code of its error; a query listed here is checked to fail with that code only.  There
# are none: each construct that did this has been written another way that gives the embedded
# store the same answer -
#   a boolean expression as an argument of COALESCE or IF (SP031): the value is made with
#     STRDT(IF(condition, "true", "false"), xsd:boolean)  (anti-cd38-overall-survival)
#   EXISTS { ?drug skos:exactMatch ?object } with ?object from BIND(IRI(...)) (SP031):
#     OPTIONAL { ?drug skos:exactMatch ?m FILTER(?m = ?object) } and BOUND(?m)  (drug-mappings)
#   COALESCE around an aggregate in a subquery joined with outer patterns (SQ156), and IF over
#     aggregates (SQ156): the COALESCE or IF is done in the outer query  (trial-outcomes, search-labels)
#   ORDER BY an expression of an aggregate's alias (SP031): the grouping is a subquery and the
#     ordering is done outside it  (search-labels)
# Three more of its ways give other answers rather than errors; the queries avoid them as well,
# so Virtuoso's answers are compared as strictly as Oxigraph's:
#   a concatenation of nothing gives "" (Oxigraph: no value): a GROUP_CONCAT over an OPTIONAL
#     part is done in an OPTIONAL subquery that only sees the rows that have a value
#     (ontology-terms, supportive-care-actions, regimens-of-drug-class, search-labels)
#   a boolean it computes (EXISTS, a comparison, even the constants true and false) comes back
#     as the integer 1 or 0: STRDT(IF(..., "true", "false"), xsd:boolean)  (regimens-for-clinical-state)
#   MIN over language-tagged literals is unreliable (no value, or not the least): the least of
#     CONCAT(STR(?m), "\t", LANG(?m)) is taken and the literal rebuilt from it  (search-labels)
VIRTUOSO_CANNOT_COMPILE: dict[str, str] = {}


# -- comparing answers ---------------------------------------------------------------------

def _concatenated(text: str) -> dict[str, str]:
    """The variables that take a GROUP_CONCAT's value, each with its separator."""
    found: dict[str, str] = {}
    for match in re.finditer(r"GROUP_CONCAT\s*\(", text, re.IGNORECASE):
        rest = text[match.end():]
        depth, end = 1, 0
        while depth and end < len(rest):  # to the parenthesis that closes the GROUP_CONCAT
            depth += {"(": 1, ")": -1}.get(rest[end], 0)
            end += 1
        inside = rest[: end - 1]
        separator = re.search(r"separator\s*=\s*(?:\"([^\"]*)\"|'([^']*)')", inside, re.IGNORECASE)
        name = re.search(r"\bAS\s+\?(\w+)", rest, re.IGNORECASE)
        if name:
            found[name.group(1)] = (separator.group(1) or separator.group(2) or "") if separator else " "
    # a concatenation given a default further out, (COALESCE(?list, "") AS ?shown), is one too
    for match in re.finditer(r"COALESCE\s*\(\s*\?(\w+)\s*,\s*\"\"\s*\)\s*AS\s+\?(\w+)", text, re.IGNORECASE):
        if match.group(1) in found:
            found[match.group(2)] = found[match.group(1)]
    return found


FIGURES: dict[str, dict] = {}  # what the comparison found on each engine (shown with -s)


@pytest.fixture(scope="module", autouse=True)
def _show_figures():
    yield
    from stores import TIMINGS

    for engine, figures in FIGURES.items():
        print(f"\n{engine}: {json.dumps(figures)}")
    if TIMINGS:
        print("timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in TIMINGS.items()))


def _rows(result, text: str) -> set[tuple]:
    """The rows as comparable tuples of cells.

    Terms are compared whole (value, datatype, language), blank nodes by kind only.  A
    GROUP_CONCAT value is compared as the sorted list of its parts: SPARQL leaves the order
    open and makes it a simple literal, where Oxigraph keeps a language tag all parts share.
    """
    concatenated = _concatenated(text)
    names = [v.value for v in result.variables]
    rows = set()
    for solution in result:
        cells = []
        for n in names:
            term = solution[n]
            if term is None:
                cells.append(None)
            elif isinstance(term, ox.BlankNode):
                cells.append("_:")
            elif n in concatenated:
                cells.append(("concat",) + tuple(sorted(term.value.split(concatenated[n]))))
            else:
                cells.append(str(term))
        rows.add(tuple(cells))
    return rows


def _variants(named, kg):
    """The query's bindings: the defaults, then other values of each parameter."""
    if not any(p.required and p.default is None for p in named.params):
        yield {}
    for param in named.params:
        if param.type == "boolean":
            yield {param.name: "true"}
        elif param.type == "string" and param.required:
            for text in ("dara", "1q21", "refractory"):
                yield {param.name: text}
        elif param.type == "iri" and param.default is not None:
            default = named.bind({})[param.name]
            others = kg.query(f"SELECT DISTINCT ?x WHERE {{ {default} a ?t . ?x a ?t . FILTER(isIRI(?x) && ?x != {default}) }} "
                              "ORDER BY ?x LIMIT 4")
            for solution in others:
                yield {param.name: solution["x"].value}


def _comparable(named) -> bool:
    # patient queries need a patient's record in the store: they are compared through the
    # recommender below; the federated query needs a second endpoint (its own test)
    return not any(p.required and p.default is None and p.type != "string" for p in named.params)


# -- load ----------------------------------------------------------------------------------

def test_load_says_what_it_put_there_and_counts_it_back(store_url, kg):
    remote = RemoteStore(store_url)
    counts = {s["g"].value: int(s["n"].value) for s in remote.query(
        "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g")}
    for graph in kg.graph_names(inferred=True):
        assert counts[graph.value] == kg.count(graph)
    output = load_into(store_url, LOAD_ENV.get(store_url))
    for graph in kg.graph_names(inferred=True):
        assert f"{graph.value}: {kg.count(graph)} triples sent, {kg.count(graph)} counted back" in output
    # and the meta graph: one triple, the hash of the files, so the store's copy knows its version
    assert f"{META_GRAPH.value}: 1 triples sent, 1 counted back" in output
    total = sum(kg.count(g) for g in kg.graph_names(inferred=True)) + 1
    assert f"loaded and checked: {len(kg.graph_names(inferred=True)) + 1} graphs, {total} triples" in output


def test_a_remote_copy_knows_the_version_and_content_hash_of_what_was_loaded(store_url, kg):
    from myeloma_kg.graph.version import graph_version, remote_version

    copy = load_graph(Settings.load({"store": store_url}, environ={}))
    assert graph_version(copy) == graph_version(kg)
    # the store knows the graph it holds, not the rules of the process that asks it
    assert remote_version(copy.remote) == dataclasses.replace(graph_version(kg), rules_hash=None)
    assert graph_version(kg).content_hash == f"sha256:{kg.digest}"


def test_each_store_holds_the_same_graphs_up_to_blank_node_names(store_url, kg):
    from rdflib.compare import isomorphic

    copy = load_graph(Settings.load({"store": store_url}, environ={}))
    assert [g.value for g in copy.graph_names(inferred=True)] == [g.value for g in kg.graph_names(inferred=True)]
    for graph in kg.graph_names(inferred=True):
        assert isomorphic(copy.to_rdflib([graph]), kg.to_rdflib([graph])), graph.value


@pytest.fixture
def empty_oxigraph(tmp_path):
    with oxigraph_server(tmp_path / "empty") as url:
        yield url


def test_load_exits_1_when_the_store_does_not_hold_what_was_sent(empty_oxigraph, monkeypatch):
    counted = RemoteStore.count
    monkeypatch.setattr(RemoteStore, "count",
                        lambda self, graph: counted(self, graph) - (1 if graph.endswith("/guideline") else 0))
    result = CliRunner().invoke(main, ["load", "--store", empty_oxigraph])
    assert result.exit_code == 1, result.output
    sent, held = map(int, re.search(r"error: \S+/guideline: (\d+) triples sent, but the store holds (\d+)",
                                    result.output).groups())
    assert held == sent - 1
    assert "does not hold what was loaded (1 of 4 graphs differ)" in result.output


def test_load_keeps_blank_node_structures_whole_across_requests(empty_oxigraph, kg, monkeypatch):
    from rdflib.compare import isomorphic

    monkeypatch.setattr("myeloma_kg.graph.remote.CHUNK", 40)  # many requests, with groups larger than one
    load_into(empty_oxigraph)
    copy = load_graph(Settings.load({"store": empty_oxigraph}, environ={}))
    for graph in kg.graph_names(inferred=True):
        assert isomorphic(copy.to_rdflib([graph]), kg.to_rdflib([graph])), graph.value


def test_load_drops_project_graphs_that_are_no_longer_part_of_the_graph(empty_oxigraph):
    remote = RemoteStore(empty_oxigraph)
    remote.update(f"INSERT DATA {{ GRAPH <{GRAPH}old> {{ <urn:a> <urn:b> <urn:c> }} GRAPH <urn:other> {{ <urn:a> <urn:b> <urn:c> }} }}")
    output = load_into(empty_oxigraph)
    assert f"{GRAPH}old: dropped" in output
    assert f"{GRAPH}old" not in RemoteStore(empty_oxigraph).graphs()
    # a graph outside the project's is left alone
    assert bool(remote.query("ASK FROM NAMED <urn:other> WHERE { GRAPH <urn:other> { ?s ?p ?o } }"))


def test_a_store_without_the_graph_is_an_error_not_an_empty_answer(empty_oxigraph):
    result = CliRunner().invoke(main, ["query", "regimen-outcomes", "--store", empty_oxigraph])
    assert result.exit_code == 2, result.output
    assert "holds none of the graph's named graphs" in result.output and "myeloma-kg load" in result.output


# -- queries -------------------------------------------------------------------------------

def test_named_queries_answer_the_same_on_the_store(store_url, kg, catalog):
    remote = RemoteStore(store_url)
    on_virtuoso = ENGINE[store_url] == "virtuoso"
    compared = queries = variants = rows = 0
    refused: dict[str, int] = {}
    for named in catalog:
        if not _comparable(named):
            continue
        queries += 1
        for values in _variants(named, kg):
            variants += 1
            bindings = named.bind(values)
            local = _rows(kg.query(named.text, bindings), named.text)
            try:
                answer = remote.query(named.text, bindings)
            except Exception as exc:
                code = VIRTUOSO_CANNOT_COMPILE.get(named.name) if on_virtuoso else None
                assert code and code in str(exc), f"{named.name} {values}: {exc}"
                refused[named.name] = refused.get(named.name, 0) + 1
                continue
            there = _rows(answer, named.text)
            assert there == local, f"{named.name} {values}: only here {sorted(local - there, key=str)[:3]}, " \
                                   f"only there {sorted(there - local, key=str)[:3]}"
            compared += 1
            rows += len(local)
    FIGURES[ENGINE[store_url]] = {"queries": queries, "variants": variants, "compared": compared, "rows": rows,
                                  "refused": refused}
    assert queries >= 24 and variants >= 85 and compared == variants - sum(refused.values())
    if not on_virtuoso:
        assert not refused


def test_a_query_with_its_own_dataset_keeps_it(store_url, kg):
    remote = RemoteStore(store_url)
    ontology, guideline = GRAPH + "ontology", GRAPH + "guideline"
    count = "SELECT (COUNT(*) AS ?n) FROM <%s> WHERE { ?s ?p ?o }"
    assert int(next(iter(remote.query(count % ontology)))["n"].value) == kg.count(ox.NamedNode(ontology))
    named = f"SELECT DISTINCT ?g FROM NAMED <{guideline}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"
    assert [s["g"].value for s in remote.query(named)] == [guideline]
    # the dataset given by the caller instead of the project's graphs
    assert int(next(iter(remote.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", default_graphs=[guideline])))[
        "n"].value) == kg.count(ox.NamedNode(guideline))
    graphs = remote.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", named_graphs=[ontology])
    assert [s["g"].value for s in graphs] == [ontology]
    # without either, the default graph is the union of the project's graphs and nothing else
    total = int(next(iter(remote.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")))["n"].value)
    assert total == kg.count()


def test_own_dataset_is_read_from_the_query_code_only():
    assert own_dataset("SELECT * FROM <urn:g> WHERE { ?s ?p ?o }")
    assert own_dataset("SELECT * from named graph:ontology WHERE { GRAPH ?g { ?s ?p ?o } }")
    assert not own_dataset('SELECT * WHERE { ?s ?p "FROM <urn:g>" } # FROM <urn:h>')
    assert not own_dataset("SELECT * WHERE { ?s <urn:p#FROM> ?o }")


def test_query_command_runs_on_the_remote_store(store_url):
    result = CliRunner().invoke(main, ["query", "regimen-pfs-in-subgroup", "--store", store_url,
                                       "-p", "regimen=regimen:IsaPd", "-p", "subgroup=risk:Gain1q21", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "0.5" in result.output and "NCT02990338" in result.output


def test_a_store_that_is_down_gets_a_clear_message_and_a_bounded_wait():
    url = f"http://127.0.0.1:{_free_port()}/query"
    started = time.monotonic()
    with pytest.raises(StoreError, match="did not answer"):
        RemoteStore(url, timeout_s=2).query("ASK { ?s ?p ?o }", default_graphs=[GRAPH + "ontology"])
    assert time.monotonic() - started < 5
    result = CliRunner().invoke(main, ["query", "drug-identifiers", "--store", url])
    assert result.exit_code == 2 and "did not answer" in result.output and "Traceback" not in result.output


def test_bound_values_cannot_change_the_query():
    text = bind_values("SELECT ?x WHERE { ?x ?p ?o }", {"x": ox.Literal('a" } ; DROP ALL ; #')})
    assert 'VALUES (?x) { ("a\\" } ; DROP ALL ; #") }' in text


def test_bound_values_go_after_the_first_where_of_the_code():
    text = bind_values('# WHERE { in a comment\nSELECT ?x ("WHERE {" AS ?y) WHERE { ?x ?p ?o }', {"x": ox.NamedNode("urn:a")})
    assert text.endswith("WHERE {\n  VALUES (?x) { (<urn:a>) }\n ?x ?p ?o }")


# -- the rules and the server on a remote store ----------------------------------------------

def _ordered(value):  # list order is not part of the contract; compare contents
    if isinstance(value, dict):
        return {k: _ordered(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((_ordered(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


def test_recommend_on_the_remote_store_gives_the_same_result(store_url):
    args = ["recommend", str(EXAMPLES / "dara-refractory-long-ago.json"), "--as-of", "2026-11-24", "--format", "json"]
    local = CliRunner().invoke(main, args)
    remote = CliRunner().invoke(main, args + ["--store", store_url])
    assert local.exit_code == remote.exit_code == 0, remote.output
    assert _ordered(json.loads(remote.output)) == _ordered(json.loads(local.output))


def test_every_patient_example_gets_the_same_recommendation_on_the_store(store_url, kg):
    from myeloma_kg.patients.recommend import Recommender

    local = Recommender(kg)
    remote = Recommender(load_graph(Settings.load({"store": store_url}, environ={})))
    compared = 0
    for path in sorted(EXAMPLES.glob("*.json")):
        text = path.read_text()
        results = []
        for recommender in (local, remote):
            outcome = recommender.recommend(recommender.read(text, as_of=dt.date(2026, 11, 24)))
            results.append(_ordered(outcome.recommendation))
        assert results[0] == results[1], path.name
        compared += 1
    assert compared >= 10


def test_the_web_app_serves_a_remote_store(store_url):
    from myeloma_kg.web import create_app

    settings = Settings.load({"store": store_url}, environ={})
    app = create_app(settings, load_graph(settings))
    client = app.test_client()
    answer = client.get("/sparql", query_string={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?r a mkg:AntiCD38Regimen }"})
    assert answer.status_code == 200 and answer.json["results"]["bindings"][0]["n"]["value"] == "15"
    assert client.post("/sparql", data={"update": "DROP ALL"}).status_code == 400
    assert client.get("/regimen/IsaKd").status_code == 200
    app.extensions["sparql"].close()


# -- Virtuoso's own ways -------------------------------------------------------------------

def test_virtuoso_refuses_anonymous_updates_with_a_hint_until_granted(virtuoso):
    result = CliRunner().invoke(main, ["load", "--store", virtuoso.url])
    assert result.exit_code == 2, result.output
    assert "SPARQL_UPDATE" in result.output and "/sparql-auth" in result.output
    # the update endpoint derived from /sparql (/update) does not exist there: /sparql is used
    virtuoso.isql('GRANT SPARQL_UPDATE TO "SPARQL";')
    try:
        assert "loaded and checked" in load_into(virtuoso.url)
    finally:
        virtuoso.isql('REVOKE SPARQL_UPDATE FROM "SPARQL";')


@pytest.fixture(scope="module")
def small_virtuoso(tmp_path_factory, virtuoso):
    """A Virtuoso that stops at 1,000 result rows (its default is 10,000)."""
    with virtuoso_server(tmp_path_factory.mktemp("virtuoso-small"), max_rows=1000) as server:
        load_into(server.url, virtuoso_env(server))
        yield server


def test_a_result_cut_at_the_row_limit_is_an_error_not_a_short_answer(small_virtuoso):
    remote = RemoteStore(small_virtuoso.url)
    with pytest.raises(StoreError, match="limit of 1000 result rows"):
        remote.query("SELECT * WHERE { ?s ?p ?o }")
    assert len(list(remote.query("SELECT * WHERE { ?s ?p ?o } LIMIT 1000"))) == 1000
    with pytest.raises(StoreError, match=r"sent \d+ of the \d+ triples .*ResultSetMaxRows"):
        load_graph(Settings.load({"store": small_virtuoso.url}, environ={}))


# -- federation (a second, read-only Oxigraph) ------------------------------------------------

@pytest.fixture(scope="module")
def rxnorm_endpoint(tmp_path_factory):
    fixture = FIXTURES / "rxnorm" / "rxnorm-as-rdf.ttl"
    with oxigraph_read_only(tmp_path_factory.mktemp("rxnorm-rdf"), fixture) as url:
        yield url


def test_federated_query_joins_the_guideline_with_rxnorm_elsewhere(rxnorm_endpoint):
    result = CliRunner().invoke(main, ["query", "federated-branded-products", "-p", f"rxnormEndpoint={rxnorm_endpoint}",
                                       "--format", "csv"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any("daratumumab" in line and "Darzalex" in line for line in lines)
    assert any("lenalidomide" in line and "Revlimid" in line for line in lines)
    assert any("recommendation/R2" in line for line in lines if "Revlimid" in line)


def test_the_public_endpoint_still_refuses_service():
    from myeloma_kg.errors import SparqlRequestError
    from myeloma_kg.sparql.guard import check_query

    with pytest.raises(SparqlRequestError, match="SERVICE"):
        check_query((ROOT / "queries" / "federated-branded-products.rq").read_text())


def test_the_endpoint_gives_a_remote_store_the_dataset_and_base_of_the_protocol(store_url, make_app):
    """Each way of stating a dataset, and relative IRIs, get the embedded endpoint's answer."""
    from myeloma_kg.web import create_app

    settings = Settings.load({"store": store_url}, environ={})
    remote = create_app(settings, load_graph(settings)).test_client()
    embedded = make_app().test_client()
    inferred, guideline, ontology = GRAPH + "inferred", GRAPH + "guideline", GRAPH + "ontology"
    count = "SELECT (COUNT(*) AS ?n) {} WHERE {{ ?s ?p ?o }}"
    graphs = "SELECT DISTINCT ?g {} WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }} ORDER BY ?g"
    cases = [
        {"query": count.format("")},
        {"query": count.format(f"FROM <{inferred}>")},
        {"query": count.format(f"FROM NAMED <{guideline}>")},
        {"query": graphs.format(f"FROM <{inferred}>")},
        {"query": graphs.format(f"FROM NAMED <{guideline}>")},
        {"query": graphs.format(""), "default-graph-uri": inferred},
        {"query": graphs.format(""), "named-graph-uri": [ontology, inferred]},
        {"query": count.format(""), "named-graph-uri": ontology},
        {"query": count.format(f"FROM <{inferred}>"), "default-graph-uri": guideline},
        {"query": graphs.format(f"FROM NAMED <{inferred}>"), "named-graph-uri": ontology},
        {"query": "SELECT ?x WHERE { BIND(<s> AS ?x) }"},
        {"query": "BASE <data/> SELECT ?x WHERE { BIND(<s> AS ?x) }"},
    ]
    for params in cases:
        there, here = remote.get("/sparql", query_string=params), embedded.get("/sparql", query_string=params)
        assert there.status_code == here.status_code == 200, (params, there.get_data(as_text=True))
        rows = [[(k, v["value"]) for k, v in sorted(row.items())] for row in there.json["results"]["bindings"]]
        assert rows == [[(k, v["value"]) for k, v in sorted(row.items())] for row in here.json["results"]["bindings"]], \
            params
    built = remote.get("/sparql", query_string={"query": "CONSTRUCT { <s> <p> 1 } WHERE {}"},
                       headers={"Accept": "application/n-triples"})
    assert built.status_code == 200 and built.data.decode().startswith("<http://localhost/s> <http://localhost/p>")
    remote.application.extensions["sparql"].close()
