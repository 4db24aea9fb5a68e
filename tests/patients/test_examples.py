"""The example patient records (examples/patients/) against the outcomes expected by the guideline.

``examples/expected-outcomes.json`` holds, for every example, what the criteria of R1-R18 imply
(worked out by hand from ontology/content/recommendations.ttl and risk.ttl, each entry with its
rationale): the exact set of recommended regimens, the derived state, some reasons and cautions,
and for the invalid records the exit status and a phrase of the validation report.  Where the
program is known to disagree with the guideline, the entry names the aspect and the reason, and
that test is marked xfail (strict, so a fix shows up as XPASS).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from myeloma_kg.cli.main import main
from myeloma_kg.patients.read import read_file
from myeloma_kg.patients.records import UnreadableRecord

from conftest import ROOT

EXAMPLES = ROOT / "examples" / "patients"
EXPECTED = json.loads((EXAMPLES.parent / "expected-outcomes.json").read_text(encoding="utf-8"))
AS_OF = dt.date.fromisoformat(EXPECTED["asOf"])
VALID = EXPECTED["valid"]
INVALID = EXPECTED["invalid"]

MKG = "https://w3id.org/myeloma-kg/ontology#"
REGIMEN = "https://w3id.org/myeloma-kg/regimen/"
DRUG = "https://w3id.org/myeloma-kg/drug/"
# after two prior lines (the dara-refractory examples) the class switch is CAR T cells; bispecific
# antibody monotherapy needs three or more prior lines (the limits of MajesTEC-1 and the others)
CLASS_SWITCH = [REGIMEN + n for n in ("CiltaCel", "IdeCel")]
BISPECIFIC_MONOTHERAPY = [REGIMEN + n for n in ("TecMono", "ElraMono", "TalMono", "LinvoMono")]
RECORD_SUFFIXES = (".json", ".jsonld", ".ttl")


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def results(recommender):
    """Each valid example read, validated and matched once: name -> (report, recommendation)."""
    cache: dict[str, tuple] = {}

    def get(name: str):
        if name not in cache:
            record = read_file(EXAMPLES / name, recommender.vocabulary, as_of=AS_OF)
            outcome = recommender.recommend(record)
            cache[name] = (outcome.report, outcome.recommendation)
        return cache[name]

    return get


@pytest.fixture(scope="module")
def recommendable(recommender) -> set[str]:
    """Every regimen that some recommendation of the graph recommends."""
    rows = recommender.kg.select(
        f"SELECT DISTINCT ?regimen WHERE {{ ?r a <{MKG}Recommendation> ; <{MKG}recommends> ?regimen }}")
    return {row["regimen"] for row in rows}


@pytest.fixture(scope="module")
def anti_cd38_regimens(recommender) -> set[str]:
    """Regimens the reasoner classifies as anti-CD38 regimens, and, independently of the reasoner,
    every regimen with a component that is (or contains) an anti-CD38 antibody."""
    classified = {row["regimen"] for row in recommender.kg.select(
        f"SELECT ?regimen WHERE {{ ?regimen a <{MKG}AntiCD38Regimen> }}")}
    by_component = {row["regimen"] for row in recommender.kg.select(
        f"""SELECT DISTINCT ?regimen WHERE {{
              ?regimen <{MKG}hasComponent> ?part .
              ?part <{MKG}hasIngredient>? <{DRUG}daratumumab> .
            }}""")}
    by_component |= {row["regimen"] for row in recommender.kg.select(
        f"SELECT DISTINCT ?regimen WHERE {{ ?regimen <{MKG}hasComponent> <{DRUG}isatuximab> }}")}
    return classified | by_component


def _cases(table: dict, aspect: str) -> list:
    return list(_case_params(table, aspect))


def _case_params(table: dict, aspect: str):
    for name, expected in table.items():
        disagreement = expected.get("disagreement") or {}
        marks = ([pytest.mark.xfail(reason=disagreement["reason"], strict=True, raises=AssertionError)]
                 if aspect in disagreement.get("aspects", []) else [])
        yield pytest.param(name, marks=marks, id=name)


def _recommended(result) -> set[str]:
    return {item["regimen"] for item in result["recommended"]}


def _by_regimen(items) -> dict[str, dict]:
    return {item["regimen"]: item for item in items}


# -- the example folder and expected-outcomes.json agree --------------------------------------------

def test_every_example_has_an_expected_outcome():
    valid_files = {p.name for p in EXAMPLES.iterdir() if p.suffix in RECORD_SUFFIXES}
    invalid_files = {f"invalid/{p.name}" for p in (EXAMPLES / "invalid").iterdir() if p.is_file()}
    assert valid_files == set(VALID)
    assert invalid_files == set(INVALID)
    assert len(VALID) >= 10 and len(INVALID) >= 8
    assert any(p.endswith(".ttl") for p in INVALID) and any(e["exitStatus"] == 2 for e in INVALID.values())


def test_brand_name_rxcui_and_part_line_drug_are_among_the_examples():
    texts = {name: (EXAMPLES / name).read_text(encoding="utf-8") for name in VALID}
    assert any('"Darzalex"' in t for t in texts.values())
    assert any('"1721947"' in t for t in texts.values())
    part_line = [d for t in texts.values() for line in json.loads(t)["therapyLines"] for d in line["drugs"] if isinstance(d, dict)]
    assert part_line and all({"drug", "start", "end"} <= set(d) for d in part_line)


# -- valid examples: validation, recommended set, derived state, reasons and cautions ------

@pytest.mark.parametrize("name", list(VALID))
def test_valid_example_conforms(results, name):
    report, result = results(name)
    assert report.conforms, report.text()
    assert result is not None


@pytest.mark.parametrize("name", _cases(VALID, "recommended"))
def test_recommended_regimens_are_exactly_the_expected_ones(results, name):
    expected = VALID[name]
    _, result = results(name)
    assert _recommended(result) == set(expected["recommended"])
    recommended = _by_regimen(result["recommended"])
    for entry in expected.get("recommendationsInclude", []):
        assert set(entry["includes"]) <= set(recommended[entry["regimen"]]["recommendations"]), entry


@pytest.mark.parametrize("name", _cases(VALID, "derived"))
def test_derived_lines_anti_cd38_status_and_refractoriness(results, name):
    expected = VALID[name]
    derived = results(name)[1]["derived"]
    assert derived["priorLines"] == expected["priorLines"]
    assert derived["antiCD38Status"] == expected["antiCD38Status"]
    assert derived["refractoryTo"] == expected["refractoryTo"]


@pytest.mark.parametrize("name", _cases(VALID, "details"))
def test_derived_exposure_washout_risk_and_frailty(results, name):
    expected = VALID[name]
    derived = results(name)[1]["derived"]
    assert derived["exposedTo"] == expected["exposedTo"]
    if expected["monthsSinceLastAntiCD38"] is None:
        assert derived["monthsSinceLastAntiCD38"] is None
    else:
        assert derived["monthsSinceLastAntiCD38"] == pytest.approx(expected["monthsSinceLastAntiCD38"], abs=0.05)
    assert derived["highRiskCytogenetics"] == expected["highRiskCytogenetics"]
    assert derived["frailty"] == expected["frailty"]


@pytest.mark.parametrize("name", _cases(VALID, "rechallenge"))
def test_rechallenge_flags(results, name):
    result = results(name)[1]
    flagged = {item["regimen"] for item in result["recommended"] if item["rechallenge"] is True}
    assert flagged == set(VALID[name]["rechallenge"])


@pytest.mark.parametrize("name", _cases(VALID, "reasons"))
def test_reasons_for_regimens_not_recommended(results, name):
    not_recommended = _by_regimen(results(name)[1]["notRecommended"])
    for entry in VALID[name]["notRecommendedReasons"]:
        assert entry["regimen"] in not_recommended, entry
        reasons = not_recommended[entry["regimen"]]["reasons"]
        assert any(entry["contains"] in r for r in reasons), (entry, reasons)


@pytest.mark.parametrize("name", _cases(VALID, "cautions"))
def test_cautions_for_recommended_regimens(results, name):
    recommended = _by_regimen(results(name)[1]["recommended"])
    for entry in VALID[name]["cautions"]:
        assert entry["regimen"] in recommended, entry
        cautions = recommended[entry["regimen"]]["cautions"]
        assert any(entry["contains"] in c for c in cautions), (entry, cautions)


@pytest.mark.parametrize("name", list(VALID))
def test_contract_invariant(results, recommender, recommendable, name):
    """Every recommendable regimen appears exactly once, in recommended or notRecommended, and
    components are the sorted lowercase INNs of the graph's drug individuals."""
    result = results(name)[1]
    listed = [item["regimen"] for item in result["recommended"] + result["notRecommended"]]
    assert sorted(listed) == sorted(recommendable)
    assert len(listed) == len(set(listed))
    for item in result["recommended"] + result["notRecommended"]:
        components = item["components"]
        assert components and components == sorted(components)
        for component in components:
            assert component == component.lower()
            assert recommender.vocabulary.lookup("drug", component) == DRUG + component.replace(" ", "-"), component
    for item in result["recommended"]:
        assert item["because"] and item["recommendation"] in item["recommendations"]
    for item in result["notRecommended"]:
        assert item["reasons"]


