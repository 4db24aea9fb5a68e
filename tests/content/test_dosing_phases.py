"""The dosing queries show the dose of each phase, not the schedule's main dose.

One test per regimen with a split or stepped schedule: the stored phase doses (DKd's split first
daratumumab dose of 8 mg/kg on days 1 and 2, teclistamab's step-up and later doses, carfilzomib's
20 mg/m2 start, belantamab's lower dose from cycle 2) must be what the queries give per phase.
"""

from __future__ import annotations

import pytest


def _phases(rows, drug):
    return [(r["phaseOrder"], r["fromCycle"], r["toCycle"], r["dose"], r["doseUnit"])
            for r in rows if r["drugLabel"] == drug]


def test_dkd_split_first_daratumumab_dose_is_8_mg_per_kg_each_day(run_query):
    rows = run_query("regimen-dosing", regimen="regimen:DKd")
    dara = _phases(rows, "daratumumab")
    assert dara[0] == (1, 1, 1, pytest.approx(8.0), "mg/kg")
    first = next(r for r in rows if r["drugLabel"] == "daratumumab" and r["phaseOrder"] == 1)
    assert first["daysOfCycle"] == "1,2"
    assert first["scheduleDose"] == pytest.approx(16.0)  # the main dose is still there, apart
    assert [p[3] for p in dara[1:]] == [pytest.approx(16.0)] * 3
    carfilzomib = _phases(rows, "carfilzomib")
    assert [p[3] for p in carfilzomib] == [pytest.approx(20.0), pytest.approx(56.0), pytest.approx(56.0)]


def test_dkd_weekly_split_dose_and_carfilzomib_70(run_query):
    rows = run_query("regimen-dosing", regimen="regimen:DKdWeekly")
    assert _phases(rows, "daratumumab")[0][3] == pytest.approx(8.0)
    assert [p[3] for p in _phases(rows, "carfilzomib")] == [pytest.approx(20.0), pytest.approx(70.0), pytest.approx(70.0)]


def test_tec_dara_teclistamab_is_3_mg_per_kg_from_cycle_3(run_query):
    rows = run_query("regimen-dosing", regimen="regimen:TecDara")
    tec = _phases(rows, "teclistamab")
    assert (tec[0][1], tec[0][2], tec[0][3]) == (1, 2, pytest.approx(1.5))
    assert all(p[3] == pytest.approx(3.0) for p in tec if p[1] and p[1] >= 3)
    assert len([p for p in tec if p[1] and p[1] >= 3]) == 2


def test_teclistamab_monotherapy_step_up_doses(run_query):
    rows = run_query("regimen-dosing", regimen="regimen:TecMono")
    assert [p[3] for p in _phases(rows, "teclistamab")] == [pytest.approx(0.06), pytest.approx(0.3), pytest.approx(1.5)]


@pytest.mark.parametrize("regimen", ["Kd", "IsaKd"])
def test_carfilzomib_20_then_56(run_query, regimen):
    rows = run_query("regimen-dosing", regimen=f"regimen:{regimen}")
    assert [p[3] for p in _phases(rows, "carfilzomib")] == [pytest.approx(20.0), pytest.approx(56.0), pytest.approx(56.0)]


def test_bpd_belantamab_2_5_then_1_9(run_query):
    rows = run_query("regimen-dosing", regimen="regimen:BPd")
    assert [p[3] for p in _phases(rows, "belantamab mafodotin")] == [pytest.approx(2.5), pytest.approx(1.9)]


def test_dosing_schedule_query_gives_phase_doses_too(run_query):
    rows = run_query("dosing-schedule", drug="drug:daratumumab")
    split = [r for r in rows if "split" in r["scheduleLabel"]]
    assert [(r["phaseOrder"], r["dose"]) for r in split] == [
        (1, pytest.approx(8.0)), (2, pytest.approx(16.0)), (3, pytest.approx(16.0)), (4, pytest.approx(16.0))]
    tec = run_query("dosing-schedule", drug="drug:teclistamab")
    tecdara = [r for r in tec if r["regimens"] and "daratumumab" in r["regimens"].lower()]
    assert {r["fromCycle"]: r["dose"] for r in tecdara} == {1: pytest.approx(1.5), 3: pytest.approx(3.0), 7: pytest.approx(3.0)}
