"""Lines derived from drug exposures alone (``--lines derive``) and the rule they follow."""

from __future__ import annotations

import datetime as dt

import pytest

from myeloma_kg.audit.embedded import DuckDBEngine
from myeloma_kg.audit.lines import derive_lines
from myeloma_kg.audit.progress import Progress
from myeloma_kg.audit.rules import GraphDrugs, LineRule
from myeloma_kg.audit.run import AuditOptions, extract_lines, run_audit
from myeloma_kg.patients.records import Vocabulary
from myeloma_kg.queries import catalog_of

from .conftest import EXAMPLE, read_rows

DAY0 = dt.date(2020, 1, 1)


def day(n: int) -> dt.date:
    return DAY0 + dt.timedelta(days=n)


def given(*spans: tuple[str, int, int]) -> list[tuple[str, bool, dt.date, dt.date]]:
    """Exposures of (drug, first day, last day), in blocks of four weeks as a pharmacy would record them."""
    out = []
    for drug, first, last in spans:
        start = first
        while start <= last:
            out.append((drug, False, day(start), day(min(last, start + 27))))
            start += 28
    return out


def shape(lines):
    return [(line.start, line.end, sorted(line.drugs)) for line in lines]


@pytest.fixture(scope="module")
def rule(settings):
    return LineRule.load(settings)


def test_drugs_within_30_days_join_and_a_new_drug_after_that_starts_a_line(rule):
    lines = derive_lines(given(("lenalidomide", 0, 300), ("dexamethasone", 0, 300), ("daratumumab", 20, 300),
                               ("pomalidomide", 320, 500), ("dexamethasone", 320, 500), ("carfilzomib", 330, 500)), rule)
    assert shape(lines) == [(day(0), day(300), ["daratumumab", "dexamethasone", "lenalidomide"]),
                            (day(320), day(500), ["carfilzomib", "dexamethasone", "pomalidomide"])]


def test_a_gap_of_more_than_90_days_starts_a_line_and_a_shorter_one_does_not(rule):
    """The gap is counted from the last day a drug of the regimen was given to the next start."""
    assert len(derive_lines(given(("carfilzomib", 0, 200), ("dexamethasone", 0, 200),
                                  ("carfilzomib", 290, 400), ("dexamethasone", 290, 400)), rule)) == 1
    lines = derive_lines(given(("carfilzomib", 0, 200), ("dexamethasone", 0, 200),
                               ("carfilzomib", 291, 400), ("dexamethasone", 291, 400)), rule)
    assert [(line.number, line.start) for line in lines] == [(1, day(0)), (2, day(291))]


def test_stopping_one_drug_does_not_start_a_line(rule):
    lines = derive_lines(given(("daratumumab", 0, 600), ("bortezomib", 0, 170), ("dexamethasone", 0, 600)), rule)
    assert shape(lines) == [(day(0), day(600), ["bortezomib", "daratumumab", "dexamethasone"])]
    assert lines[0].drugs["bortezomib"].end == day(170)


def test_induction_transplant_and_maintenance_are_one_line(rule):
    exposures = given(("bortezomib", 0, 140), ("lenalidomide", 0, 140), ("dexamethasone", 0, 140),
                      ("lenalidomide", 300, 1000))
    exposures.append(("melphalan", False, day(185), day(185)))
    lines = derive_lines(exposures, rule)
    assert shape(lines) == [(day(0), day(1000), ["bortezomib", "dexamethasone", "lenalidomide", "melphalan"])]
    assert lines[0].transplant == day(185)


def test_maintenance_with_a_new_single_drug_after_a_combination_joins_the_line(rule):
    lines = derive_lines(given(("bortezomib", 0, 180), ("lenalidomide", 0, 180), ("dexamethasone", 0, 180),
                               ("ixazomib", 220, 600)), rule)
    assert len(lines) == 1 and "ixazomib" in lines[0].drugs
    # daratumumab alone is maintenance only after a line that had it
    assert len(derive_lines(given(("daratumumab", 0, 180), ("lenalidomide", 0, 180), ("dexamethasone", 0, 180),
                                  ("daratumumab", 220, 600)), rule)) == 1
    assert len(derive_lines(given(("bortezomib", 0, 180), ("lenalidomide", 0, 180), ("dexamethasone", 0, 180),
                                  ("daratumumab", 220, 600)), rule)) == 2


def test_a_car_t_infusion_after_a_line_is_a_line(rule):
    exposures = given(("carfilzomib", 0, 200), ("dexamethasone", 0, 200))
    exposures.append(("ciltacabtagene autoleucel", False, day(240), day(240)))
    lines = derive_lines(exposures, rule)
    assert shape(lines)[1] == (day(240), day(240), ["ciltacabtagene autoleucel"])


def lines_of(settings, mode: str) -> dict[int, list[tuple]]:
    from myeloma_kg.graph.load import load_graph

    kg = load_graph(settings)
    vocabulary = Vocabulary.from_rows(kg.select(catalog_of(settings.queries_dir).program_query("patient", "vocabulary").text))
    engine = DuckDBEngine(EXAMPLE, threads=1)
    try:
        extract_lines(engine, settings, LineRule.load(settings), mode, vocabulary, GraphDrugs.of(kg, settings),
                      Progress(quiet=True))
        rows = engine.fetch("SELECT l.person_id, l.line_number, l.start_date, l.end_date, d.drug FROM audit_lines l "
                            "JOIN audit_line_drugs d ON d.person_id = l.person_id AND d.line_id = l.line_id "
                            "ORDER BY 1, 2, 5")
    finally:
        engine.close()
    out: dict[int, dict[int, tuple]] = {}
    for person, number, start, end, drug in rows:
        line = out.setdefault(person, {}).setdefault(number, (start, end, []))
        line[2].append(drug)
    return {person: [(n, *line) for n, line in sorted(lines.items())] for person, lines in out.items()}


def test_derived_lines_reproduce_the_episodes_of_the_example(settings):
    """In the example cohort every line starts with a drug the line before lacked, or after a long
    gap: the derived lines are the episodes, with their start, drugs and end (where the episode
    has one that is not before its start; a line going on at the data end has none)."""
    episodes, derived = lines_of(settings, "episode"), lines_of(settings, "derive")
    assert set(episodes) == set(derived) and len(episodes) == 60
    compared = 0
    for person, lines in episodes.items():
        assert [(n, s, d) for n, s, _, d in lines] == [(n, s, d) for n, s, _, d in derived[person]], person
        for (_, start, end, _), (_, _, derived_end, _) in zip(lines, derived[person]):
            if end is not None and end >= start:
                assert derived_end == end, person
                compared += 1
    assert compared > 100


def test_the_audit_with_derived_lines(settings, audited_rows, tmp_path):
    run_audit(EXAMPLE, tmp_path / "out", settings, AuditOptions(lines="derive", jobs=1))
    rows = read_rows(tmp_path / "out" / "decision_points.csv")
    keys = lambda rs: [(r["person_id"], r["line_number"], r["decision_date"], r["given"]) for r in rs]  # noqa: E731
    assert keys(rows) == keys(audited_rows)
    assert all(r["line_rule"].startswith("derive:myeloma-lot-1 (sha256:") for r in rows)
    differ = {r["person_id"] for r, e in zip(rows, audited_rows) if r["status"] != e["status"]}
    # only where an episode's end date is wrong (before its start) do the two disagree
    wrong = {r["person_id"] for r in audited_rows if "is before the start date" in r["reasons"]}
    assert differ <= wrong
