"""The synthetic OMOP cohort: reproducible, with real RXCUIs only, and the example in step with it."""

from __future__ import annotations

import csv
from collections import Counter

import pytest

from myeloma_kg.audit.rules import GraphDrugs, Mapping
from myeloma_kg.audit.synthetic import LOCAL, SC_DARATUMUMAB, TABLE_COLUMNS, generate, write_tables

from .conftest import EXAMPLE

OUTSIDE_IDS = {0, 8507, 8532, 437233, 32941, 1147094}  # the OMOP ids the cohort takes from elsewhere


@pytest.fixture(scope="module")
def tables(settings):
    return generate(60, 1, settings)


def test_the_example_is_what_the_generator_writes(tables, tmp_path):
    """examples/omop/synthetic-60 is `myeloma-kg audit-sample OUT --persons 60 --seed 1`."""
    written = write_tables(tables, tmp_path)
    assert sorted(p.name for p in written) == sorted(p.name for p in EXAMPLE.iterdir())
    for path in written:
        assert path.read_bytes() == (EXAMPLE / path.name).read_bytes(), path.name


def test_the_same_seed_gives_the_same_cohort_and_another_does_not(settings, tables):
    assert generate(60, 1, settings) == tables
    assert generate(60, 2, settings)["drug_exposure"] != tables["drug_exposure"]


def test_drug_codes_are_the_graphs_rxcuis(kg, settings, tables):
    drugs = GraphDrugs.of(kg, settings)
    known = {code for codes in drugs.codes.values() for code, _, _ in codes} | set(drugs.rxcui.values())
    rxnorm = [c for c in tables["concept"] if c["vocabulary_id"] == "RxNorm"]
    assert len(rxnorm) > 15
    for concept in rxnorm:
        code = concept["concept_code"]
        assert code in known or code.startswith("synthetic-"), concept
        if code in known and concept["concept_class_id"] == "Ingredient":
            assert drugs.ingredient_code(concept["concept_name"]) == code
    assert {c["concept_code"] for c in rxnorm if c["concept_name"] == "daratumumab"} == {"1721947"}


def test_every_concept_used_has_a_row_and_invented_ids_are_local(tables):
    ids = {c["concept_id"] for c in tables["concept"]}
    assert all(i >= LOCAL for i in ids - OUTSIDE_IDS)
    used = {r["drug_concept_id"] for r in tables["drug_exposure"]}
    used |= {r["measurement_concept_id"] for r in tables["measurement"]}
    used |= {r["observation_concept_id"] for r in tables["observation"]}
    used |= {r["condition_concept_id"] for r in tables["condition_occurrence"]}
    used |= {r["episode_concept_id"] for r in tables["episode"]} | {r["gender_concept_id"] for r in tables["person"]}
    used |= {r["episode_event_field_concept_id"] for r in tables["episode_event"]}
    assert used <= ids
    links = {(a["ancestor_concept_id"], a["descendant_concept_id"]) for a in tables["concept_ancestor"]}
    names = {c["concept_id"]: c["concept_name"] for c in tables["concept"]}
    assert {names[a] for a, d in links if d == SC_DARATUMUMAB} == {"daratumumab", "hyaluronidase"}
    assert SC_DARATUMUMAB in used and 0 in used  # subcutaneous daratumumab, and an agent never coded


def test_the_cohort_has_what_the_audit_must_handle(tables):
    lines = Counter(r["person_id"] for r in tables["episode"])
    assert min(lines.values()) == 1 and max(lines.values()) >= 5
    assert tables["death"]
    assert any(r["month_of_birth"] is None for r in tables["person"])
    assert any(r["episode_end_date"] is None for r in tables["episode"])  # lines going on at the data end
    regimens = {r["episode_source_value"] for r in tables["episode"]}
    assert {"Bd", "iberdomide-d", "mezigdomide-d"} & regimens and {"KRd", "EPd", "KCd", "IRd"} & regimens
    assert {"DPd", "IsaKd", "TecMono"} & regimens


def test_the_default_mapping_documents_every_code(settings, tables):
    path = Mapping.default_path(settings)
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        assert row["concept_name"] and row["note"], row
        assert row["verification"] == "verified" or row["verification"].startswith("unverified: "), row
        if int(row["concept_id"]) < LOCAL:
            assert "not checked" in row["note"] or row["verification"] == "verified"
    mapped = {(r["table"], int(r["concept_id"])) for r in rows}
    for table in ("measurement", "observation", "condition_occurrence"):
        column = "condition_concept_id" if table == "condition_occurrence" else f"{table}_concept_id"
        used = {r[column] for r in tables[table]} - OUTSIDE_IDS
        assert {(table, c) for c in used} <= mapped, table
    assert set(TABLE_COLUMNS) == {p.stem for p in EXAMPLE.iterdir()}