# -- the two key cases: daratumumab refractoriness 2 and 14 months ago ---------------------

@pytest.mark.parametrize("name", _cases({n: VALID[n] for n in ("dara-refractory-recent.json",
                                                                "dara-refractory-washout-boundary.json")}, "key"))
def test_dara_refractory_recent_gets_no_anti_cd38_regimen(results, anti_cd38_regimens, name):
    """Daratumumab-refractory, last dose under 6 months ago: a class switch, never an anti-CD38 regimen."""
    result = results(name)[1]
    assert result["derived"]["antiCD38Status"] == "refractory"
    recommended = _recommended(result)
    assert {REGIMEN + n for n in ("DRd", "DPd", "IsaPd", "IsaKd", "TecDara")} <= anti_cd38_regimens  # sanity
    assert not recommended & anti_cd38_regimens, sorted(recommended & anti_cd38_regimens)
    assert set(CLASS_SWITCH) <= recommended
    assert not any(item["rechallenge"] for item in result["recommended"])
    reasons = _by_regimen(result["notRecommended"])
    for regimen in BISPECIFIC_MONOTHERAPY:
        assert any("fewer than three prior lines" in r for r in reasons[regimen]["reasons"]), reasons[regimen]


def test_dara_refractory_long_ago_gets_anti_cd38_rechallenge(results, anti_cd38_regimens):
    result = results("dara-refractory-long-ago.json")[1]
    assert result["derived"]["antiCD38Status"] == "refractory"
    assert result["derived"]["monthsSinceLastAntiCD38"] >= 6
    recommended = _by_regimen(result["recommended"])
    rechallenge = {r for r in recommended if r in anti_cd38_regimens}
    assert rechallenge, "no anti-CD38 regimen offered after a 14-month washout"
    assert all(recommended[r]["rechallenge"] is True for r in rechallenge)
    assert set(CLASS_SWITCH) <= set(recommended)  # still refractory: the class switch stays on offer


