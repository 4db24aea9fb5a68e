"""The guideline content: counts of what it holds, evidence status, reasoner classification."""

from __future__ import annotations

import pytest


def count(kg, pattern: str) -> int:
    return kg.select(f"SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{ {pattern} }}")[0]["n"]


@pytest.mark.parametrize("pattern,minimum", [
    ("?x a mkg:Drug", 22),
    ("?x a mkg:Regimen", 30),
    ("?x a mkg:ClinicalTrial", 25),
    ("?x a mkg:Outcome", 80),
    ("?x a mkg:Recommendation", 18),
    ("?x a mkg:Publication", 20),
    ("?x a mkg:CytogeneticAbnormality", 8),
])
def test_content_counts(kg, pattern, minimum):
    assert count(kg, pattern) >= minimum


def test_recommendations_r1_to_r19_are_flagged_reconstructed(kg):
    rows = kg.select("""
        SELECT ?notation ?status WHERE {
          ?r a mkg:Recommendation ; skos:notation ?notation ; mkg:evidenceStatus ?status }""")
    assert {r["notation"] for r in rows} == {f"R{i}" for i in range(1, 20)}
    assert {r["status"] for r in rows} == {"https://w3id.org/myeloma-kg/ontology#Reconstructed"}


def test_reconstructed_content_can_be_filtered_out(run_query):
    verified = run_query("recommendations-by-topic", evidenceStatus="mkg:VerifiedFromSource")
    assert verified == []
    assert len(run_query("recommendations-by-topic")) == 19


def test_every_fact_node_says_whether_it_was_verified(kg):
    rows = kg.select("""
        SELECT ?x WHERE {
          { ?x a mkg:Outcome } UNION { ?x a mkg:IdentifierRecord } UNION { ?x a mkg:EligibilityFact }
          FILTER NOT EXISTS { ?x mkg:evidenceStatus ?s }
        }""")
    assert rows == []


def test_the_reasoner_classifies_exactly_the_regimens_with_an_anti_cd38_antibody(kg):
    inferred = {r["r"] for r in kg.select("""
        SELECT ?r WHERE { GRAPH <https://w3id.org/myeloma-kg/graph/inferred> { ?r a mkg:AntiCD38Regimen } }""")}
    by_component = {r["r"] for r in kg.select("""
        SELECT DISTINCT ?r WHERE { ?r a mkg:Regimen ; mkg:hasComponent ?d .
          ?d a/rdfs:subClassOf* mkg:AntiCD38Antibody }""")}
    assert inferred == by_component
    names = {r.rsplit("/", 1)[1] for r in inferred}
    assert {"DRd", "DVd", "DKd", "DPd", "IsaPd", "IsaKd", "DaraMono", "TecDara", "TalDP", "TalD"} <= names
    assert not kg.select("""SELECT ?r WHERE { GRAPH ?g { ?r a mkg:AntiCD38Regimen }
                            FILTER(?g != <https://w3id.org/myeloma-kg/graph/inferred>) }"""), \
        "nobody asserts the classification by hand"


def test_verified_identifiers_are_plain_values_and_exact_matches(kg):
    rows = kg.select("SELECT ?rxcui WHERE { drug:daratumumab mkg:rxcui ?rxcui ; skos:exactMatch ?m "
                     "FILTER(STRENDS(STR(?m), ?rxcui)) }")
    assert [r["rxcui"] for r in rows] == ["1721947"]
    unverified = kg.select("""SELECT ?code WHERE { drug:daratumumab mkg:identifierRecord ?rec .
        ?rec mkg:code ?code ; mkg:evidenceStatus mkg:UnverifiedFromMemory }""")
    assert {r["code"] for r in unverified} == {"4Z63YK6E0E"}
