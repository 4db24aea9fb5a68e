"""SHACL validation of patient records (pySHACL), with reports in clinical words.

The shapes (``shapes/patient*.ttl``) are parsed once per process, and so is pySHACL's reading of
them (its shapes graph: every shape, its targets, its constraint parameters), which it would
otherwise redo on every run.  Each record is validated on its own small graph: its triples plus
the type of each drug and finding it names, taken from the graph's vocabulary, so the shapes can
tell a known drug from an unknown one.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import rdflib
from rdflib.namespace import RDF, SH
from rdflib.paths import Path as RdfPath

from .._mkg import MKG
from ..errors import ShapesLoadError
from ..graph.store import load_shapes_graph, to_rdflib_term
from ..namespaces import DRUG
from .compiled_shapes import Result, compile_shapes, run_checks
from .records import PatientRecord, Vocabulary

SEVERITY = {SH.Violation: "violation", SH.Warning: "warning", SH.Info: "info"}
TYPE_OF_KIND = {"drug": MKG.Drug, "cytogenetics": MKG.CytogeneticAbnormality}


@dataclass(frozen=True)
class Issue:
    severity: str  # "violation" or "warning"
    message: str  # in clinical words, with "Line N:" where it concerns a line
    field: str = ""
    line: int | None = None
    focus: str = ""


@dataclass
class ValidationReport:
    patient: str
    issues: list[Issue] = field(default_factory=list)
    as_of: str | None = None  # the date the record was read at (YYYY-MM-DD)

    @property
    def conforms(self) -> bool:
        return not any(i.severity == "violation" for i in self.issues)

    def as_dict(self) -> dict[str, Any]:
        return {
            "patient": self.patient,
            **({"asOf": self.as_of} if self.as_of else {}),
            "conforms": self.conforms,
            "violations": [asdict(i) for i in self.issues if i.severity == "violation"],
            "warnings": [asdict(i) for i in self.issues if i.severity != "violation"],
        }

    def text(self) -> str:
        head = f"{self.patient}: " + ("conforms" if self.conforms else "does not conform")
        lines = [head]
        for issue in sorted(self.issues, key=lambda i: (i.severity != "violation", i.line or 0, i.message)):
            lines.append(f"  {issue.severity.upper()}: {issue.message}")
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)


# The terms of SHACL Core and SHACL-SPARQL.  Shapes that use no other sh: term gain nothing from
# pySHACL's "advanced" mode (SHACL Advanced Features: rules, custom targets, functions,
# expressions), which costs time on every run; shapes that do use another term keep it.
_CORE = {SH[name] for name in """
    NodeShape PropertyShape Shape targetClass targetNode targetObjectsOf targetSubjectsOf property path
    inversePath alternativePath zeroOrMorePath oneOrMorePath zeroOrOnePath class datatype nodeKind
    minCount maxCount minExclusive minInclusive maxExclusive maxInclusive minLength maxLength pattern
    flags languageIn uniqueLang equals disjoint lessThan lessThanOrEquals not and or xone node
    qualifiedValueShape qualifiedMinCount qualifiedMaxCount qualifiedValueShapesDisjoint closed
    ignoredProperties hasValue in name description message severity deactivated order group
    defaultValue Violation Warning Info sparql SPARQLConstraint select ask prefixes declare prefix
    namespace PrefixDeclaration BlankNode IRI Literal BlankNodeOrIRI BlankNodeOrLiteral IRIOrLiteral
    PropertyGroup""".split()}


class _ReadOnlyGraph(rdflib.Graph):
    """An rdflib graph that remembers the answer to every triple pattern asked of it.

    pySHACL asks the shapes graph the same few hundred questions, thousands of times a run (a
    shape's message, severity, parameters, list members); the shapes never change after loading,
    so the answers are kept.  Adding a triple that is not there yet forgets them all.  Only the
    prefixes whose namespace the shapes use are bound (pySHACL copies every binding into each
    report graph).
    """

    KEEP_AT_MOST = 20_000

    def __init__(self, source: rdflib.Graph) -> None:
        super().__init__(bind_namespaces="none")
        iris = {str(t) for triple in source for t in triple if isinstance(t, rdflib.URIRef)}
        for prefix, namespace in source.namespace_manager.namespaces():
            if any(iri.startswith(str(namespace)) for iri in iris):
                self.namespace_manager.bind(prefix, namespace, override=True, replace=True)
        self._answers: dict = {}
        for triple in source:
            super().add(triple)

    def triples(self, triple):
        s, p, o = triple
        if isinstance(p, RdfPath):
            yield from super().triples(triple)
            return
        try:
            found = self._answers[triple]
        except (KeyError, TypeError):
            found = list(super().triples(triple))
            if len(self._answers) < self.KEEP_AT_MOST:  # the shapes ask a few hundred questions
                try:
                    self._answers[(s, p, o)] = found
                except TypeError:  # an unhashable pattern: answered, not kept
                    pass
        yield from found

    def add(self, triple):
        if triple not in self:
            self._answers.clear()
            super().add(triple)
        return self

    def addN(self, quads):  # noqa: N802 (rdflib's name)
        self._answers.clear()
        return super().addN(quads)

    def remove(self, triple):
        self._answers.clear()
        return super().remove(triple)


class _Parameters(list):
    """pySHACL's list of constraint parameters, with membership by hash.

    For every shape on every focus node pySHACL asks, for each property of the shape, whether it is
    a constraint parameter: ``p in`` a list of some forty IRIs, each comparison a Python call.  That
    was a quarter of a record's validation.  The same list, answered from a set, gives the same
    answers."""

    def __init__(self, items=()) -> None:
        super().__init__(items)
        self._members = set(self)

    def __contains__(self, item) -> bool:
        return item in self._members

    def copy(self) -> _Parameters:
        return _Parameters(self)

    def append(self, item) -> None:
        super().append(item)
        self._members.add(item)


def _fast_parameter_lookup() -> None:
    """Give pySHACL's shape module the parameters as a ``_Parameters`` (it caches them on the module
    itself, under CONSTRAINT_PARAMS, the first time a shape validates)."""
    try:
        from pyshacl import shape as shape_module
        from pyshacl.constraints import ALL_CONSTRAINT_PARAMETERS, CONSTRAINT_PARAMETERS_MAP
    except ImportError:  # another pySHACL layout: it runs as it is
        return
    current = getattr(shape_module, "CONSTRAINT_PARAMS", (None, None))[0]
    if not isinstance(current, _Parameters):
        shape_module.CONSTRAINT_PARAMS = (_Parameters(ALL_CONSTRAINT_PARAMETERS), CONSTRAINT_PARAMETERS_MAP)


class PatientShapes:
    """The patient shapes and pySHACL's reading of them, made once and used for every run.

    pySHACL turns the shapes graph into shape objects (a ``ShapesGraph``) at the start of each
    ``validate`` call; that was a third of a record's validation time.  This keeps the first
    one and gives it to every later run.  The report of a run is the same either way: the
    shape objects hold nothing about the data graph between runs.
    """

    def __init__(self, graph: rdflib.Graph) -> None:
        self.graph = _ReadOnlyGraph(graph)
        # the shapes as checks over many records at once (compiled_shapes.py); None when they use
        # SHACL those checks do not cover, and then pySHACL validates every record
        self.compiled = compile_shapes(graph)
        used = {t for triple in graph for t in triple if isinstance(t, rdflib.URIRef) and t.startswith(str(SH))}
        self.advanced = bool(used - _CORE)
        self._prepared = None
        self._lock = threading.Lock()

    def run(self, data: ox.Store) -> tuple[bool, Any, str]:
        """pySHACL's (conforms, results graph, text) for a data store, as ``pyshacl.validate``
        gives them with inference off, warnings allowed and the data validated in place."""
        import pyshacl  # only here: most records never need it (compiled_shapes.py), and it is slow to import
        from pyshacl.errors import ValidationFailure

        _fast_parameter_lookup()
        try:
            from pyshacl.graph_abstraction import DataGraph
        except ImportError:  # an older pySHACL: its own entry point
            return pyshacl.validate(data, shacl_graph=self.graph, inference="none", advanced=self.advanced,
                                    allow_warnings=True, inplace=True)
        options = {"inference": "none", "advanced": self.advanced, "allow_warnings": True, "inplace": True}
        try:
            validator = pyshacl.Validator(DataGraph.from_oxigraph_store(data), shacl_graph=self.graph,
                                          options=options)
            with self._lock:
                if self._prepared is None:
                    list(validator.shacl_graph.shapes)  # read every shape now, once, under the lock
                    self._prepared = validator.shacl_graph
            validator.shacl_graph = self._prepared
            return validator.run()
        except ValidationFailure as exc:
            return False, exc, f"Validation Failure - {exc.message}"


@lru_cache(maxsize=4)
def load_patient_shapes(folder: Path) -> PatientShapes:
    """The patient shapes (``shapes/patient*.ttl``), parsed once per process."""
    return PatientShapes(load_shapes_graph(folder, "patient*.ttl"))


def data_graph(record: PatientRecord | list[PatientRecord], vocabulary: Vocabulary) -> ox.Store:
    """The records' triples, and the type of every known drug and finding they name, in a small
    pyoxigraph store, so that pySHACL runs the SHACL-SPARQL constraints with Oxigraph's engine
    rather than rdflib's."""
    store = ox.Store()
    triples = [t for one in (record if isinstance(record, list) else [record]) for t in one.triples]
    graph = ox.DefaultGraph()
    store.extend([ox.Quad(t.subject, t.predicate, t.object, graph) for t in triples])
    objects = {t.object for t in triples if isinstance(t.object, ox.NamedNode)}
    for kind, rdf_type in TYPE_OF_KIND.items():
        for iri in set(vocabulary.words.get(kind, {}).values()):
            node = ox.NamedNode(iri)
            if node in objects:
                store.add(ox.Quad(node, ox.NamedNode(str(RDF.type)), ox.NamedNode(str(rdf_type)), graph))
    return store


