"""What the FHIR export reads from the graph: the SELECT queries of ``queries/fhir/``, run
through the store layer, with their rows gathered by subject.  No figure or label is kept in
Python; every value comes from a query."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MyelomaKGError
from ..graph.store import KnowledgeGraph
from ..queries import catalog_of

QUERY_FOLDER = "fhir"


def run(kg: KnowledgeGraph, queries_dir: Path, name: str) -> list[dict[str, Any]]:
    """The rows of ``queries/fhir/<name>.rq``."""
    named = catalog_of(queries_dir).program_query(QUERY_FOLDER, name)
    return kg.select(named.text, named.bind({}))


def group(rows: list[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    """Rows by the value of ``key``, in the order the query gave them."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        out[row[key]].append(row)
    return dict(out)


def distinct(rows: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    """The distinct combinations of ``keys`` (without empty ones), first seen first."""
    seen: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        values = tuple(row.get(k) for k in keys)
        if values[0] is not None and values not in seen:
            seen[values] = {k: row.get(k) for k in keys}
    return list(seen.values())


@dataclass
class GraphData:
    """The query results the export is built from."""

    version: dict[str, Any]
    recommendations: list[dict[str, Any]]
    parts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by recommendation IRI
    regimens: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by regimen IRI
    dosing: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by regimen IRI
    outcomes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by outcome IRI
    publications: list[dict[str, Any]] = field(default_factory=list)


def read(kg: KnowledgeGraph, queries_dir: Path) -> GraphData:
    version = run(kg, queries_dir, "version")
    if not version:
        raise MyelomaKGError("the graph has no ontology with an owl:versionInfo: the FHIR export cannot give a version")
    return GraphData(
        version=version[0],
        recommendations=run(kg, queries_dir, "recommendations"),
        parts=group(run(kg, queries_dir, "recommendation-parts"), "rec"),
        regimens=group(run(kg, queries_dir, "regimens"), "regimen"),
        dosing=group(run(kg, queries_dir, "regimen-dosing"), "regimen"),
        outcomes=group(run(kg, queries_dir, "outcomes"), "outcome"),
        publications=run(kg, queries_dir, "publications"),
    )
