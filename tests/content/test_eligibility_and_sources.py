"""The content behind eligibility, partner trials and source notes.

The eligibility limits are data (mkg:RegimenEligibility) with their sources; the partner trials that
the source notes lack are recorded only by design and flagged; stale notes are gone.
"""

from __future__ import annotations

import pytest

MKG = "https://w3id.org/myeloma-kg/ontology#"
R = "https://w3id.org/myeloma-kg/regimen/"
T = "https://w3id.org/myeloma-kg/trial/"


def test_nineteen_regimens_have_eligibility_limits_with_sources_and_marks(kg):
    rows = kg.select("""
        SELECT ?e ?regimen ?status ?note WHERE {
          ?e a mkg:RegimenEligibility ; mkg:eligibilityRegimen ?regimen ; mkg:evidenceStatus ?status ; mkg:sourceNote ?note }""")
    regimens = {r["regimen"][len(R):] for r in rows}
    assert len(regimens) >= 19, sorted(regimens)
    assert {"DPd", "IsaPd", "TecDara", "CiltaCel", "IdeCel", "TecMono", "ElraMono", "TalMono", "LinvoMono",
            "Sd", "SVd", "BPd", "VenVd", "DKd", "DKdWeekly", "IsaKd", "DRd", "TalD", "TalDP"} <= regimens
    assert all(r["note"].strip() for r in rows)
    assert {r["status"] for r in rows} <= {MKG + "VerifiedFromSource", MKG + "UnverifiedFromMemory"}


def test_every_eligibility_criterion_has_clinical_texts(kg):
    rows = kg.select("""
        SELECT ?criterion ?unmet WHERE { ?e a mkg:RegimenEligibility ; mkg:appliesWhen ?criterion .
                                         OPTIONAL { ?criterion mkg:unmetText ?unmet } }""")
    assert rows and all(r["unmet"] for r in rows), [r["criterion"] for r in rows if not r["unmet"]]


@pytest.mark.parametrize("study,regimen,role", [
    ("optimismm", "PVd", "evaluates"), ("endeavor", "Kd", "evaluates"), ("arrow", "Kd", "evaluates"),
    ("eloquent-3", "EPd", "evaluates"), ("eloquent-3", "Pd", "comparator")])
def test_partner_trials_recorded_by_design_and_flagged_unverified(kg, study, regimen, role):
    iri = T + study
    rows = kg.select(f"""
        SELECT ?status (COUNT(DISTINCT ?nct) AS ?ncts) (COUNT(DISTINCT ?outcome) AS ?outcomes) WHERE {{
          <{iri}> mkg:{role} <{R}{regimen}> ; mkg:evidenceStatus ?status .
          OPTIONAL {{ <{iri}> mkg:nctId ?nct }} OPTIONAL {{ ?outcome mkg:outcomeOf <{iri}> }} }} GROUP BY ?status""")
    assert rows and rows[0]["status"] == MKG + "UnverifiedFromMemory"
    assert rows[0]["ncts"] == 0 and rows[0]["outcomes"] == 0  # no NCT number and no figure invented
    assert kg.select(f"SELECT ?r WHERE {{ ?r mkg:supportedBy <{iri}> }}")


def test_cilta_cel_is_recommended_by_r17_with_cartitude4(kg):
    assert kg.select(f"""SELECT ?x WHERE {{ <https://w3id.org/myeloma-kg/recommendation/R17> mkg:recommends <{R}CiltaCel> ;
                                 mkg:supportedBy <{T}NCT04181827> . BIND(1 AS ?x) }}""")


def test_abstract_and_r17_no_longer_say_the_abstract_is_cut_off(kg):
    rows = kg.select("""SELECT ?text WHERE {
        { <https://w3id.org/myeloma-kg/guideline/ppmmwg-2025-abstract-future-combinations> mkg:note|mkg:statement ?text }
        UNION { <https://w3id.org/myeloma-kg/recommendation/R17> mkg:confidenceNote ?text } }""")
    texts = " ".join(r["text"] for r in rows).lower()
    assert "cut off" not in texts and "could not be seen" not in texts
    assert "car t cells" in texts and "bispecific" in texts


def test_primary_and_later_analyses_are_marked(kg):
    rows = {r["o"].rsplit("/", 1)[1]: r["a"].rsplit("#", 1)[1] for r in kg.select("""
        SELECT ?o ?a WHERE { ?o mkg:outcomeOf ?t ; mkg:analysis ?a .
          FILTER(?t IN (<https://w3id.org/myeloma-kg/trial/NCT03548207>, <https://w3id.org/myeloma-kg/trial/NCT02755597>)) }""")}
    assert rows["cartitude1-orr-all-updated"] == "UpdatedAnalysis"
    for name in ("bellini-pfs-all-final", "bellini-pfs-t11-14-final", "bellini-pfs-bcl2high-final"):
        assert rows[name] == "FinalAnalysis"
    assert not any(name.endswith("-primary") for name in rows if name.startswith(("bellini-pfs", "cartitude1-orr")))


def test_every_verified_fact_has_a_source_note(kg, settings):
    from myeloma_kg.content.checks import check_queries
    findings = [f for f in check_queries(kg, settings.checks_dir)[0] if f.rule.startswith("verified-without-source")]
    assert findings == []


def test_limits_say_how_they_apply_and_unverified_figures_never_exclude(kg):
    rows = kg.select("""
        SELECT ?e ?app ?status WHERE { ?e a mkg:RegimenEligibility ; mkg:limitApplication ?app ; mkg:evidenceStatus ?status }""")
    assert len(rows) >= 40
    caution = [r for r in rows if r["app"] == MKG + "LimitCaution"]
    assert caution and all(r["status"] == MKG + "UnverifiedFromMemory" for r in caution)
    # every regimen a recommendation names that has a randomised trial carries an ECOG limit, or is listed as not encoded
    with_ecog = {r["regimen"][len(R):] for r in kg.select("""
        SELECT ?regimen WHERE { ?e a mkg:RegimenEligibility ; mkg:eligibilityRegimen ?regimen ;
                                   mkg:appliesWhen/mkg:quantity mkg:ecog }""")}
    assert {"DRd", "DVd", "DKd", "DKdWeekly", "DPd", "IsaPd", "IsaKd", "TecDara", "TalD", "TalDP", "CiltaCel", "IdeCel",
            "TecMono", "ElraMono", "TalMono", "LinvoMono", "SVd", "Sd", "BVd", "BPd", "VenVd", "VenD",
            "KRd", "IRd", "ERd"} <= with_ecog


def test_dexamethasone_caution_names_only_weekly_40_mg_regimens(kg):
    rows = kg.select("""
        SELECT ?regimen (SAMPLE(?dose) AS ?d) WHERE {
          <https://w3id.org/myeloma-kg/caution/dexamethasone-20mg-age-75> mkg:cautionRegimen ?regimen .
          OPTIONAL { ?regimen mkg:hasDosingSchedule ?s . ?s mkg:scheduleDrug <https://w3id.org/myeloma-kg/drug/dexamethasone> ;
                                                        mkg:dose ?dose ; mkg:hasPhase/mkg:frequency mkg:Weekly } } GROUP BY ?regimen""")
    scheduled = {r["regimen"][len(R):]: r["d"] for r in rows}
    assert "DVd" not in scheduled and "IsaKd" not in scheduled and "SVd" not in scheduled
    assert all(float(d) == 40.0 for reg, d in scheduled.items() if d is not None), scheduled
