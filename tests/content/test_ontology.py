"""The TBox: OWL header, labels and definitions, the contract's core terms, the closed namespace."""

from __future__ import annotations

import pytest
from rdflib import OWL, RDF, RDFS, SKOS, Graph, Namespace, URIRef
from rdflib.namespace import DCTERMS

from myeloma_kg._mkg import MKG

NS = "https://w3id.org/myeloma-kg/ontology#"
M = Namespace(NS)


@pytest.fixture(scope="module")
def tbox(settings) -> Graph:
    return Graph().parse(settings.tbox_file, format="turtle")


def test_header_has_the_metadata_a_publisher_needs(tbox):
    onto = URIRef("https://w3id.org/myeloma-kg/ontology")
    assert (onto, RDF.type, OWL.Ontology) in tbox
    for prop in (DCTERMS.title, DCTERMS.description, DCTERMS.license, DCTERMS.creator, OWL.versionIRI, OWL.versionInfo):
        assert tbox.value(onto, prop) is not None, prop


def own_terms(tbox, kind):
    return [s for s in tbox.subjects(RDF.type, kind) if str(s).startswith(NS)]


@pytest.mark.parametrize("kind", [OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty])
def test_every_term_has_a_label_and_a_definition(tbox, kind):
    missing = [
        str(t) for t in own_terms(tbox, kind)
        if tbox.value(t, RDFS.label) is None or tbox.value(t, SKOS.definition) is None
    ]
    assert not missing, missing


def test_every_concept_has_a_label_and_a_scheme(tbox):
    concepts = own_terms(tbox, SKOS.Concept)
    assert len(concepts) > 100
    missing = [str(c) for c in concepts if tbox.value(c, RDFS.label) is None or tbox.value(c, SKOS.inScheme) is None]
    assert not missing, missing


CORE_CLASSES = [
    "Drug", "Regimen", "ClinicalTrial", "Outcome", "RiskGroup", "Recommendation", "Guideline", "Patient",
    "TherapyLine", "AntiCD38Antibody", "ProteasomeInhibitor", "ImmunomodulatoryDrug", "Corticosteroid",
    "BCMADirectedTherapy", "GPRC5DDirectedTherapy", "XPO1Inhibitor", "BCL2Inhibitor", "AntiCD38Regimen",
]
CORE_PROPERTIES = [
    "hasComponent", "rxcui", "nctId", "evaluates", "comparator", "reportsOutcome", "endpoint", "hazardRatio",
    "ciLower", "ciUpper", "inSubgroup", "recommends", "supportedBy", "evidenceStatus",
]


@pytest.mark.parametrize("name", CORE_CLASSES)
def test_contract_classes_exist(tbox, name):
    assert (M[name], RDF.type, OWL.Class) in tbox


@pytest.mark.parametrize("name", CORE_PROPERTIES)
def test_contract_properties_exist(tbox, name):
    kinds = set(tbox.objects(M[name], RDF.type))
    assert kinds & {OWL.ObjectProperty, OWL.DatatypeProperty}


def test_anti_cd38_regimen_is_defined_by_its_component(tbox):
    """mkg:AntiCD38Regimen == Regimen and (hasComponent some AntiCD38Antibody)."""
    from rdflib.collection import Collection

    equivalent = tbox.value(M.AntiCD38Regimen, OWL.equivalentClass)
    members = list(Collection(tbox, tbox.value(equivalent, OWL.intersectionOf)))
    assert M.Regimen in members
    restrictions = [m for m in members if m != M.Regimen]
    assert len(restrictions) == 1
    (r,) = restrictions
    assert tbox.value(r, OWL.onProperty) == M.hasComponent
    assert tbox.value(r, OWL.someValuesFrom) == M.AntiCD38Antibody


@pytest.mark.parametrize("scheme,minimum", [
    ("EndpointScheme", 15), ("ResponseScheme", 7), ("LineContextScheme", 4),
    ("EvidenceStatusScheme", 3), ("StrengthScheme", 3),
])
def test_concept_schemes_are_populated(tbox, scheme, minimum):
    assert len(set(tbox.subjects(SKOS.inScheme, M[scheme]))) >= minimum


def test_strength_maps_to_fhir_codes(tbox):
    fhir = "http://terminology.hl7.org/CodeSystem/recommendation-strength"
    matches = {str(o) for o in tbox.objects(None, SKOS.exactMatch)}
    assert any(m.startswith(fhir) for m in matches)


def test_closed_namespace_matches_the_ontology(tbox):
    declared = {str(s)[len(NS):] for s in tbox.subjects() if str(s).startswith(NS) and len(str(s)) > len(NS)}
    generated = set(MKG.__annotations__)
    assert declared == generated, "run: python scripts/generate_namespace.py"
    with pytest.raises(AttributeError):
        MKG.NoSuchTerm  # noqa: B018 - a misspelt term fails instead of minting an IRI