def validate_records(records: list[PatientRecord], vocabulary: Vocabulary,
                     shapes: PatientShapes | rdflib.Graph, compiled: bool = True) -> list[ValidationReport]:
    """Validate several records in one run and split the results by patient: the compiled
    checks where they are sure (see compiled_shapes.py), pySHACL for each other record alone
    (``compiled=False``: pySHACL for all, in one run).  Records sharing a patient IRI are
    validated in different runs, so that one record's lines never count as another's."""
    if not isinstance(shapes, PatientShapes):
        shapes = PatientShapes(shapes)
    groups: list[list[PatientRecord]] = []
    seen: dict[str, int] = {}
    for record in records:
        position = seen.get(record.iri.value, 0)
        if position == len(groups):
            groups.append([])
        groups[position].append(record)
        seen[record.iri.value] = position + 1
    reports = {}
    for group in groups:
        reports.update({id(r): r2 for r, r2 in zip(group, _validate_together(group, vocabulary, shapes, compiled))})
    return [reports[id(r)] for r in records]


def _validate_together(records: list[PatientRecord], vocabulary: Vocabulary,
                       shapes: PatientShapes, compiled: bool = True) -> list[ValidationReport]:
    """Records with distinct patient IRIs validated in one run: by the compiled checks where they
    are sure of pySHACL's results, by pySHACL (each record alone) where they are not."""
    if not records:
        return []
    data = data_graph(records, vocabulary)
    if compiled and shapes.compiled is not None:
        found = run_checks(shapes.compiled, data, [r.iri.value for r in records])
        sure = [r for r in records if found[r.iri.value] is not None]
        reports = {}
        if sure:
            results = [result for r in sure for result in found[r.iri.value] or []]
            reports = {r.iri.value: report for r, report in zip(sure, _reports(sure, data, results))}
        for record in records:
            if record.iri.value not in reports:
                reports[record.iri.value] = _validate_together([record], vocabulary, shapes, compiled=False)[0]
        return [reports[r.iri.value] for r in records]
    _conforms, graph, text = shapes.run(data)
    if not isinstance(graph, rdflib.Graph):
        raise ShapesLoadError(f"the patient shapes could not be applied: {text}")
    results = [Result(graph.value(node, SH.focusNode), graph.value(node, SH.resultPath), graph.value(node, SH.value),
                      str(graph.value(node, SH.resultMessage) or "does not conform"),
                      graph.value(node, SH.resultSeverity))
               for node in graph.subjects(RDF.type, SH.ValidationResult)]
    return _reports(records, data, results)


