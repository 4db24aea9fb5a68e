"""The competency questions of the guideline graph, each answered by a named query."""

from __future__ import annotations

import pytest

R = "https://w3id.org/myeloma-kg/regimen/"
T = "https://w3id.org/myeloma-kg/trial/"
MKG = "https://w3id.org/myeloma-kg/ontology#"

POLLUX, CASTOR, LEPUS, CANDOR = T + "NCT02076009", T + "NCT02136134", T + "NCT03234972", T + "NCT03158688"
APOLLO, ICARIA, IKEMA = T + "NCT03180736", T + "NCT02990338", T + "NCT03275285"
MAJESTEC3, MONUMENTAL3, BELLINI = T + "NCT05083169", T + "NCT05455320", T + "NCT02755597"


def regimens(rows, key="regimen"):
    return {r[key][len(R):] for r in rows if r.get(key)}


def test_cq01_lenalidomide_refractory_after_one_line(run_query):
    rows = run_query("anti-cd38-after-one-line-lenalidomide-refractory")
    found = regimens(rows)
    assert {"DKd", "IsaKd", "DPd", "DVd"} <= found
    assert "DRd" not in found
    by_trial = {(r["regimen"][len(R):], r["trial"]) for r in rows}
    assert {("DKd", CANDOR), ("IsaKd", IKEMA), ("DPd", APOLLO), ("DVd", CASTOR)} <= by_trial
    castor = [r for r in rows if r["trial"] == CASTOR]
    assert any(r["subgroupHR"] == pytest.approx(0.44) for r in castor)
    # trials published after the consensus only count when asked for
    assert "TecDara" not in found
    assert "TecDara" in regimens(run_query("anti-cd38-after-one-line-lenalidomide-refractory", includeLater="true"))


def test_cq02_lenalidomide_sensitive_first_relapse(run_query):
    rows = run_query("anti-cd38-at-first-relapse-lenalidomide-sensitive")
    assert {"DRd", "DVd", "DKd", "IsaKd"} <= regimens(rows)
    assert "DPd" not in regimens(rows)  # APOLLO required lenalidomide-refractoriness after one line
    os_hr = {r["trial"]: r["osHR"] for r in rows}
    assert os_hr[POLLUX] == pytest.approx(0.73)
    assert os_hr[CASTOR] == pytest.approx(0.74)


def test_cq03_regimens_after_anti_cd38_refractoriness(run_query):
    rows = run_query("regimens-for-clinical-state")
    found = regimens(rows)
    assert {"CiltaCel", "IdeCel", "TecMono", "ElraMono", "TalMono", "LinvoMono", "BVd", "BPd", "SVd", "Sd", "VenD"} <= found
    assert not [r for r in rows if r["isAntiCD38"]], "no anti-CD38 regimen while refractory within the washout"
    venetoclax = [r for r in rows if r["regimen"] == R + "VenD"]
    assert any("11;14" in (r["condition"] or "") for r in venetoclax)


def test_cq04_isa_kd_in_1q21_plus(run_query):
    rows = run_query("regimen-pfs-in-subgroup", regimen="regimen:IsaKd", subgroup="risk:Any1q21Plus")
    assert {r["nctId"] for r in rows} == {"NCT03275285"}
    sub = [r for r in rows if r["population"] == "subgroup"]
    assert any(r["hazardRatio"] == pytest.approx(0.58) and r["ciLower"] == pytest.approx(0.37)
               and r["ciUpper"] == pytest.approx(0.92) for r in sub)
    overall = [r for r in rows if r["population"] == "all patients"]
    assert any(r["hazardRatio"] == pytest.approx(0.58) and r["ciLower"] == pytest.approx(0.42)
               and r["ciUpper"] == pytest.approx(0.79) for r in overall)


