"""Quality checks of the shipped graph: reasoner consistency, SHACL content shapes, SPARQL rules.

Each finding names the entity, the rule and what is wrong.  ``run_checks`` returns a report; the
command line turns it into text and an exit status (0 clean, 1 violations).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyshacl
import rdflib
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS, SH

from ..config import Settings
from ..graph.reasoning import reason
from ..graph.store import KnowledgeGraph, load_shapes_graph
from ..namespaces import compact
from ..queries import catalog_of

SEVERITY = {SH.Violation: "violation", SH.Warning: "warning", SH.Info: "info"}


@dataclass(frozen=True)
class Finding:
    check: str  # "reasoner", "shacl" or "sparql"
    rule: str  # the shape or violation query
    entity: str  # the IRI (compacted) the finding is about
    message: str
    severity: str = "violation"

    def line(self) -> str:
        return f"[{self.severity}] {self.entity}: {self.message} ({self.check}: {self.rule})"


@dataclass
class CheckReport:
    findings: list[Finding] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    version: str = ""  # the graph version checked, as version.GraphVersion.label() gives it
    reasoner: str = ""  # how the classification was had (run, cached, reused), in words
    shapes: str = ""  # in words, when the SHACL findings were read from the cache instead of made

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "violation"]

    @property
    def ok(self) -> bool:
        return not self.violations

    def text(self) -> str:
        lines = [f.line() for f in sorted(self.findings, key=lambda f: (f.check, f.rule, f.entity))]
        summary = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        timing = ", ".join(f"{k} {v:.2f} s" for k, v in self.timings.items())
        verdict = "PASSED" if self.ok else f"FAILED: {len(self.violations)} violation(s)"
        warnings = len(self.findings) - len(self.violations)
        if warnings:
            verdict += f", {warnings} warning(s)"
        lines += ([f"reasoner: {self.reasoner}"] if self.reasoner else []) + (
            [f"shapes: {self.shapes}"] if self.shapes else []) + [f"checked: {summary}"] + (
            [f"graph version: {self.version}"] if self.version else []) + [
            f"time: {timing}", verdict]
        return "\n".join(lines)


def load_shapes(folder: Path) -> rdflib.Graph:
    """Every ``*.ttl`` file of ``shapes/`` whose name starts with ``content``."""
    return load_shapes_graph(folder, "content*.ttl")


def check_reasoner(kg: KnowledgeGraph, settings: Settings, report: CheckReport | None = None) -> list[Finding]:
    result = reason(kg, settings.cache_path)
    if report is not None:
        report.reasoner = result.describe()
    if result.consistent:
        return []
    if result.unsatisfiable:
        return [
            Finding("reasoner", "satisfiable-classes", compact(iri), "this class can have no members")
            for iri in result.unsatisfiable
        ]
    return [Finding("reasoner", "consistency", "graph", result.message)]


def check_shapes(kg: KnowledgeGraph, shapes: rdflib.Graph) -> list[Finding]:
    # the copy is this call's own, so pySHACL need not copy it again
    return shacl_findings(kg.to_rdflib(kg.graph_names(inferred=True)), shapes, inplace=True)


def shacl_findings(data: rdflib.Graph, shapes: rdflib.Graph, inplace: bool = False) -> list[Finding]:
    """What pySHACL finds in ``data`` (an rdflib graph) against ``shapes``, as findings.

    With ``inplace`` pySHACL works on ``data`` itself instead of a copy (copying is most of its
    time); it changes the graph only when the shapes carry SHACL rules (``sh:rule``).
    """
    conforms, report, _text = pyshacl.validate(
        data, shacl_graph=shapes, inference="none", advanced=True, allow_warnings=True, inplace=inplace
    )
    findings = []
    for result in report.subjects(RDF.type, SH.ValidationResult):
        focus = report.value(result, SH.focusNode)
        shape = report.value(result, SH.sourceShape)
        shape_name = _shape_name(shapes, shape)
        message = str(report.value(result, SH.resultMessage) or "does not conform")
        severity = SEVERITY.get(report.value(result, SH.resultSeverity), "violation")
        findings.append(Finding("shacl", shape_name, compact(str(focus)), message, severity))
    return findings


def _shape_name(shapes: rdflib.Graph, shape) -> str:
    if isinstance(shape, rdflib.URIRef):
        return compact(str(shape))
    for parent in shapes.subjects(SH.property, shape):
        name = shapes.value(shape, SH.name)
        return f"{compact(str(parent))}/{name}" if name else compact(str(parent))
    return "shape"


# -- SHACL for the nodes a few added triples can affect -------------------------------------------
#
# Adding triples to a graph that has been validated can change the result only for the nodes whose
# validation reads them.  With simple paths, a shape reads the focus node's own triples and, through
# sh:class, sh:node, sh:property, sh:qualifiedValueShape and the logical constraints, those of nodes a
# bounded number of steps away; so the nodes to validate again are the added triples' subjects and
# objects and the nodes that many steps before a subject.  Target membership changes only for those
# nodes too, unless a class hierarchy changes; SPARQL targets are left as they are (every node they
# select is validated).  Anything this cannot bound makes it validate the whole graph instead.

# Shape parameters that read only the focus node's own triples, or the value terms themselves.
_LOCAL = {SH.path, SH.name, SH.description, SH.message, SH.severity, SH.order, SH.group, SH.deactivated,
          SH.defaultValue, SH.minCount, SH.maxCount, SH.datatype, SH.nodeKind, SH.minLength, SH.maxLength,
          SH.pattern, SH.flags, SH.languageIn, SH.uniqueLang, SH["in"], SH.hasValue, SH.minInclusive,
          SH.minExclusive, SH.maxInclusive, SH.maxExclusive, SH.equals, SH.disjoint, SH.lessThan,
          SH.lessThanOrEquals, SH.qualifiedMinCount, SH.qualifiedMaxCount, SH.closed, SH.ignoredProperties}
_PLAIN_TARGETS = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf)
_NESTED = {SH.node, SH.property, SH.qualifiedValueShape, SH["not"]}  # a shape the value nodes must meet
_NESTED_LISTS = {SH["and"], SH["or"], SH.xone}


def shape_reach(shapes: rdflib.Graph) -> int | None:
    """How many steps away from a focus node the shapes read triples (0: only the node's own);
    None when they use something this does not bound (complex paths, SPARQL constraints, cycles)."""
    tops = {s for p in (*_PLAIN_TARGETS, SH.target) for s in shapes.subjects(p, None)}
    reach = 0
    for shape in tops:
        steps = _reach(shapes, shape, ())
        if steps is None:
            return None
        reach = max(reach, steps)
    return reach


def _reach(shapes: rdflib.Graph, shape, seen: tuple) -> int | None:
    if shape in seen:
        return None
    seen += (shape,)
    path = shapes.value(shape, SH.path)
    if path is not None and not isinstance(path, rdflib.URIRef):
        return None
    deepest = -1  # how far past the value nodes the constraints read (-1: none of their triples)
    for predicate, value in shapes.predicate_objects(shape):
        if not str(predicate).startswith(str(SH)) or predicate in _LOCAL or predicate in _PLAIN_TARGETS \
                or predicate == SH.target:
            continue
        if predicate == SH["class"]:
            nested: list[int | None] = [0]  # the value nodes' types
        elif predicate in _NESTED:
            nested = [_reach(shapes, value, seen)]
        elif predicate in _NESTED_LISTS:
            nested = [_reach(shapes, member, seen) for member in Collection(shapes, value)]
        else:
            return None
        for steps in nested:
            if steps is None:
                return None
            deepest = max(deepest, steps)
    if deepest < 0:
        return 0
    return (1 if path is not None else 0) + deepest


def affected_nodes(data: rdflib.Graph, shapes: rdflib.Graph, added) -> set | None:
    """The nodes whose SHACL result can differ because ``data`` holds the ``added`` triples; None
    when that cannot be told (a class or the class hierarchy is touched, or see ``shape_reach``)."""
    reach = shape_reach(shapes)
    if reach is None:
        return None
    subjects = {s for s, _p, _o in added}
    if any(_is_class(data, s) for s in subjects):
        return None
    reached = set(subjects)
    frontier = set(subjects)
    for _ in range(reach):
        frontier = {n for s in frontier for n in data.subjects(None, s)} - reached
        reached |= frontier
    return reached | {o for _s, _p, o in added if not isinstance(o, rdflib.Literal)}


def _is_class(data: rdflib.Graph, node) -> bool:
    return ((None, RDF.type, node) in data or (node, RDFS.subClassOf, None) in data
            or (None, RDFS.subClassOf, node) in data or (node, RDF.type, OWL.Class) in data
            or (node, RDF.type, RDFS.Class) in data)


def narrow_shapes(shapes: rdflib.Graph, data: rdflib.Graph, nodes: set) -> rdflib.Graph | None:
    """A copy of ``shapes`` whose class, node, subjects-of and objects-of targets are replaced by
    ``sh:targetNode`` for those of ``nodes`` they select in ``data`` (SPARQL targets stay); None
    when a shape is also a class (an implicit class target, which this does not rewrite)."""
    if any((None, RDF.type, kind) in shapes for kind in (RDFS.Class, OWL.Class)):
        return None
    narrowed = rdflib.Graph()
    for triple in shapes:
        narrowed.add(triple)
    for shape in {s for p in _PLAIN_TARGETS for s in shapes.subjects(p, None)}:
        selected = [n for n in nodes if _selects(shapes, shape, data, n)]
        for predicate in _PLAIN_TARGETS:
            narrowed.remove((shape, predicate, None))
        for node in selected:
            narrowed.add((shape, SH.targetNode, node))
    return narrowed


def _selects(shapes: rdflib.Graph, shape, data: rdflib.Graph, node) -> bool:
    """Whether one of the shape's plain targets selects ``node`` in ``data`` (as pySHACL does)."""
    if node in set(shapes.objects(shape, SH.targetNode)):
        return True
    classes = set(shapes.objects(shape, SH.targetClass))
    if classes and any(classes & set(data.transitive_objects(t, RDFS.subClassOf))
                       for t in data.objects(node, RDF.type)):
        return True
    if any((node, p, None) in data for p in shapes.objects(shape, SH.targetSubjectsOf)):
        return True
    return any((None, p, node) in data for p in shapes.objects(shape, SH.targetObjectsOf))


def check_shapes_focused(data: rdflib.Graph, shapes: rdflib.Graph, added) -> list[Finding]:
    """``shacl_findings`` for only the nodes that the ``added`` triples (already in ``data``) can
    affect.  What it leaves out are findings on other nodes, which the graph without those triples
    has as well: for a graph that passes, this is everything ``shacl_findings`` finds.  When the
    affected nodes cannot be told, it is ``shacl_findings`` itself."""
    added = list(added)
    nodes = affected_nodes(data, shapes, added)
    narrowed = narrow_shapes(shapes, data, nodes) if nodes is not None else None
    no_rules = (None, SH.rule, None) not in shapes
    return shacl_findings(data, shapes if narrowed is None else narrowed, inplace=no_rules)


def check_queries(kg: KnowledgeGraph, folder: Path) -> tuple[list[Finding], int]:
    """The findings of every ``*-violation.rq`` of ``folder`` (``queries/checks/``, read through the
    query catalog) and the number of queries run."""
    queries = [q for q in catalog_of(folder.parent).folder_queries(folder.name) if q.path.name.endswith("-violation.rq")]
    findings = []
    for query in queries:
        for row in kg.select(query.text):
            entity = row.get("entity") or "graph"
            message = row.get("message") or query.summary
            findings.append(
                Finding("sparql", query.name, compact(str(entity)), str(message), str(row.get("severity") or "violation"))
            )
    return findings, len(queries)


_KEPT_FORMAT = "1"  # part of the key: a change of what is kept makes every earlier entry unread


def _shapes_key(kg: KnowledgeGraph, settings: Settings) -> str | None:
    """What the SHACL findings depend on: the content (its files' hash, drafts and imports
    included), the number of statements validated (the inferred ones among them), the content
    shapes' files and pySHACL's version.  None when the content hash is not known (a remote store)."""
    from ..graph.version import graph_version

    content = graph_version(kg).content_hash
    if not content:
        return None
    digest = hashlib.sha256(f"{_KEPT_FORMAT}|{content}|{pyshacl.__version__}|".encode())
    digest.update(str(len(kg.store)).encode())  # every quad of the store, the inferred ones included
    for path in sorted(settings.shapes_dir.glob("content*.ttl")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _kept_findings(settings: Settings, key: str | None) -> list[Finding] | None:
    if key is None:
        return None
    try:
        rows = json.loads((settings.cache_path / "checks" / f"shapes-{key[:40]}.json").read_text(encoding="utf-8"))
        return [Finding(**row) for row in rows]
    except (OSError, ValueError, TypeError):
        return None


def _keep_findings(settings: Settings, key: str | None, findings: list[Finding]) -> None:
    if key is None:
        return
    folder = settings.cache_path / "checks"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f"shapes-{key[:40]}.{os.getpid()}.part"
        partial.write_text(json.dumps([asdict(f) for f in findings]), encoding="utf-8")
        partial.replace(folder / f"shapes-{key[:40]}.json")
    except OSError:
        pass  # a cache that cannot be written is no error


def run_checks(kg: KnowledgeGraph, settings: Settings) -> CheckReport:
    report = CheckReport()
    started = time.perf_counter()
    report.findings += check_reasoner(kg, settings, report)
    report.timings["reasoner"] = time.perf_counter() - started

    started = time.perf_counter()
    shapes = load_shapes(settings.shapes_dir)
    key = _shapes_key(kg, settings)
    kept = _kept_findings(settings, key)
    if kept is None:
        found = check_shapes(kg, shapes)
        _keep_findings(settings, key, found)
    else:
        found = kept
        report.shapes = "the findings kept for this content and these shapes (nothing changed since they were made)"
    report.findings += found
    report.timings["shapes"] = time.perf_counter() - started
    report.counts["shapes"] = sum(1 for _ in shapes.subjects(RDF.type, SH.NodeShape))

    started = time.perf_counter()
    found, n_queries = check_queries(kg, settings.checks_dir)
    report.findings += found
    report.timings["sparql"] = time.perf_counter() - started
    report.counts["violation queries"] = n_queries
    report.counts["triples"] = kg.count()
    return report

