"""The triple store: the only module that reads RDF files.

The shipped graph lives in three named graphs (ontology, guideline, inferred) of an embedded
pyoxigraph store, in memory or in a folder.  Queries see the union of the named graphs as their
default graph.  Parameters are bound with pyoxigraph ``substitutions`` (never spliced into text).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import rdflib

from ..config import Settings
from ..errors import OntologyLoadError, QuerySyntaxError, StoreError
from ..formats import RDF_FORMATS
from ..namespaces import GRAPH_GUIDELINE, GRAPH_IMPORTED, GRAPH_INFERRED, GRAPH_META, GRAPH_ONTOLOGY, PREFIXES

META_GRAPH = ox.NamedNode(str(GRAPH_META))
_HASH_PREDICATE = ox.NamedNode("http://purl.org/dc/terms/identifier")


Term = ox.NamedNode | ox.BlankNode | ox.Literal


@dataclass(frozen=True)
class SourceFiles:
    """The files of the shipped graph, by named graph."""

    ontology: tuple[Path, ...]
    guideline: tuple[Path, ...]
    imported: tuple[Path, ...] = ()

    @classmethod
    def of(cls, settings: Settings, extra: Iterable[Path] = ()) -> SourceFiles:
        """The TBox, the content files, and any ``extra`` files (drafts) for the guideline graph."""
        if not settings.tbox_file.is_file():
            raise OntologyLoadError(settings.tbox_file, "the ontology file is missing")
        content = tuple(sorted(settings.content_dir.glob("*.ttl")))
        for path in extra:
            if not Path(path).is_file():
                raise OntologyLoadError(path, "no such file")
        imported = tuple(sorted(settings.data_path.glob("*.ttl"))) if settings.data_path.is_dir() else ()
        return cls(ontology=(settings.tbox_file,), guideline=content + tuple(Path(p) for p in extra), imported=imported)

    def by_graph(self) -> Iterator[tuple[ox.NamedNode, Path]]:
        for path in self.ontology:
            yield ox.NamedNode(str(GRAPH_ONTOLOGY)), path
        for path in self.guideline:
            yield ox.NamedNode(str(GRAPH_GUIDELINE)), path
        for path in self.imported:
            yield ox.NamedNode(str(GRAPH_IMPORTED)), path

    def digest(self) -> str:
        """A hash of every file's name and bytes: it changes when any content changes."""
        h = hashlib.sha256()
        for graph, path in self.by_graph():
            h.update(graph.value.encode())
            h.update(path.name.encode())
            h.update(path.read_bytes())
        return h.hexdigest()


