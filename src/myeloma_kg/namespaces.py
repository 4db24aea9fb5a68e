"""The prefixes of the public contract, bound in one place."""

from __future__ import annotations

from rdflib import Namespace
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, RDFS, SKOS, XSD

from ._mkg import MKG

BASE = "https://w3id.org/myeloma-kg/"

DRUG = Namespace(BASE + "drug/")
REGIMEN = Namespace(BASE + "regimen/")
TRIAL = Namespace(BASE + "trial/")
REC = Namespace(BASE + "recommendation/")
RISK = Namespace(BASE + "risk/")
PATIENT = Namespace(BASE + "patient/")
OUTCOME = Namespace(BASE + "outcome/")
CRIT = Namespace(BASE + "criterion/")
CAUTION = Namespace(BASE + "caution/")
ACTION = Namespace(BASE + "action/")
SCHEDULE = Namespace(BASE + "schedule/")
PUB = Namespace(BASE + "publication/")
GUIDELINE = Namespace(BASE + "guideline/")
IDREC = Namespace(BASE + "identifier/")
GRADING = Namespace(BASE + "grading/")  # review steps and certainty assessments
TOXICITY = Namespace(BASE + "toxicity/")  # kinds of toxicity and the rules about them
JURISDICTION = Namespace(BASE + "jurisdiction/")
REGULATORY_STATUS = Namespace(BASE + "regulatory-status/")
GRAPH = Namespace(BASE + "graph/")
SHAPE = Namespace(BASE + "shapes/content#")

ONTOLOGY_IRI = BASE + "ontology"

# The named graphs of the store.
GRAPH_ONTOLOGY = GRAPH["ontology"]
GRAPH_GUIDELINE = GRAPH["guideline"]
GRAPH_INFERRED = GRAPH["inferred"]
GRAPH_IMPORTED = GRAPH["rxnorm"]  # what `myeloma-kg rxnorm import` adds
GRAPH_META = GRAPH["meta"]  # the hash of the files the store was loaded from

PREFIXES: dict[str, str] = {
    "mkg": str(MKG),
    "drug": str(DRUG),
    "regimen": str(REGIMEN),
    "trial": str(TRIAL),
    "rec": str(REC),
    "risk": str(RISK),
    "patient": str(PATIENT),
    "outcome": str(OUTCOME),
    "crit": str(CRIT),
    "caution": str(CAUTION),
    "action": str(ACTION),
    "schedule": str(SCHEDULE),
    "pub": str(PUB),
    "guideline": str(GUIDELINE),
    "idrec": str(IDREC),
    "grading": str(GRADING),
    "tox": str(TOXICITY),
    "place": str(JURISDICTION),
    "status": str(REGULATORY_STATUS),
    "shape": str(SHAPE),
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "owl": str(OWL),
    "xsd": str(XSD),
    "skos": str(SKOS),
    "dcterms": str(DCTERMS),
    "prov": str(PROV),
}



def compact(iri: str) -> str:
    """``drug:daratumumab`` for a project IRI; the IRI itself when no prefix fits."""
    best = ""
    best_prefix = ""
    for prefix, ns in PREFIXES.items():
        if iri.startswith(ns) and len(ns) > len(best):
            best, best_prefix = ns, prefix
    if not best:
        return iri
    return f"{best_prefix}:{iri[len(best):]}"
