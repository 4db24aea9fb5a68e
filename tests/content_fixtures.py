"""The content fixtures and one harness that checks them against the shipped graph.

A content fixture is a small Turtle file (tests/fixtures/broken, tests/fixtures/grading) that adds
something wrong to the shipped graph, or, valid-approved.ttl, something right.  A broken one says on
its first line what must be caught: ``# expect: RULE ENTITY``.

Checking a fixture the plain way opens the whole graph with the fixture added and runs SHACL and
every violation query over it.  The harness copies the shipped graph once instead (an oxigraph store
for the queries, an rdflib graph for SHACL), adds a fixture's triples, checks, and takes them out
again; SHACL validates only the nodes the fixture can affect (``check_shapes_focused``).
``whole_graph_findings`` is the plain way, kept to show that the two agree.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyoxigraph as ox
import pytest
from click.testing import CliRunner, Result

from myeloma_kg import KnowledgeGraph
from myeloma_kg.cli.main import main
from myeloma_kg.content.checks import Finding, check_queries, check_shapes, check_shapes_focused, load_shapes
from myeloma_kg.graph.store import to_rdflib_term
from myeloma_kg.namespaces import GRAPH_GUIDELINE

FIXTURES = Path(__file__).parent / "fixtures"
BROKEN = sorted((FIXTURES / "broken").glob("*.ttl"))
GRADING = FIXTURES / "grading"
VALID = GRADING / "valid-approved.ttl"
GRADING_BROKEN = sorted(GRADING.glob("broken-*.ttl"))
ALL_BROKEN = BROKEN + GRADING_BROKEN


def expectation(path: Path) -> tuple[str, str]:
    """The rule (it may contain spaces) and the entity a broken fixture's first line names."""
    match = re.match(r"# expect: (.+) (\S+)$", path.read_text().splitlines()[0].rstrip())
    assert match, f"{path.name} lacks its '# expect: RULE ENTITY' line"
    return match.group(1), match.group(2)


def shipped_classification(kg: KnowledgeGraph):
    """The shipped graph's inferred triples, which fixtures are checked with (no reasoning per fixture)."""
    return kg.triples([kg.graph_names()[-1]])


def whole_graph_findings(path: Path, kg: KnowledgeGraph, settings, shapes) -> list[Finding]:
    """SHACL and the violation queries over the whole graph opened afresh with ``path`` added."""
    graph = KnowledgeGraph.open(settings, extra=[path])
    graph.set_inferred(shipped_classification(kg))
    return check_shapes(graph, shapes) + check_queries(graph, settings.checks_dir)[0]


class ContentHarness:
    """The shipped graph (with its classification), copied once, to check fixtures against."""

    def __init__(self, kg: KnowledgeGraph, settings) -> None:
        self.source = kg
        self.settings = settings
        store = ox.Store()
        store.extend(kg.store.quads_for_pattern(None, None, None, None))
        self.kg = KnowledgeGraph(store, settings)  # no digest, so the reasoner never takes a cached result for it
        self.data = kg.to_rdflib(kg.graph_names(inferred=True))
        self.shapes = load_shapes(settings.shapes_dir)
        self._found: dict[tuple[Path, bytes], list[Finding]] = {}

    @contextmanager
    def added(self, path: Path) -> Iterator[list[tuple]]:
        """The copy with the fixture's triples in the guideline graph (where ``check --with`` puts a
        draft); yields them as rdflib triples and restores the copy afterwards."""
        parsed = ox.Store()  # through a store, which writes literals as the shipped graph holds them ("50.0" as "50")
        parsed.load(path=str(path), format=ox.RdfFormat.TURTLE, base_iri=path.resolve().as_uri())
        triples = [q.triple for q in parsed]
        graph = ox.NamedNode(str(GRAPH_GUIDELINE))
        quads = [q for q in dict.fromkeys(ox.Quad(t.subject, t.predicate, t.object, graph) for t in triples)
                 if q not in self.kg.store]
        terms = [tuple(to_rdflib_term(x) for x in (t.subject, t.predicate, t.object)) for t in triples]
        new = [t for t in dict.fromkeys(terms) if t not in self.data]
        sizes = (len(self.kg.store), len(self.data))
        self.kg.store.extend(quads)
        for triple in new:
            self.data.add(triple)
        try:
            yield terms
        finally:
            for quad in quads:
                self.kg.store.remove(quad)
            for triple in new:
                self.data.remove(triple)
            assert (len(self.kg.store), len(self.data)) == sizes, "the harness did not restore the shipped graph"

    def findings(self, path: Path) -> list[Finding]:
        """SHACL findings for the nodes the fixture affects, and every violation query's findings;
        kept per file and content, as several tests ask about the same fixture."""
        key = (path, path.read_bytes())
        if key not in self._found:
            with self.added(path) as triples:
                self._found[key] = (check_shapes_focused(self.data, self.shapes, triples)
                                    + check_queries(self.kg, self.settings.checks_dir)[0])
        return self._found[key]


_HARNESS: list[ContentHarness] = []


@pytest.fixture(scope="session")
def harness(kg, settings) -> ContentHarness:
    """One harness for the session's shipped graph, shared by every module that imports this fixture."""
    if not _HARNESS or _HARNESS[0].source is not kg:
        _HARNESS[:] = [ContentHarness(kg, settings)]
    return _HARNESS[0]


@functools.cache
def check_command(*args: str) -> Result:
    """``myeloma-kg check`` with ``args``, run once per session for all the tests that read its output."""
    return CliRunner().invoke(main, ["check", *args])