class KnowledgeGraph:
    """The shipped graph in an embedded pyoxigraph store."""

    def __init__(self, store: ox.Store, settings: Settings, digest: str = "") -> None:
        self.store = store
        self.settings = settings
        self.digest = digest
        self.remote = None  # a RemoteStore when the graph was pulled from a remote endpoint

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, settings: Settings, extra: Iterable[Path] = ()) -> KnowledgeGraph:
        """Open the store named by ``settings.store`` and load the shipped files into it.

        A folder store keeps its content between runs and is reloaded only when a file changed.
        """
        sources = SourceFiles.of(settings, extra)
        digest = sources.digest()
        location = settings.store
        if re.match(r"^https?://", location):
            raise StoreError(f"--store {location}: a remote store is opened with load_graph, not KnowledgeGraph.open")
        if location == "memory":
            store = ox.Store()
        else:
            folder = Path(location)
            try:
                folder.mkdir(parents=True, exist_ok=True)
                store = ox.Store(str(folder))
            except OSError as exc:
                raise StoreError(f"cannot open the store folder {folder}: {exc}") from exc
        kg = cls(store, settings, digest)
        if kg.stored_digest() != digest:
            kg._reload(sources)
        return kg

    def stored_digest(self) -> str | None:
        """The hash of the files the store was loaded from, as recorded in its meta graph."""
        for quad in self.store.quads_for_pattern(None, _HASH_PREDICATE, None, META_GRAPH):
            return quad.object.value
        return None

    def _reload(self, sources: SourceFiles) -> None:
        for graph in (GRAPH_ONTOLOGY, GRAPH_GUIDELINE, GRAPH_IMPORTED, GRAPH_INFERRED, META_GRAPH.value):
            node = ox.NamedNode(str(graph))
            if self.store.contains_named_graph(node):
                self.store.remove_graph(node)
        for graph, path in sources.by_graph():
            load_rdf_file(self.store, path, graph)
        self.store.add(ox.Quad(META_GRAPH, _HASH_PREDICATE, ox.Literal(self.digest), META_GRAPH))
        self.store.flush()

    # -- the inferred graph ------------------------------------------------------------------

    def has_inferred(self) -> bool:
        return self.store.contains_named_graph(ox.NamedNode(str(GRAPH_INFERRED)))

    def set_inferred(self, triples: Iterable[ox.Triple]) -> int:
        graph = ox.NamedNode(str(GRAPH_INFERRED))
        if self.store.contains_named_graph(graph):
            self.store.remove_graph(graph)
        self.store.add_graph(graph)
        quads = [ox.Quad(t.subject, t.predicate, t.object, graph) for t in triples]
        self.store.extend(quads)
        return len(quads)

    # -- reading -----------------------------------------------------------------------------

    def graph_names(self, inferred: bool = True) -> list[ox.NamedNode]:
        names = [ox.NamedNode(str(GRAPH_ONTOLOGY)), ox.NamedNode(str(GRAPH_GUIDELINE))]
        if self.store.contains_named_graph(ox.NamedNode(str(GRAPH_IMPORTED))):
            names.append(ox.NamedNode(str(GRAPH_IMPORTED)))
        if inferred:
            names.append(ox.NamedNode(str(GRAPH_INFERRED)))
        return names

    def triples(self, graphs: Iterable[Any] | None = None) -> Iterator[ox.Triple]:
        """The triples of the given named graphs (default: ontology and guideline), deduplicated."""
        names = list(graphs) if graphs is not None else self.graph_names(inferred=False)
        seen: set[ox.Triple] = set()
        for name in names:
            node = name if isinstance(name, ox.NamedNode) else ox.NamedNode(str(name))
            for quad in self.store.quads_for_pattern(None, None, None, node):
                triple = quad.triple
                if triple not in seen:
                    seen.add(triple)
                    yield triple

    def triples_about(self, subject: ox.NamedNode) -> Iterator[ox.Triple]:
        """The triples with ``subject`` as subject (all graphs, deduplicated), with the blank
        nodes they lead to, so a resource's description is complete."""
        seen: set[ox.Triple] = set()
        todo = [subject]
        while todo:
            node = todo.pop()
            for quad in self.store.quads_for_pattern(node, None, None, None):
                triple = quad.triple
                if triple not in seen:
                    seen.add(triple)
                    yield triple
                    if isinstance(triple.object, ox.BlankNode):
                        todo.append(triple.object)

    def count(self, graph: Any | None = None) -> int:
        if graph is None:
            return sum(1 for _ in self.triples(self.graph_names()))
        node = graph if isinstance(graph, ox.NamedNode) else ox.NamedNode(str(graph))
        return sum(1 for _ in self.store.quads_for_pattern(None, None, None, node))

    def query(
        self,
        sparql: str,
        bindings: Mapping[str, Term] | None = None,
        *,
        default_graph: list[ox.NamedNode] | None = None,
        named_graphs: list[ox.NamedNode] | None = None,
    ) -> ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples:
        """Run a SPARQL query; the default graph is the union of the named graphs."""
        substitutions = {ox.Variable(k): v for k, v in (bindings or {}).items()}
        kwargs: dict[str, Any] = {"prefixes": PREFIXES}
        if substitutions:
            kwargs["substitutions"] = substitutions
        if default_graph is not None:
            kwargs["default_graph"] = default_graph
        else:
            kwargs["use_default_graph_as_union"] = True
        if named_graphs is not None:
            kwargs["named_graphs"] = named_graphs
        try:
            return self.store.query(sparql, **kwargs)
        except SyntaxError as exc:
            raise QuerySyntaxError(str(exc)) from exc
        except RuntimeError as exc:
            raise QuerySyntaxError(str(exc)) from exc

    def select(self, sparql: str, bindings: Mapping[str, Term] | None = None) -> list[dict[str, Any]]:
        """SELECT rows as dicts of Python values (IRIs and strings as ``str``, numbers as numbers)."""
        result = self.query(sparql, bindings)
        if not isinstance(result, ox.QuerySolutions):
            raise QuerySyntaxError("expected a SELECT query")
        names = [v.value for v in result.variables]
        rows = []
        for solution in result:
            rows.append({n: to_python(solution[n]) for n in names})
        return rows

    # -- writing out -------------------------------------------------------------------------

    def export(self, fmt: str = "turtle", inferred: bool = False) -> bytes:
        """The shipped graph (ontology + guideline, and with ``inferred`` the reasoner's triples)."""
        if fmt not in RDF_FORMATS:
            raise StoreError(f"unknown export format {fmt!r}; choose one of {', '.join(RDF_FORMATS)}")
        rdf_format = RDF_FORMATS[fmt].oxigraph
        names = self.graph_names(inferred=inferred)
        if rdf_format in (ox.RdfFormat.TRIG, ox.RdfFormat.N_QUADS):
            quads = [q for n in names for q in self.store.quads_for_pattern(None, None, None, n)]
            return ox.serialize(quads, format=rdf_format, prefixes=PREFIXES)
        triples = list(self.triples(names))
        prefixes = None if rdf_format == ox.RdfFormat.N_TRIPLES else PREFIXES
        return ox.serialize(triples, format=rdf_format, prefixes=prefixes)

    def to_rdflib(self, graphs: Iterable[Any] | None = None) -> rdflib.Graph:
        """An rdflib copy of the given named graphs (for pySHACL and other rdflib tools)."""
        data = ox.serialize(list(self.triples(graphs)), format=ox.RdfFormat.N_TRIPLES)
        graph = rdflib.Graph()
        graph.parse(data=data, format="nt")
        return graph


