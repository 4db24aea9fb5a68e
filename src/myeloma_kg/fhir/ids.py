"""Ids, canonical URLs and code systems of the FHIR export, all derived from the graph's IRIs.

A resource's canonical ``url`` is the IRI of the graph node it comes from (a recommendation
``https://w3id.org/myeloma-kg/recommendation/R3`` is the PlanDefinition with that url); its ``id``
is the IRI's local name made to fit FHIR's id rule (``[A-Za-z0-9\\-\\.]{1,64}``): any other
character becomes ``-``, and a name longer than 64 characters keeps its first 55 characters and
a hash of the whole IRI, so two IRIs never share an id.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from ..namespaces import BASE, ONTOLOGY_IRI

FHIR_BASE = BASE + "fhir"  # the nominal base of the Bundle's fullUrls
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
NCIT = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
URI = "urn:ietf:rfc:3986"
CPG = "http://hl7.org/fhir/uv/cpg/StructureDefinition/"
CQF = "http://hl7.org/fhir/StructureDefinition/"

_ID_BAD = re.compile(r"[^A-Za-z0-9\-.]")
ID_RULE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def local_name(iri: str) -> str:
    """The part of an IRI after its last ``/`` or ``#``."""
    return re.split(r"[/#]", iri.rstrip("/"))[-1]


def fhir_id(iri: str, suffix: str = "") -> str:
    """A FHIR id for the graph node ``iri`` (with an optional ``suffix`` such as ``-rating``)."""
    name = _ID_BAD.sub("-", local_name(iri)) + suffix
    if len(name) > 64:
        name = name[:55] + "-" + hashlib.sha256((iri + suffix).encode()).hexdigest()[:8]
    return name


def concept(iri: str | None, label: str | None = None) -> dict | None:
    """A Coding of one of the graph's own concepts (``mkg:TopicRenal`` → code ``TopicRenal``)."""
    if not iri:
        return None
    coding = {"system": ONTOLOGY_IRI, "code": local_name(iri)}
    if label:
        coding["display"] = label
    return coding


def grade_codings(row: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The Codings of one grade of a recommendation as ``fhir-recommendations`` gives it (``key``
    is ``strength``, ``direction`` or ``certainty``): the graph's concept, then the HL7 code the
    graph maps it to, when it maps it to one.  Empty when the graph states no such grade."""
    if not row.get(key):
        return []
    codings = [concept(row[key], row.get(key + "Label"))]
    if row.get(key + "Code"):
        codings.append({"system": row[key + "System"], "code": row[key + "Code"]})
    return codings


def fhir_name(identifier: str) -> str:
    """A computer-friendly ``name`` (``^[A-Z]([A-Za-z0-9_]){1,254}$``) from an identifier."""
    name = re.sub(r"[^A-Za-z0-9_]", "", identifier)
    return "Mkg" + name
