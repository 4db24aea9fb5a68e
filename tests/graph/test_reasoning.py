"""The reasoner's cache: a result, consistent or not, is computed once per change of the files and
comes back whole."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from myeloma_kg.graph import reasoning


@pytest.fixture(autouse=True)
def _no_shipped_classification(monkeypatch, tmp_path_factory):
    """These tests are about the user cache: a classification shipped beside the checkout (after
    make wheel) must not answer for them."""
    monkeypatch.setattr(reasoning, "shipped_dir", lambda: tmp_path_factory.mktemp("no-shipped-classification"))


def test_an_inconsistent_result_is_cached_like_a_consistent_one(settings, tmp_path, monkeypatch):
    """A broken graph checked twice runs the reasoner once, and says the same both times."""
    from myeloma_kg.errors import ReasonerError
    from myeloma_kg.graph import reasoning
    from myeloma_kg.graph.store import KnowledgeGraph

    runs = []

    def inconsistent(_ntriples):
        runs.append(1)
        return reasoning.ReasoningResult(consistent=False, message="the ontology and content are inconsistent: x is y and not y")

    monkeypatch.setattr(reasoning, "run_hermit", inconsistent)
    graph = KnowledgeGraph.open(settings)
    first = reasoning.reason(graph, tmp_path)
    again = reasoning.reason(graph, tmp_path)
    assert len(runs) == 1 and again.cached and not first.cached
    assert (again.consistent, again.message, again.unsatisfiable) == (first.consistent, first.message, first.unsatisfiable)
    with pytest.raises(ReasonerError) as raised:
        reasoning.materialise(graph, tmp_path)
    assert str(raised.value) == first.message and len(runs) == 1


def test_an_unsatisfiable_result_comes_back_from_the_cache_whole(settings, tmp_path, monkeypatch):
    from myeloma_kg.graph import reasoning
    from myeloma_kg.graph.store import KnowledgeGraph

    fact = ox.Triple(ox.NamedNode("http://example.org/x"), ox.NamedNode(reasoning.RDF_TYPE), ox.NamedNode("http://example.org/C"))
    fresh = reasoning.ReasoningResult(consistent=False, unsatisfiable=["http://example.org/C"], inferred=[fact],
                                      message="unsatisfiable classes: http://example.org/C")
    monkeypatch.setattr(reasoning, "run_hermit", lambda _ntriples: fresh)
    graph = KnowledgeGraph.open(settings)
    reasoning.reason(graph, tmp_path)
    monkeypatch.setattr(reasoning, "run_hermit", lambda _ntriples: pytest.fail("the reasoner ran again"))
    cached = reasoning.reason(graph, tmp_path)
    assert cached.cached and (cached.consistent, cached.unsatisfiable, cached.inferred, cached.message) == (
        False, fresh.unsatisfiable, fresh.inferred, fresh.message)
    (failed,) = tmp_path.glob("failed-*.json")
    failed.write_text("{not json")  # a damaged entry is not trusted: the reasoner runs again
    monkeypatch.setattr(reasoning, "run_hermit", lambda _ntriples: fresh)
    assert not reasoning.reason(graph, tmp_path).cached


def test_a_wheel_s_shipped_classification_answers_without_the_reasoner(settings, tmp_path, monkeypatch):
    from myeloma_kg.graph.store import KnowledgeGraph

    graph = KnowledgeGraph.open(settings)
    fact = ox.Triple(ox.NamedNode("http://example.org/x"), ox.NamedNode(reasoning.RDF_TYPE), ox.NamedNode("http://example.org/C"))
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / f"inferred-{reasoning.cache_key(graph)}.nt").write_bytes(ox.serialize([fact], format=ox.RdfFormat.N_TRIPLES))
    monkeypatch.setattr(reasoning, "shipped_dir", lambda: shipped)
    monkeypatch.setattr(reasoning, "run_hermit", lambda _ntriples: pytest.fail("the reasoner ran"))
    result = reasoning.reason(graph, tmp_path / "empty-user-cache")
    assert result.cached and result.consistent
    assert [(q.subject, q.predicate, q.object) for q in result.inferred] == [(fact.subject, fact.predicate, fact.object)]
    assert not (tmp_path / "empty-user-cache").exists()  # nothing written to the user cache


def test_a_draft_that_changes_nothing_the_reasoner_reads_reuses_the_classification(settings, tmp_path, monkeypatch):
    """A note or a reported figure cannot change the classification: the reasoner is not run again
    for it, and check says so; a new typed individual runs it."""
    from myeloma_kg.graph.store import KnowledgeGraph

    fact = ox.Triple(ox.NamedNode("http://example.org/x"), ox.NamedNode(reasoning.RDF_TYPE), ox.NamedNode("http://example.org/C"))
    monkeypatch.setattr(reasoning, "run_hermit", lambda _ntriples: reasoning.ReasoningResult(consistent=True, inferred=[fact]))
    first = reasoning.reason(KnowledgeGraph.open(settings), tmp_path)
    assert first.how == "ran"
    note = tmp_path / "note.ttl"
    note.write_text('<https://w3id.org/myeloma-kg/outcome/candor-pfs-all-final> '
                    '<https://w3id.org/myeloma-kg/ontology#note> "a note of a draft" .\n')
    monkeypatch.setattr(reasoning, "run_hermit", lambda _ntriples: pytest.fail("the reasoner ran for a note"))
    again = reasoning.reason(KnowledgeGraph.open(settings, extra=[note]), tmp_path)
    assert again.how == "reused" and again.cached and "not run again" in again.describe()
    assert [(q.subject, q.predicate, q.object) for q in again.inferred] == [(fact.subject, fact.predicate, fact.object)]
    typed = tmp_path / "typed.ttl"
    typed.write_text("<https://w3id.org/myeloma-kg/drug/test-only> a <https://w3id.org/myeloma-kg/ontology#Drug> .\n")
    runs = []
    monkeypatch.setattr(reasoning, "run_hermit", lambda _ntriples: runs.append(1) or reasoning.ReasoningResult(consistent=True))
    assert reasoning.reason(KnowledgeGraph.open(settings, extra=[typed]), tmp_path).how == "ran" and runs == [1]