def _reports(records: list[PatientRecord], data: ox.Store, results: list[Result]) -> list[ValidationReport]:
    """The reports of records from the results of a run, the messages in clinical words."""
    reports = {r.iri.value: ValidationReport(patient=r.iri.value) for r in records}
    origins = {r.iri.value: r.origins for r in records}  # FHIR records: the resource behind each part
    for result in results:
        focus = result.focus
        owner = next((iri for iri in reports if str(focus) == iri or str(focus).startswith(iri + "/")), None)
        if owner is None:
            continue
        message = result.message
        severity = SEVERITY.get(result.severity, "violation")
        path = result.path
        value = result.value
        if "{$value}" in message:  # pySHACL fills in {$value} only for SPARQL constraints
            shown = _show(value)
            if isinstance(value, rdflib.URIRef) and str(value).startswith(f"{DRUG}unknown/"):
                written = _value(data, focus, _NS["rdfs"] + "label")  # the drug as the record names it
                shown = str(written) if written is not None else shown
            message = message.replace("{$value}", shown)
        message = _fill(message, data, focus)
        line = _line_number(data, focus)
        if line is not None and not message.startswith("Line "):
            message = f"Line {line}: {message}"
        message = message.replace(f"{DRUG}unknown/", "")
        origin = origins[owner].get(f"{focus}|{_field(path)}") or origins[owner].get(str(focus))
        if origin:
            message = f"{origin}: {message}"
        reports[owner].issues.append(Issue(severity, message, _field(path), line, str(focus)))
    for record in records:
        reports[record.iri.value].issues += [Issue(severity, text) for severity, text in record.notes]
    for report in reports.values():
        # the field and focus break ties between equal messages, so that the order does not
        # depend on the set's iteration order (which changes between processes)
        report.issues = sorted(set(report.issues), key=lambda i: (i.severity, i.line or 0, i.message, i.field, i.focus))
    return [reports[r.iri.value] for r in records]