def load_shapes_graph(folder: Path, pattern: str) -> rdflib.Graph:
    """The SHACL shapes of ``folder`` whose file names match ``pattern``, as one rdflib graph."""
    from ..errors import ShapesLoadError

    files = sorted(folder.glob(pattern))
    if not files:
        raise ShapesLoadError(f"no shapes ({pattern}) in {folder}")
    graph = rdflib.Graph()
    for path in files:
        try:
            graph.parse(path, format="turtle")
        except Exception as exc:  # rdflib raises several parser exception types
            raise ShapesLoadError(f"{path}: not valid Turtle: {exc}") from exc
    return graph


def load_rdf_file(store: ox.Store, path: Path, graph: ox.NamedNode) -> None:
    """Parse one RDF file into a named graph; a syntax error names the file and line."""
    try:
        store.load(path=str(path), to_graph=graph, base_iri=path.resolve().as_uri())
    except SyntaxError as exc:
        raise OntologyLoadError(path, f"not valid RDF: {exc}") from exc
    except (OSError, ValueError) as exc:
        raise OntologyLoadError(path, str(exc)) from exc


def to_python(term: Any) -> Any:
    """A pyoxigraph term as a plain Python value."""
    if term is None:
        return None
    if isinstance(term, ox.Literal):
        dt = term.datatype.value
        xsd = "http://www.w3.org/2001/XMLSchema#"
        if dt in (xsd + "integer", xsd + "int", xsd + "long", xsd + "nonNegativeInteger"):
            return int(term.value)
        if dt in (xsd + "decimal", xsd + "double", xsd + "float"):
            return float(term.value)
        if dt == xsd + "boolean":
            return term.value in ("true", "1")
        return term.value
    return term.value


def to_rdflib_term(term: Any) -> rdflib.term.Node:
    if isinstance(term, ox.NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return rdflib.BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return rdflib.Literal(term.value, lang=term.language)
        return rdflib.Literal(term.value, datatype=rdflib.URIRef(term.datatype.value))
    raise TypeError(f"not an RDF term: {term!r}")
