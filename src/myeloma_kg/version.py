"""Which version of the graph gave an answer.

The version is what the ontology header says (``owl:versionInfo`` and ``owl:versionIRI`` of
``https://w3id.org/myeloma-kg/ontology``), together with the hash of the files the graph was loaded
from (``sha256:`` and 64 hex digits), so two graphs with the same version number but different
content are told apart.  Every answer carries it: the recommend output, the SPARQL service
description, the FHIR export, CDS cards, page footers, downloads and the ``X-Myeloma-KG-Version``
header of every HTTP response.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .namespaces import BASE, GRAPH

HEADER = "X-Myeloma-KG-Version"
ONTOLOGY_IRI = BASE + "ontology"
META_GRAPH_IRI = str(GRAPH["meta"])  # where the store records the hash of the files it was loaded from

_QUERY = f"""
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX dcterms: <http://purl.org/dc/terms/>
SELECT ?version ?iri ?hash WHERE {{
  <{ONTOLOGY_IRI}> owl:versionInfo ?version .
  OPTIONAL {{ <{ONTOLOGY_IRI}> owl:versionIRI ?iri }}
  OPTIONAL {{ GRAPH <{META_GRAPH_IRI}> {{ ?meta dcterms:identifier ?hash }} }}
}} LIMIT 1
"""


@dataclass(frozen=True)
class GraphVersion:
    """The graph's version number, its version IRI and the hash of its content files."""

    version: str
    version_iri: str | None
    content_hash: str | None  # "sha256:<hex>", None when the files are not known (a remote store)

    def label(self) -> str:
        """One line for a header, a footer or a terminal: ``0.1.0 (sha256:1a2b3c4d5e6f)``."""
        if self.content_hash:
            return f"{self.version} ({self.content_hash[:19]})"
        return self.version

    def as_json(self) -> dict[str, Any]:
        return {"version": self.version, "versionIRI": self.version_iri, "contentHash": self.content_hash}


def graph_version(kg) -> GraphVersion:
    """The version of the graph ``kg`` holds (embedded or a remote store's copy); read once, then kept."""
    known = getattr(kg, "_graph_version", None)
    if known is None:
        known = kg._graph_version = _from_rows(kg.select(_QUERY), kg.digest)
    return known


def remote_version(remote) -> GraphVersion:
    """The version of the graph a remote triple store holds (``myeloma-kg load`` puts the hash there)."""
    from .store import to_python

    rows = [{name: to_python(solution[name]) for name in ("version", "iri", "hash")}
            for solution in remote.query(_QUERY, None, named_graphs=[META_GRAPH_IRI])]
    return _from_rows(rows, "")


def _from_rows(rows, digest: str) -> GraphVersion:
    row = rows[0] if rows else {}
    digest = digest or (row.get("hash") or "")
    return GraphVersion(str(row.get("version") or "unversioned"), row.get("iri"),
                        f"sha256:{digest}" if digest else None)


__all__ = ["GraphVersion", "HEADER", "ONTOLOGY_IRI", "graph_version", "remote_version"]
