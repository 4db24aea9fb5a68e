"""What ``/fhir`` answers from: the FHIR export built once, indexed by type and id, and
the JSON of its answers (CapabilityStatement, searchset Bundles, OperationOutcomes)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from ..config import program_version
from ..graph.store import KnowledgeGraph
from .export import RESOURCE_ORDER, Export, build
from .graphdata import run

MEDIA_TYPE = "application/fhir+json"
FHIR_RELEASES = {"R5": "5.0.0", "R4": "4.0.1"}
# the fhirVersion parameter of the media type (FHIR's http.html#version-parameter), to our variants
MIME_VERSIONS = {"5.0": "R5", "5.0.0": "R5", "4.0": "R4", "4.0.1": "R4"}
SEARCH_PARAMS = {"_id": "token", "url": "uri"}


def outcome(severity: str, code: str, text: str) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": severity, "code": code, "diagnostics": text}]}


def dumps(resource: dict[str, Any]) -> bytes:
    return json.dumps(resource, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass
class Served:
    """One FHIR version of the export, indexed."""

    export: Export
    by_type: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    raw: dict[tuple[str, str], bytes] = field(default_factory=dict)

    @classmethod
    def of(cls, export: Export) -> Served:
        served = cls(export)
        for resource in export.resources():
            served.by_type.setdefault(resource["resourceType"], {})[resource["id"]] = resource
            served.raw[(resource["resourceType"], resource["id"])] = dumps(resource)
        return served

    def types(self) -> list[str]:
        return [t for t in RESOURCE_ORDER if t in self.by_type]


def _software_version() -> dict[str, str]:
    version = program_version()  # None: a checkout that is not installed
    return {"version": version} if version else {}


class FhirRepository:
    """Builds each FHIR version of the export on first use and keeps it for the app's life (the
    graph is read-only while the app runs)."""

    def __init__(self, kg: KnowledgeGraph, queries_dir) -> None:
        self.kg, self.queries_dir = kg, queries_dir
        self._served: dict[str, Served] = {}
        self._answers: dict[tuple, bytes] = {}
        self._lock = threading.Lock()
        self._version: dict[str, Any] | None = None

    def served(self, fhir_version: str) -> Served:
        with self._lock:
            if fhir_version not in self._served:
                self._served[fhir_version] = Served.of(build(self.kg, self.queries_dir, fhir_version))
            return self._served[fhir_version]

    def graph_version(self) -> dict[str, Any]:
        if self._version is None:
            self._version = run(self.kg, self.queries_dir, "version")[0]
        return self._version

    def read(self, fhir_version: str, resource_type: str, resource_id: str) -> bytes | None:
        return self.served(fhir_version).raw.get((resource_type, resource_id))

    def search(self, fhir_version: str, resource_type: str, base: str, filters: dict[str, str]) -> bytes:
        """A searchset Bundle of the type's resources (all, or those the filters select)."""
        key = (fhir_version, resource_type, base, tuple(sorted(filters.items())))
        with self._lock:
            if key in self._answers:
                return self._answers[key]
        resources = list(self.served(fhir_version).by_type.get(resource_type, {}).values())
        if "_id" in filters:
            resources = [r for r in resources if r["id"] == filters["_id"]]
        if "url" in filters:
            resources = [r for r in resources if r.get("url") == filters["url"]]
        bundle = {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
                  "link": [{"relation": "self", "url": f"{base}/{resource_type}"}],
                  "entry": [{"fullUrl": f"{base}/{resource_type}/{r['id']}", "resource": r,
                             "search": {"mode": "match"}} for r in resources]}
        body = dumps(bundle)
        with self._lock:
            if len(self._answers) < 256:  # the unfiltered searches and a bounded number of others
                self._answers[key] = body
        return body

    def capability_statement(self, fhir_version: str, base: str) -> dict[str, Any]:
        graph = self.graph_version()
        served = self.served(fhir_version)
        return {
            "resourceType": "CapabilityStatement",
            "id": f"myeloma-kg-{fhir_version}",
            "url": f"{base}/metadata",
            "version": graph["versionInfo"],
            "name": "MyelomaKgFhir" + fhir_version,
            "title": f"myeloma-kg {graph['versionInfo']}: the guideline as FHIR {fhir_version} (read-only)",
            "status": "active",
            "date": graph.get("created") or dt.date.today().isoformat(),
            "publisher": graph.get("creator") or "myeloma-kg",
            "description": "Read and search-type on the exported guideline resources; nothing can be created, "
                           "changed or deleted. Reconstructed recommendations are drafts (see their meta.tag).",
            "kind": "instance",
            "software": {"name": "myeloma-kg", **_software_version()},
            "implementation": {"description": "myeloma-kg FHIR export", "url": base},
            "fhirVersion": FHIR_RELEASES[fhir_version],
            "format": [MEDIA_TYPE, "json"],
            "rest": [{
                "mode": "server",
                "resource": [{
                    "type": t,
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "versioning": "no-version",
                    "readHistory": False,
                    "updateCreate": False,
                    "searchParam": [{"name": n, "type": k} for n, k in SEARCH_PARAMS.items()],
                } for t in served.types()],
            }],
        }
