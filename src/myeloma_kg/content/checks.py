"""Quality checks of the shipped graph: reasoner consistency, SHACL content shapes, SPARQL rules.

Each finding names the entity, the rule and what is wrong.  ``run_checks`` returns a report; the
command line turns it into text and an exit status (0 clean, 1 violations).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pyshacl
import rdflib
from rdflib.namespace import RDF, SH

from ..config import Settings
from ..namespaces import compact
from ..queries import load_query
from ..graph.reasoning import reason
from ..graph.store import KnowledgeGraph, load_shapes_graph

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
        lines += [f"checked: {summary}"] + ([f"graph version: {self.version}"] if self.version else []) + [
            f"time: {timing}", verdict]
        return "\n".join(lines)


def load_shapes(folder: Path) -> rdflib.Graph:
    """Every ``*.ttl`` file of ``shapes/`` whose name starts with ``content``."""
    return load_shapes_graph(folder, "content*.ttl")


def check_reasoner(kg: KnowledgeGraph, settings: Settings) -> list[Finding]:
    result = reason(kg, settings.cache_path)
    if result.consistent:
        return []
    if result.unsatisfiable:
        return [
            Finding("reasoner", "satisfiable-classes", compact(iri), "this class can have no members")
            for iri in result.unsatisfiable
        ]
    return [Finding("reasoner", "consistency", "graph", result.message)]


def check_shapes(kg: KnowledgeGraph, shapes: rdflib.Graph) -> list[Finding]:
    data = kg.to_rdflib(kg.graph_names(inferred=True))
    conforms, report, _text = pyshacl.validate(
        data, shacl_graph=shapes, inference="none", advanced=True, allow_warnings=True
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


def check_queries(kg: KnowledgeGraph, folder: Path) -> tuple[list[Finding], int]:
    findings = []
    files = sorted(folder.glob("*-violation.rq"))
    for path in files:
        query = load_query(path)
        for row in kg.select(query.text):
            entity = row.get("entity") or "graph"
            message = row.get("message") or query.summary
            findings.append(
                Finding("sparql", query.name, compact(str(entity)), str(message), str(row.get("severity") or "violation"))
            )
    return findings, len(files)


def run_checks(kg: KnowledgeGraph, settings: Settings) -> CheckReport:
    report = CheckReport()
    started = time.perf_counter()
    report.findings += check_reasoner(kg, settings)
    report.timings["reasoner"] = time.perf_counter() - started

    started = time.perf_counter()
    shapes = load_shapes(settings.shapes_dir)
    report.findings += check_shapes(kg, shapes)
    report.timings["shapes"] = time.perf_counter() - started
    report.counts["shapes"] = sum(1 for _ in shapes.subjects(RDF.type, SH.NodeShape))

    started = time.perf_counter()
    found, n_queries = check_queries(kg, settings.checks_dir)
    report.findings += found
    report.timings["sparql"] = time.perf_counter() - started
    report.counts["violation queries"] = n_queries
    report.counts["triples"] = kg.count()
    return report

