"""The examples written for the eligibility, history and patient-factor rules, one rule each (``ruleExamples`` in
examples/expected-outcomes.json), and the aspects of their outcomes that the general example tests
(tests/test_patients.py) do not read: the current line's state, the target of an earlier
immunotherapy, supportive care that must or must not appear, cautions that must not appear, and
the evidence listed for a regimen."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from myeloma_kg.patients.read import read_file
from myeloma_kg.patients.recommend import render_text

from conftest import ROOT

EXAMPLES = ROOT / "examples" / "patients"
EXPECTED = json.loads((ROOT / "examples" / "expected-outcomes.json").read_text(encoding="utf-8"))
AS_OF = dt.date.fromisoformat(EXPECTED["asOf"])
RULES = EXPECTED["ruleExamples"]
CASES = {name: EXPECTED["valid"][name] for name in RULES.values()}
T = "https://w3id.org/myeloma-kg/trial/"


@pytest.fixture(scope="module")
def outcome(recommender):
    cache: dict[str, dict] = {}

    def get(name: str) -> dict:
        if name not in cache:
            record = read_file(EXAMPLES / name, recommender.vocabulary, as_of=AS_OF)
            cache[name] = recommender.recommend(record).recommendation
        return cache[name]

    return get


def _aspect(key):
    return [pytest.param(n, id=n) for n, v in CASES.items() if key in v.get("ruleDetails", {})]


def test_every_rule_has_its_own_example():
    assert len(RULES) >= 20
    assert len(set(RULES.values())) == len(RULES), "an example is shared by two rules"
    for rule, name in RULES.items():
        assert (EXAMPLES / name).is_file(), (rule, name)
        assert name in EXPECTED["valid"], name


@pytest.mark.parametrize("name", _aspect("currentLineState"))
def test_current_line_state(outcome, name):
    result = outcome(name)
    assert result["currentLine"]["state"] == CASES[name]["ruleDetails"]["currentLineState"]
    assert result["currentLine"]["line"] == result["derived"]["priorLines"]


def test_ongoing_responding_line_gets_nothing_and_says_why(outcome):
    result = outcome("ongoing-responding.json")
    assert result["recommended"] == [] and result["supportiveCare"] == []
    assert all(any("ongoing and the disease is responding" in r for r in item["reasons"]) for item in result["notRecommended"])
    assert "current line: 2" in render_text(result)


@pytest.mark.parametrize("name", _aspect("priorTargetedTherapy"))
def test_prior_target_is_named(outcome, name):
    result = outcome(name)
    assert result["derived"]["priorTargetedTherapy"] == CASES[name]["ruleDetails"]["priorTargetedTherapy"]
    target = CASES[name]["ruleDetails"]["priorTargetedTherapy"][0]["target"]
    assert f"earlier {target}-directed therapy" in render_text(result)


def test_no_target_history_gives_an_empty_list(outcome):
    assert outcome("bispecific-after-two-lines.json")["derived"]["priorTargetedTherapy"] == []


@pytest.mark.parametrize("name", _aspect("supportiveCareIncludes"))
def test_supportive_care_includes(outcome, name):
    actions = {a["action"] for a in outcome(name)["supportiveCare"]}
    missing = set(CASES[name]["ruleDetails"]["supportiveCareIncludes"]) - actions
    assert not missing, missing


@pytest.mark.parametrize("name", _aspect("supportiveCareExcludes"))
def test_supportive_care_excludes(outcome, name):
    actions = {a["action"] for a in outcome(name)["supportiveCare"]}
    present = set(CASES[name]["ruleDetails"]["supportiveCareExcludes"]) & actions
    assert not present, present


def test_care_items_carry_status_source_and_the_regimens_they_serve(outcome):
    result = outcome("bispecific-crs-care.json")
    care = {a["action"].rsplit("/", 1)[1]: a for a in result["supportiveCare"]}
    crs = care["crs-icans-step-up-monitoring"]
    assert crs["evidenceStatus"] and crs["source"]
    redirecting = {"teclistamab", "elranatamab", "talquetamab", "linvoseltamab", "ciltacabtagene autoleucel",
                   "idecabtagene vicleucel"}
    expected = {i["label"] for i in result["recommended"] if redirecting & set(i["components"])}
    assert len(expected) == 6  # cilta-cel, ide-cel and the four bispecific monotherapies
    assert set(crs["forRegimens"]) == expected
    assert care["crs-icans-treatment-readiness"]["evidenceStatus"] != care["crs-icans-step-up-monitoring"]["evidenceStatus"]


@pytest.mark.parametrize("name", _aspect("cautionsAbsent"))
def test_cautions_absent(outcome, name):
    result = outcome(name)
    for text in CASES[name]["ruleDetails"]["cautionsAbsent"]:
        for item in result["recommended"]:
            assert not any(text in c for c in item["cautions"]), (item["label"], text)
    assert not any(item["rechallenge"] for item in result["recommended"])


def test_rechallenge_caution_still_shown_for_a_real_rechallenge(outcome):
    items = {i["regimen"].rsplit("/", 1)[1]: i for i in outcome("rechallenge-after-four-lines.json")["recommended"]}
    assert any("The evidence for giving an anti-CD38 antibody again" in c for c in items["IsaPd"]["cautions"])


@pytest.mark.parametrize("name", _aspect("evidenceIncludes"))
def test_partner_trials_listed_as_evidence(outcome, name):
    items = {i["regimen"].rsplit("/", 1)[1]: i for i in outcome(name)["recommended"]}
    for regimen, studies in CASES[name]["ruleDetails"]["evidenceIncludes"].items():
        listed = {e["trial"] for e in items[regimen]["evidence"]}
        assert {T + s for s in studies} <= listed, (regimen, listed)
        assert all(e["nctId"] is None for e in items[regimen]["evidence"] if e["trial"] in {T + s for s in studies})


def test_ecog_caution_only_where_ecog_is_3_or_4(outcome):
    text = "ECOG performance status 3-4"
    assert all(any(text in c for c in i["cautions"]) for i in outcome("ecog-3-len-refractory.json")["recommended"])
    assert not any(any(text in c for c in i["cautions"]) for i in outcome("cardiac-history-carfilzomib.json")["recommended"])


def test_cardiac_caution_only_on_carfilzomib_regimens(outcome):
    for item in outcome("cardiac-history-carfilzomib.json")["recommended"]:
        has = any("History of heart disease" in c for c in item["cautions"])
        assert has == ("carfilzomib" in item["components"]), item["label"]


def test_text_heading_fits_the_care_offered(outcome):
    text = render_text(outcome("bispecific-crs-care.json"))
    assert "Supportive care and next steps with the options offered:" in text
    assert "anti-CD38 regimen:" not in text


@pytest.mark.parametrize("name", _aspect("cautionsAbsentFor"))
def test_cautions_absent_for_named_regimens(outcome, name):
    items = {i["regimen"].rsplit("/", 1)[1]: i for i in outcome(name)["recommended"]}
    for regimen, texts in CASES[name]["ruleDetails"]["cautionsAbsentFor"].items():
        for text in texts:
            assert not any(text in c for c in items[regimen]["cautions"]), (regimen, text)


@pytest.mark.parametrize("name", _aspect("evidenceExactly"))
def test_rechallenge_option_cites_exactly_its_own_evidence(outcome, name):
    items = {i["regimen"].rsplit("/", 1)[1]: i for i in outcome(name)["recommended"]}
    for regimen, studies in CASES[name]["ruleDetails"]["evidenceExactly"].items():
        assert {e["trial"] for e in items[regimen]["evidence"]} == {T + s for s in studies}, regimen


def test_verified_limit_excludes_and_recalled_limit_cautions_naming_the_trial(outcome):
    result = outcome("ecog2-bispecific-caution.json")
    excluded = {i["regimen"].rsplit("/", 1)[1]: i for i in result["notRecommended"]}
    offered = {i["regimen"].rsplit("/", 1)[1]: i for i in result["recommended"]}
    assert any("(limit of CARTITUDE-4)" in r for r in excluded["CiltaCel"]["reasons"])
    assert not any("CARTITUDE-1" in r for r in excluded["CiltaCel"]["reasons"] if "ECOG" in r)
    assert any("(limit of MajesTEC-1, applied as a caution)" in c for c in offered["TecMono"]["cautions"])
    assert not any("applied as a caution" in c for c in offered["ElraMono"]["cautions"])


def test_rechallenge_of_dara_regimens_no_longer_cites_majestec3(outcome):
    items = {i["regimen"].rsplit("/", 1)[1]: i for i in outcome("dara-refractory-long-ago.json")["recommended"]}
    assert T + "NCT05083169" not in {e["trial"] for e in items["DVd"]["evidence"]}
    assert {T + "souren-2025-retreatment", T + "danish-dara-cohort"} <= {e["trial"] for e in items["DVd"]["evidence"]}
# -- the record as clinics write it ----------------------------------------------

@pytest.mark.parametrize("name", _aspect("warningsInclude"))
def test_warnings_name_the_unknown_agents(outcome, name):
    result = outcome(name)
    for text in CASES[name]["ruleDetails"]["warningsInclude"]:
        assert any(text in w for w in result["warnings"]), (text, result["warnings"])
    assert result["currentLine"]["drugs"] == CASES[name]["ruleDetails"]["currentLineDrugs"]


@pytest.mark.parametrize("name", _aspect("cautionOnlyWithDrugs"))
def test_caution_only_on_regimens_with_its_drugs(outcome, name):
    rule = CASES[name]["ruleDetails"]["cautionOnlyWithDrugs"]
    for item in outcome(name)["recommended"]:
        has = any(rule["text"] in c for c in item["cautions"])
        assert has == bool(set(rule["drugs"]) & set(item["components"])), item["label"]


@pytest.mark.parametrize("name", _aspect("criteria"))
def test_record_facts_reach_the_criteria(recommender, name):
    """Facts that change no answer yet (hepatitis B serology) are criteria a rule can test."""
    record = read_file(EXAMPLES / name, recommender.vocabulary, as_of=AS_OF)
    expected = CASES[name]["ruleDetails"]["criteria"]
    crit = "https://w3id.org/myeloma-kg/criterion/"
    with recommender.derived(record) as patient:
        for verdict, names in (("meetsCriterion", expected["met"]), ("failsCriterion", expected["failed"])):
            for criterion in names:
                query = (f"ASK {{ <{patient.value}> <https://w3id.org/myeloma-kg/ontology#{verdict}> <{crit}{criterion}> }}")
                assert recommender.work.store.query(query, use_default_graph_as_union=True), (verdict, criterion)


def test_frailty_components_at_the_top_level_equal_the_nested_ones(recommender, outcome):
    data = json.loads((EXAMPLES / "frailty-top-level.json").read_text(encoding="utf-8"))
    nested = {k: v for k, v in data.items() if k not in ("charlson", "adl", "iadl")}
    nested["imwgFrailty"] = {k: data[k] for k in ("charlson", "adl", "iadl")}
    result = recommender.recommend(recommender.read(json.dumps(nested), as_of=AS_OF)).recommendation
    assert result["derived"]["frailty"] == outcome("frailty-top-level.json")["derived"]["frailty"] == "frail"
    assert not result["warnings"] and not outcome("frailty-top-level.json")["warnings"]


def test_early_relapse_needs_the_window_it_names(recommender):
    """Moving line 1's progression past both windows takes the early-relapse caution away."""
    data = json.loads((EXAMPLES / "early-relapse-after-asct.json").read_text(encoding="utf-8"))
    data["therapyLines"][0]["progressionDate"] = "2026-10-20"  # 12.2 months after the transplant, 19.6 after the start
    data["therapyLines"][0]["end"] = "2026-10-27"
    result = recommender.recommend(recommender.read(json.dumps(data), as_of=AS_OF)).recommendation
    assert not any("Early relapse" in c for item in result["recommended"] for c in item["cautions"])