def test_the_dara_refractory_records_are_one_patient_at_different_dates():
    def without_last_dara_dates(name):
        data = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
        for line in data["therapyLines"]:
            if "daratumumab" in line["drugs"]:
                del line["end"], line["progressionDate"]
        return data

    recent = without_last_dara_dates("dara-refractory-recent.json")
    assert recent == without_last_dara_dates("dara-refractory-long-ago.json")
    assert recent == without_last_dara_dates("dara-refractory-washout-boundary.json")


# -- a brand name and an RXCUI mean the same as the INN ------------------------------------

def _swap_daratumumab(text: str, old: str, new: str) -> str:
    data = json.loads(text)
    for line in data["therapyLines"]:
        line["drugs"] = [new if d == old else d for d in line["drugs"]]
    return json.dumps(data)


def _comparable(result):
    return (
        result["derived"],
        sorted((i["regimen"], i["rechallenge"], tuple(i["cautions"])) for i in result["recommended"]),
        sorted(i["regimen"] for i in result["notRecommended"]),
    )


@pytest.mark.parametrize("name, word", [("triple-class-refractory.json", "Darzalex"), ("renal-impairment.json", "1721947")])
def test_example_with_brand_name_or_rxcui_equals_the_inn(recommender, results, name, word):
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    assert f'"{word}"' in text
    as_inn = recommender.recommend(recommender.read(_swap_daratumumab(text, word, "daratumumab"), as_of=AS_OF)).recommendation
    assert _comparable(as_inn) == _comparable(results(name)[1])


@pytest.mark.parametrize("word", ["Darzalex", "1721947"])
def test_dara_refractory_record_with_brand_name_or_rxcui(recommender, results, word):
    text = (EXAMPLES / "dara-refractory-recent.json").read_text(encoding="utf-8")
    outcome = recommender.recommend(recommender.read(_swap_daratumumab(text, "daratumumab", word), as_of=AS_OF))
    assert outcome.report.conforms, outcome.report.text()
    assert _comparable(outcome.recommendation) == _comparable(results("dara-refractory-recent.json")[1])


# -- invalid examples ----------------------------------------------------------------------

