"""The store: named graphs, export formats, the folder store, load errors."""

from __future__ import annotations

import shutil

import pytest
import rdflib

from myeloma_kg import KnowledgeGraph, Settings
from myeloma_kg.errors import OntologyLoadError, StoreError
from myeloma_kg.namespaces import GRAPH_GUIDELINE, GRAPH_INFERRED, GRAPH_ONTOLOGY


def test_files_land_in_their_named_graphs(kg):
    assert kg.count(GRAPH_ONTOLOGY) > 2000
    assert kg.count(GRAPH_GUIDELINE) > 3000
    assert kg.count(GRAPH_INFERRED) > 0
    rows = kg.select("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g")
    graphs = {r["g"] for r in rows}
    assert {str(GRAPH_ONTOLOGY), str(GRAPH_GUIDELINE), str(GRAPH_INFERRED)} <= graphs


def test_default_graph_is_the_union(kg):
    rows = kg.select("SELECT (COUNT(*) AS ?n) WHERE { drug:daratumumab a mkg:Drug }")
    assert rows[0]["n"] >= 1  # the type mkg:Drug comes from the inferred graph


@pytest.mark.parametrize("fmt,rdflib_format", [
    ("turtle", "turtle"), ("nt", "nt"), ("xml", "xml"), ("jsonld", "json-ld"),
])
def test_export_round_trips(kg, fmt, rdflib_format):
    data = kg.export(fmt)
    graph = rdflib.Graph().parse(data=data, format=rdflib_format)
    assert len(graph) == sum(1 for _ in kg.triples())


def test_export_inferred_adds_the_reasoners_triples(kg):
    plain = rdflib.Graph().parse(data=kg.export("nt"), format="nt")
    full = rdflib.Graph().parse(data=kg.export("nt", inferred=True), format="nt")
    assert len(full) > len(plain)


def _copy_home(settings, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(settings.ontology_dir, home / "ontology")
    return home


def test_folder_store_keeps_content_and_reloads_on_change(settings, tmp_path):
    home = _copy_home(settings, tmp_path)
    folder = tmp_path / "store"
    local = Settings.load({"home": str(home), "store": str(folder)}, environ={})
    first = KnowledgeGraph.open(local)
    n = first.count()
    digest = first.digest
    del first
    again = KnowledgeGraph.open(local)
    assert again.digest == digest and again.count() == n
    del again
    extra = home / "ontology" / "content" / "zz-extra.ttl"
    extra.write_text('<https://w3id.org/myeloma-kg/drug/x> <http://www.w3.org/2000/01/rdf-schema#label> "x" .\n')
    changed = KnowledgeGraph.open(local)
    assert changed.digest != digest
    assert changed.count() == n + 1


def test_a_syntax_error_names_the_file(settings, tmp_path):
    home = _copy_home(settings, tmp_path)
    bad = home / "ontology" / "content" / "broken.ttl"
    bad.write_text("@prefix mkg: <https://w3id.org/myeloma-kg/ontology#> .\nmkg:x mkg:y \"unterminated .\n")
    with pytest.raises(OntologyLoadError) as info:
        KnowledgeGraph.open(Settings.load({"home": str(home)}, environ={}))
    assert "broken.ttl" in str(info.value)


def test_a_remote_store_that_is_down_is_refused_with_a_message(settings):
    from myeloma_kg import load_graph

    with pytest.raises(StoreError, match="did not answer"):
        load_graph(settings.with_overrides({"store": "http://127.0.0.1:9/query", "query_timeout_s": 2}))
