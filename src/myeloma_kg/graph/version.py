"""Which version of the graph gave an answer.

The version is what the ontology header says (``owl:versionInfo`` and ``owl:versionIRI`` of
``https://w3id.org/myeloma-kg/ontology``), together with the hash of the files the graph was loaded
from (``sha256:`` and 64 hex digits), so two graphs with the same version number but different
content are told apart, and the hash of the shapes and queries that answer with it (``rulesHash``).
Every answer carries it: the recommend output, the SPARQL service
description, the FHIR export, CDS cards, page footers, downloads and the ``X-Myeloma-KG-Version``
header of every HTTP response.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import shipped_home
from ..namespaces import GRAPH_META, ONTOLOGY_IRI
from ..queries import catalog_of

HEADER = "X-Myeloma-KG-Version"  # on every answer; on a request, the version it is pinned to
META_GRAPH_IRI = str(GRAPH_META)  # where the store records the hash of the files it was loaded from



@dataclass(frozen=True)
class GraphVersion:
    """The graph's version number, its version IRI and the hash of its content files."""

    version: str
    version_iri: str | None
    content_hash: str | None  # "sha256:<hex>", None when the files are not known (a remote store)
    rules_hash: str | None = None  # "sha256:<hex>" of the shapes and queries this process answers with

    def label(self) -> str:
        """One line for a header, a footer or a terminal: ``0.1.0 (sha256:1a2b3c4d5e6f)``."""
        if self.content_hash:
            return f"{self.version} ({self.content_hash[:19]})"
        return self.version

    def matches(self, wanted: str) -> bool:
        """Whether a pinned version names this graph: its version number ("0.1.0"), its version IRI,
        its label, or its content hash ("sha256:" and at least 12 hex digits of it)."""
        wanted = wanted.strip()
        if not wanted:
            return False
        if wanted in (self.version, self.version_iri, self.label()):
            return True
        return bool(self.content_hash and re.fullmatch(r"sha256:[0-9a-f]{12,64}", wanted)
                    and self.content_hash.startswith(wanted))

    def refusal(self, wanted: str) -> str:
        """Why a pinned request is not answered, in words."""
        shown = wanted.strip()[:80] or "(empty)"
        short = " (a content-hash pin needs at least 12 of its hex digits)" if re.fullmatch(
            r"sha256:[0-9a-f]{0,11}", shown) else ""
        return (f"the graph that would answer is version {self.label()}, not the {shown!r} the request is pinned to"
                f"{short}; use a release or a server of that version, or drop the pin")

    def as_json(self) -> dict[str, Any]:
        out = {"version": self.version, "versionIRI": self.version_iri, "contentHash": self.content_hash}
        if self.rules_hash:
            out["rulesHash"] = self.rules_hash
        return out


def _query() -> str:
    """``queries/graph/version.rq`` of the shipped files: the version is read the same way whatever
    queries folder a user's settings name."""
    return catalog_of(shipped_home() / "queries").program_query("graph", "version").text


def graph_version(kg) -> GraphVersion:
    """The version of the graph ``kg`` holds (embedded or a remote store's copy); read once, then kept."""
    known = getattr(kg, "_graph_version", None)
    if known is None:
        found = _from_rows(kg.select(_query()), kg.digest)
        settings = getattr(kg, "settings", None)
        if settings is not None:
            found = GraphVersion(found.version, found.version_iri, found.content_hash,
                                 rules_hash(settings.shapes_dir, settings.queries_dir))
        known = kg._graph_version = found
    return known


def rules_hash(shapes_dir: Path, queries_dir: Path) -> str | None:
    """The hash of the shapes (``*.ttl``) and queries (``*.rq``) files: the validation, rules and
    queries that turn the graph into an answer.  The content hash covers the graph; this one
    tells apart two answers from the same graph by a process whose rules were changed."""
    h = hashlib.sha256()
    found = False
    for root, pattern in ((Path(shapes_dir), "*.ttl"), (Path(queries_dir), "*.rq")):
        if not root.is_dir():
            continue
        for path in sorted(root.rglob(pattern)):
            found = True
            h.update(f"{root.name}/{path.relative_to(root).as_posix()}".encode())
            h.update(b"\0")
            h.update(path.read_bytes())
    return f"sha256:{h.hexdigest()}" if found else None


def remote_version(remote) -> GraphVersion:
    """The version of the graph a remote triple store holds (``myeloma-kg load`` puts the hash there)."""
    from .store import to_python

    rows = [{name: to_python(solution[name]) for name in ("version", "iri", "hash")}
            for solution in remote.query(_query(), None, named_graphs=[META_GRAPH_IRI])]
    return _from_rows(rows, "")


def _from_rows(rows, digest: str) -> GraphVersion:
    row = rows[0] if rows else {}
    digest = digest or (row.get("hash") or "")
    return GraphVersion(str(row.get("version") or "unversioned"), row.get("iri"),
                        f"sha256:{digest}" if digest else None)


__all__ = ["GraphVersion", "HEADER", "ONTOLOGY_IRI", "graph_version", "remote_version", "rules_hash"]
