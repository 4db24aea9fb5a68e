"""A remote triple store: a real Oxigraph server, started and stopped by the tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from myeloma_kg.cli import main
from myeloma_kg.errors import StoreError
from myeloma_kg.remote import RemoteStore, bind_values

from conftest import _free_port, _wait_for

OXIGRAPH = shutil.which("oxigraph") or str(Path(sys.executable).with_name("oxigraph"))
pytestmark = pytest.mark.skipif(not Path(OXIGRAPH).exists(), reason="the oxigraph server (pip install oxigraph) is missing")


@pytest.fixture(scope="module")
def oxigraph_url(tmp_path_factory):
    port = _free_port()
    location = tmp_path_factory.mktemp("oxigraph")
    process = subprocess.Popen([OXIGRAPH, "serve", "--location", str(location), "--bind", f"127.0.0.1:{port}",
                                "--union-default-graph"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/query"
    assert _wait_for(f"http://127.0.0.1:{port}/"), "the Oxigraph server did not start"
    result = CliRunner().invoke(main, ["load", "--store", url])
    assert result.exit_code == 0, result.output
    yield url
    process.terminate()
    process.wait(timeout=10)


def _cell(term) -> str | None:
    """A cell, with GROUP_CONCAT lists put in order (engines concatenate in different orders)."""
    if term is None:
        return None
    text = term.value if hasattr(term, "value") else str(term)
    for separator in (" or ", ", ", "|", "; ", " / "):
        if separator in text:
            return separator.join(sorted(text.split(separator)))
    return text


def _rows(result) -> set[tuple]:
    names = [v.value for v in result.variables]
    return {tuple(_cell(s[n]) for n in names) for s in result}


def test_load_puts_every_named_graph_there(oxigraph_url, kg):
    remote = RemoteStore(oxigraph_url)
    counts = {str(s["g"]): int(s["n"].value) for s in remote.query(
        "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g")}
    for graph in kg.graph_names(inferred=True):
        assert counts[str(graph)] == kg.count(graph)


def test_named_queries_answer_the_same_on_both_stores(oxigraph_url, kg, catalog):
    remote = RemoteStore(oxigraph_url)
    compared = 0
    for named in catalog:
        if any(p.required and p.default is None for p in named.params):
            continue
        bindings = named.bind({})
        local = kg.query(named.text, bindings)
        there = remote.query(named.text, bindings)
        assert _rows(there) == _rows(local), named.name
        compared += 1
    assert compared >= 18


def test_query_command_runs_on_the_remote_store(oxigraph_url):
    result = CliRunner().invoke(main, ["query", "regimen-pfs-in-subgroup", "--store", oxigraph_url,
                                       "-p", "regimen=regimen:IsaPd", "-p", "subgroup=risk:Gain1q21", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "0.5" in result.output and "NCT02990338" in result.output


def test_a_store_that_is_down_gets_a_clear_message_and_a_bounded_wait():
    url = f"http://127.0.0.1:{_free_port()}/query"
    started = time.monotonic()
    with pytest.raises(StoreError, match="did not answer"):
        RemoteStore(url, timeout_s=2).query("ASK { ?s ?p ?o }")
    assert time.monotonic() - started < 5
    result = CliRunner().invoke(main, ["query", "drug-identifiers", "--store", url])
    assert result.exit_code == 2 and "did not answer" in result.output and "Traceback" not in result.output


def test_bound_values_cannot_change_the_query():
    import pyoxigraph as ox

    text = bind_values("SELECT ?x WHERE { ?x ?p ?o }", {"x": ox.Literal('a" } ; DROP ALL ; #')})
    assert 'VALUES (?x) { ("a\\" } ; DROP ALL ; #") }' in text


def test_recommend_on_the_remote_store_gives_the_same_result(oxigraph_url):
    example = Path(__file__).resolve().parents[1] / "examples" / "patients" / "dara-refractory-long-ago.json"
    args = ["recommend", str(example), "--as-of", "2026-11-24", "--format", "json"]
    local = CliRunner().invoke(main, args)
    remote = CliRunner().invoke(main, args + ["--store", oxigraph_url])
    assert local.exit_code == remote.exit_code == 0, remote.output
    import json

    def ordered(value):  # list order is not part of the contract; compare contents
        if isinstance(value, dict):
            return {k: ordered(v) for k, v in value.items()}
        if isinstance(value, list):
            return sorted((ordered(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
        return value

    assert ordered(json.loads(remote.output)) == ordered(json.loads(local.output))


def test_the_web_app_serves_a_remote_store(oxigraph_url):
    from myeloma_kg import Settings, load_graph
    from myeloma_kg.web import create_app

    settings = Settings.load({"store": oxigraph_url}, environ={})
    app = create_app(settings, load_graph(settings))
    client = app.test_client()
    answer = client.get("/sparql", query_string={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?r a mkg:AntiCD38Regimen }"})
    assert answer.status_code == 200 and answer.json["results"]["bindings"][0]["n"]["value"] == "15"
    assert client.post("/sparql", data={"update": "DROP ALL"}).status_code == 400
    assert client.get("/regimen/IsaKd").status_code == 200
    app.extensions["sparql"].close()


@pytest.fixture(scope="module")
def rxnorm_endpoint(tmp_path_factory):
    port = _free_port()
    location = tmp_path_factory.mktemp("rxnorm-rdf")
    fixture = Path(__file__).parent / "fixtures" / "rxnorm" / "rxnorm-as-rdf.ttl"
    subprocess.run([OXIGRAPH, "load", "--location", str(location), "--file", str(fixture)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    process = subprocess.Popen([OXIGRAPH, "serve-read-only", "--location", str(location), "--bind", f"127.0.0.1:{port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/query"
    assert _wait_for(url + "?query=ASK%7B%7D"), "the RxNorm Oxigraph server did not start"
    yield url
    process.terminate()
    process.wait(timeout=10)


def test_federated_query_joins_the_guideline_with_rxnorm_elsewhere(rxnorm_endpoint):
    result = CliRunner().invoke(main, ["query", "federated-branded-products", "-p", f"rxnormEndpoint={rxnorm_endpoint}",
                                       "--format", "csv"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any("daratumumab" in line and "Darzalex" in line for line in lines)
    assert any("lenalidomide" in line and "Revlimid" in line for line in lines)
    assert any("recommendation/R2" in line for line in lines if "Revlimid" in line)


def test_the_public_endpoint_still_refuses_service():
    from myeloma_kg.sparql_service import SparqlRequestError, query_form

    with pytest.raises(SparqlRequestError, match="SERVICE"):
        query_form((Path(__file__).resolve().parents[1] / "queries" / "federated-branded-products.rq").read_text())


def test_every_patient_example_gets_the_same_recommendation_on_both_stores(oxigraph_url, kg):
    import datetime as dt
    import json

    from myeloma_kg import Settings, load_graph
    from myeloma_kg.recommend import Recommender

    local = Recommender(kg)
    remote = Recommender(load_graph(Settings.load({"store": oxigraph_url}, environ={})))
    folder = Path(__file__).resolve().parents[1] / "examples" / "patients"
    compared = 0
    for path in sorted(folder.glob("*.json")):
        text = path.read_text()
        results = []
        for recommender in (local, remote):
            outcome = recommender.recommend(recommender.read(text, as_of=dt.date(2026, 11, 24)))
            result = outcome.recommendation
            results.append((sorted(r["regimen"] for r in result["recommended"]),
                            sorted((r["regimen"], tuple(sorted(r["reasons"]))) for r in result["notRecommended"]),
                            json.dumps(result["derived"], sort_keys=True)))
        assert results[0] == results[1], path.name
        compared += 1
    assert compared >= 10