@pytest.mark.parametrize("name", _cases(INVALID, "validation"))
def test_invalid_example_is_refused_with_its_reason(recommender, name):
    expected = INVALID[name]
    if expected["exitStatus"] == 2:
        with pytest.raises(UnreadableRecord) as info:
            read_file(EXAMPLES / name, recommender.vocabulary, as_of=AS_OF)
        assert expected["message"] in str(info.value)
        return
    record = read_file(EXAMPLES / name, recommender.vocabulary, as_of=AS_OF)
    report = recommender.validate(record)
    assert not report.conforms
    violations = [i.message for i in report.issues if i.severity == "violation"]
    assert len(violations) == 1, violations  # each example breaks exactly one rule
    assert expected["message"] in violations[0]
    assert recommender.recommend(record, report).recommendation is None


# -- command line --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cli():
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return run


def _json_lines(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_cli_validate_all_valid_examples_exit_0(cli):
    result = cli("validate", "--as-of", AS_OF.isoformat(), *[EXAMPLES / n for n in VALID])
    assert result.exit_code == 0, result.output
    assert result.output.count("does not conform") == 0


@pytest.mark.parametrize("name", _cases(INVALID, "validation"))
def test_cli_validate_invalid_example_exit_status(cli, name):
    expected = INVALID[name]
    result = cli("validate", "--as-of", AS_OF.isoformat(), EXAMPLES / name)
    assert result.exit_code == expected["exitStatus"], result.output
    assert expected["message"] in result.output


def test_cli_validate_invalid_folder_as_json_lines(cli):
    result = cli("validate", "--format", "json", "--as-of", AS_OF.isoformat(), EXAMPLES / "invalid")
    assert result.exit_code == 2, result.output  # the unreadable file decides the status
    rows = {row["record"]: row for row in _json_lines(result)}
    assert set(rows) == {n.split("/", 1)[1] for n in INVALID}
    for name, expected in INVALID.items():
        row = rows[name.split("/", 1)[1]]
        if expected.get("disagreement"):
            continue
        if expected["exitStatus"] == 2:
            assert expected["message"] in row["error"]
        else:
            assert row["conforms"] is False
            assert any(expected["message"] in v["message"] for v in row["violations"]), row


CLI_EXAMPLES = ("dara-refractory-recent.json", "dara-refractory-long-ago.json", "dara-refractory-washout-boundary.json",
                "frail-by-imwg-score.json")


@pytest.mark.parametrize("name", _cases({n: VALID[n] for n in CLI_EXAMPLES}, "recommended"))
def test_cli_recommend_json(cli, name):
    result = cli("recommend", EXAMPLES / name, "--format", "json", "--as-of", AS_OF.isoformat())
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["asOf"] == AS_OF.isoformat()
    assert payload["patient"].startswith("https://w3id.org/myeloma-kg/patient/")
    assert _recommended(payload) == set(VALID[name]["recommended"])
    for item in payload["recommended"]:
        assert {"regimen", "label", "components", "recommendation", "strength", "evidenceStatus", "evidence",
                "because", "cautions"} <= set(item)
    for item in payload["notRecommended"]:
        assert {"regimen", "label", "components", "reasons"} <= set(item)


def test_cli_recommend_refuses_invalid_and_unreadable_records(cli):
    invalid = cli("recommend", EXAMPLES / "invalid" / "age-130.json", "--format", "json", "--as-of", AS_OF.isoformat())
    assert invalid.exit_code == 1
    assert "from 18 to 120" in invalid.output
    unreadable = cli("recommend", EXAMPLES / "invalid" / "not-json.json", "--as-of", AS_OF.isoformat())
    assert unreadable.exit_code == 2


def test_cli_recommend_batch_over_the_examples_folder(cli):
    """A folder is a batch: one JSON line per record file of the folder (sub-folders are not read)."""
    jobs = ["--jobs", "1"] if any(p.name == "jobs" for p in main.commands["recommend"].params) else []
    result = cli("recommend", EXAMPLES, "--as-of", AS_OF.isoformat(), *jobs)
    files = {p.name for p in EXAMPLES.iterdir() if p.is_file() and p.suffix in RECORD_SUFFIXES}
    rows = _json_lines(result)
    names = [row["record"] for row in rows]
    assert len(names) == len(set(names)) and set(names) <= files
    assert set(VALID) <= set(names)  # one line for every example record
    by_name = {row["record"]: row for row in rows}
    for name, expected in VALID.items():
        row = by_name[name]
        assert "recommended" in row, row
        assert row["derived"]["antiCD38Status"] == expected["antiCD38Status"]
        if "recommended" not in (expected.get("disagreement") or {}).get("aspects", []):
            assert _recommended(row) == set(expected["recommended"]), name
    assert set(names) == set(VALID)
    assert result.exit_code == 0