def test_cq05_isa_pd_in_gain_1q21(run_query):
    rows = run_query("regimen-pfs-in-subgroup", regimen="regimen:IsaPd", subgroup="risk:Gain1q21")
    assert "NCT02990338" in {r["nctId"] for r in rows}
    sub = [r for r in rows if r["population"] == "subgroup"]
    assert any(r["hazardRatio"] == pytest.approx(0.50) and r["ciLower"] == pytest.approx(0.28)
               and r["ciUpper"] == pytest.approx(0.88) for r in sub)
    overall = [r for r in rows if r["population"] == "all patients" and r["trial"] == ICARIA]
    assert any(r["hazardRatio"] == pytest.approx(0.596) for r in overall)


def test_cq06_significant_overall_survival(run_query):
    rows = run_query("anti-cd38-overall-survival")
    significant = {r["trial"] for r in rows if r["significant"]}
    not_significant = {r["trial"] for r in rows if not r["significant"]}
    assert significant == {POLLUX, CASTOR}
    assert {CANDOR, ICARIA, APOLLO} <= not_significant
    hr = {r["trial"]: r["hazardRatio"] for r in rows if r["trial"] in (POLLUX, CASTOR)}
    assert hr == {POLLUX: pytest.approx(0.73), CASTOR: pytest.approx(0.74)}


def test_cq07_renal_impairment(run_query):
    rows = run_query("evidence-in-subgroup", subgroup="risk:RenalImpairment")
    assert {"IsaKd", "IsaPd", "DPd"} <= regimens(rows)
    hrs = {(r["regimen"][len(R):], round(r["hazardRatio"], 3)) for r in rows if r["hazardRatio"]}
    assert {("IsaKd", 0.27), ("IsaPd", 0.5), ("DPd", 0.59)} <= hrs
    renal_response = [r for r in rows if r["endpointLabel"].lower().startswith("complete renal")]
    assert any(r["experimentalValue"] == pytest.approx(52.0) and r["comparatorValue"] == pytest.approx(30.8)
               for r in renal_response)


def test_cq08_subcutaneous_daratumumab_schedule(run_query):
    rows = run_query("dosing-schedule", drug="drug:daratumumab-and-hyaluronidase")
    assert rows
    first = rows[0]
    assert first["dose"] == pytest.approx(1800) and first["doseUnit"] == "mg"
    assert first["volumeMl"] == pytest.approx(15)
    assert "120 mg/mL" in first["concentration"] and "2000 U/mL" in first["concentration"]
    assert first["cycleLengthDays"] == 28
    phases = [(r["fromCycle"], r["toCycle"], r["frequencyLabel"]) for r in rows if "4-week" in r["scheduleLabel"]]
    assert (1, 2, "weekly") in phases
    assert (3, 6, "every 2 weeks") in phases
    assert any(p[0] == 7 and p[2] == "every 4 weeks" for p in phases)


def _texts(rows):
    return " ".join(r["statement"] for r in rows).lower()


def test_cq09_transfusion_laboratory(run_query):
    rows = run_query("supportive-care-actions", kind="mkg:ActionLaboratoryNotice") + \
        run_query("supportive-care-actions", kind="mkg:ActionTransfusionSupport")
    text = _texts(rows)
    for phrase in ("phenotyp", "genotyp", "dtt", "k-negative", "2", "6 months"):
        assert phrase in text, phrase


def test_cq11_infection_prophylaxis(run_query):
    rows = run_query("supportive-care-actions", kind="mkg:ActionProphylaxis") + \
        run_query("supportive-care-actions", kind="mkg:ActionVaccination")
    text = _texts(rows)
    for phrase in ("acyclovir", "valacyclovir", "hbv", "zoster", "influenza", "pneumococ", "400 mg/dl",
                   "levofloxacin", "pneumocystis"):
        assert phrase in text, phrase