_PLACEHOLDER = re.compile(r"\{(mkg|rdfs):([A-Za-z]+)\}")
_NS = {"mkg": str(MKG), "rdfs": "http://www.w3.org/2000/01/rdf-schema#"}


def _value(data: ox.Store, subject, predicate: str):
    """One object of (subject, predicate) in the data store, as an rdflib term, or None."""
    if subject is None:
        return None
    node = subject if isinstance(subject, ox.NamedNode) else ox.NamedNode(str(subject))
    for quad in data.quads_for_pattern(node, ox.NamedNode(predicate), None, None):
        return to_rdflib_term(quad.object)
    return None


def _subject(data: ox.Store, predicate: str, obj) -> rdflib.URIRef | None:
    for quad in data.quads_for_pattern(None, ox.NamedNode(predicate), ox.NamedNode(str(obj)), None):
        return rdflib.URIRef(quad.subject.value)
    return None


def _fill(message: str, data: ox.Store, focus) -> str:
    """Fill ``{mkg:endDate}``-style placeholders with the focus node's value of that property."""

    def value_of(match: re.Match) -> str:
        return _show(_value(data, focus, _NS[match.group(1)] + match.group(2)))

    return _PLACEHOLDER.sub(value_of, message)


def _show(value) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, rdflib.URIRef):
        return str(value).rsplit("/", 1)[-1].rsplit("#", 1)[-1]
    return f"'{value}'" if isinstance(value, rdflib.Literal) and not value.datatype else str(value)


def _line_number(data: ox.Store, focus) -> int | None:
    if not isinstance(focus, rdflib.URIRef):
        return None
    node = focus
    types = set(_types(data, node))
    if str(MKG.DrugExposure) in types:
        node = _subject(data, str(MKG.hasExposure), node)
        types = set(_types(data, node)) if node is not None else set()
    if node is None or str(MKG.TherapyLine) not in types:
        return None
    number = _value(data, node, str(MKG.lineNumber))
    try:
        return int(number) if number is not None else None
    except (TypeError, ValueError):
        return None


def _types(data: ox.Store, node) -> list[str]:
    return [q.object.value for q in data.quads_for_pattern(ox.NamedNode(str(node)), ox.NamedNode(str(RDF.type)), None, None)]


def _field(path) -> str:
    if isinstance(path, rdflib.URIRef) and "#" in str(path):
        return str(path).rsplit("#", 1)[1]
    return ""