def test_cq10_prior_anti_cd38_in_trials(run_query):
    rows = run_query("trial-eligibility")
    facts = {(r["trial"], r["aspect"][len(MKG):], r["policy"][len(MKG):]) for r in rows}
    assert (CANDOR, "AspectPriorAntiCD38", "Stratified") in facts
    assert (MAJESTEC3, "AspectPriorAntiCD38", "AllowedIfNotRefractory") in facts
    assert (MAJESTEC3, "AspectAntiCD38Refractory", "Excluded") in facts
    assert (ICARIA, "AspectAntiCD38Refractory", "Excluded") in facts
    assert (LEPUS, "AspectPriorAntiCD38", "Excluded") in facts
    trials = {r["trialLabel"] for r in rows}
    assert {"CARTITUDE-4", "KarMMa-3", "DREAMM-8"} <= trials


def test_cq12_anti_cd38_bispecific_combinations(run_query):
    rows = run_query("anti-cd38-bispecific-combinations")
    pfs = {r["regimen"][len(R):]: r for r in rows if r["endpointLabel"].lower().startswith("progression")}
    assert pfs["TecDara"]["hazardRatio"] == pytest.approx(0.17)
    assert (pfs["TecDara"]["ciLower"], pfs["TecDara"]["ciUpper"]) == (pytest.approx(0.12), pytest.approx(0.23))
    assert pfs["TalDP"]["hazardRatio"] == pytest.approx(0.28)
    assert pfs["TalD"]["hazardRatio"] == pytest.approx(0.33)
    os_ = {r["regimen"][len(R):]: r["hazardRatio"] for r in rows if r["endpointLabel"].lower().startswith("overall")}
    assert os_["TecDara"] == pytest.approx(0.46)


def test_cq13_asian_and_chinese_patients(run_query):
    rows = run_query("anti-cd38-evidence-in-asian-patients")
    trials = {r["trialLabel"] for r in rows}
    assert {"LEPUS", "POLLUX", "COLUMBA", "MMY1003"} <= trials
    assert any(r["trial"] == LEPUS and r["hazardRatio"] == pytest.approx(0.35) for r in rows)
    assert any(r["trial"] == LEPUS and r["hazardRatio"] == pytest.approx(0.41) for r in rows)
    assert any(r["trialLabel"] == "POLLUX" and r["hazardRatio"] == pytest.approx(0.42) for r in rows)
    assert any(r["trialLabel"] == "COLUMBA" and r["experimentalValue"] == pytest.approx(66.7)
               and r["comparatorValue"] == pytest.approx(43.2) for r in rows)
    assert any(r["trialLabel"] == "MMY1003" and r["experimentalValue"] == pytest.approx(43) for r in rows)


def test_cq14_venetoclax_after_anti_cd38(run_query):
    rows = run_query("drug-class-evidence", drugClass="mkg:BCL2Inhibitor")
    assert {"VenVd", "VenD"} <= regimens(rows)
    assert any("11;14" in (r["condition"] or "") for r in rows if r["regimen"] == R + "VenD")
    bellini = [r for r in rows if r["trial"] == BELLINI]
    assert any(r["experimentalValue"] == pytest.approx(36.8) and r["comparatorValue"] == pytest.approx(9.3)
               for r in bellini)
    assert any(r["endpointLabel"].lower().startswith("overall") and r["hazardRatio"] == pytest.approx(1.19)
               for r in bellini)


def test_cq15_daratumumab_monotherapy_heavily_pretreated(run_query):
    rows = run_query("regimen-outcomes", regimen="regimen:DaraMono")
    orr = [r["experimentalValue"] for r in rows if r["endpointLabel"] == "overall response rate"]
    assert any(v == pytest.approx(31.1) for v in orr) and any(v == pytest.approx(30.4) for v in orr)
    assert any(r["experimentalValue"] == pytest.approx(4.0) and "progression" in r["endpointLabel"].lower()
               for r in rows)
    os_values = {r["experimentalValue"] for r in rows if r["endpointLabel"].lower().startswith("overall survival")}
    assert any(v == pytest.approx(20.1) for v in os_values) and any(v == pytest.approx(20.5) for v in os_values)
