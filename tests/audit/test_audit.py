"""The audit of the example cohort: its rows, its records, and its agreement with ``recommend``."""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys

import duckdb
import pytest

from myeloma_kg.audit.run import COLUMNS
from myeloma_kg.audit.synthetic import SC_DARATUMUMAB

from .conftest import EXAMPLE

CONTRACT = ["person_id", "line_number", "decision_date", "given", "status", "recommendations", "reasons", "graph_version"]


def contract_status(recommender, outcome, given: list[str]) -> tuple[str, list[str], list[str]]:
    """Contract section 7, written out again: the status, recommendations and reasons of an answer."""
    if outcome.recommendation is None:
        return "not-evaluable", [], [i.message for i in outcome.report.issues if i.severity == "violation"]
    answer = outcome.recommendation
    wanted = sorted(given)
    found = [r for r in answer["recommended"] if sorted(r["components"]) == wanted]
    if found:
        notations = {recommender.recommendations[iri]["notation"] for r in found for iri in r["recommendations"]}
        return "concordant", sorted(notations), []
    against = [r for r in answer["notRecommended"] if sorted(r["components"]) == wanted]
    if against:
        reasons = []
        for r in against:
            reasons += [x for x in r["reasons"] if x not in reasons]
        return "discordant", [], reasons
    return "not-covered", [], []


def test_every_decision_point_is_what_the_recommender_says(audited_rows, audited_records, recommender):
    """Each record, read as of its decision date and recommended on alone, gives the row's status."""
    assert len(audited_rows) == len(audited_records) > 50
    by_key = {(r["person_id"], r["line_number"]): r for r in audited_rows}
    for item in audited_records:
        row = by_key[(str(item["person_id"]), str(item["line_number"]))]
        record = recommender.read(json.dumps(item["record"]), as_of=dt.date.fromisoformat(item["asOf"]))
        outcome = recommender.recommend(record)
        status, notations, reasons = contract_status(recommender, outcome, item["given"])
        assert row["status"] == status, (item, row)
        assert row["recommendations"] == "|".join(notations)
        assert row["reasons"] == "|".join(reasons)
        assert row["given"] == "|".join(item["given"])
        if outcome.recommendation is not None:
            version = outcome.recommendation["graphVersion"]
            assert row["content_hash"] == version["contentHash"] and row["rules_hash"] == version["rulesHash"]
            assert row["graph_version"].startswith(version["version"])


def test_the_recommend_command_agrees(audited_rows, audited_records, tmp_path):
    """One decision point of each status through ``myeloma-kg recommend FILE --as-of DATE --format json``."""
    rows = {(r["person_id"], r["line_number"]): r for r in audited_rows}
    picked = {}
    for item in audited_records:
        row = rows[(str(item["person_id"]), str(item["line_number"]))]
        picked.setdefault(row["status"], (item, row))
    assert set(picked) == {"concordant", "discordant", "not-covered", "not-evaluable"}
    for status, (item, row) in picked.items():
        path = tmp_path / f"{status}.json"
        path.write_text(json.dumps(item["record"]), encoding="utf-8")
        result = subprocess.run([sys.executable, "-m", "myeloma_kg.cli", "recommend", str(path), "--as-of", item["asOf"],
                                 "--format", "json"], capture_output=True, text=True, timeout=180)
        if status == "not-evaluable":
            assert result.returncode == 1
            messages = [v["message"] for v in json.loads(result.stdout)["violations"]]
            assert row["reasons"] == "|".join(messages)
            continue
        assert result.returncode == 0, result.stderr
        answer = json.loads(result.stdout)
        given = sorted(item["given"])
        recommended = [r for r in answer["recommended"] if sorted(r["components"]) == given]
        rejected = [r for r in answer["notRecommended"] if sorted(r["components"]) == given]
        assert bool(recommended) == (status == "concordant")
        assert bool(rejected and not recommended) == (status == "discordant")
        assert answer["graphVersion"]["contentHash"] == row["content_hash"]


def test_rows_have_the_contract_columns_in_order(audited, audited_rows):
    out, summary = audited
    header = (out / "decision_points.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[:len(CONTRACT)] == CONTRACT and header == list(COLUMNS)
    keys = [(int(r["person_id"]), int(r["line_number"])) for r in audited_rows]
    assert keys == sorted(keys)
    statuses = {"concordant", "discordant", "not-covered", "not-evaluable"}
    for row in audited_rows:
        assert int(row["line_number"]) >= 2 and row["status"] in statuses
        dt.date.fromisoformat(row["decision_date"])
        given = row["given"].split("|")
        assert given == sorted(given) and all(g == g.lower() for g in given)
        assert row["line_rule"] == "episode" and row["mapping_hash"].startswith("sha256:")
        assert row["graph_version"] and row["rules_hash"].startswith("sha256:")
        if row["status"] == "concordant":
            assert row["recommendations"] and not row["reasons"]
        if row["status"] in ("discordant", "not-evaluable"):
            assert row["reasons"]
    assert summary["decisionPoints"] == len(audited_rows)


def test_the_parquet_file_holds_the_same_rows(audited, audited_rows):
    path = audited[0] / "decision_points.parquet"
    con = duckdb.connect()
    table = con.execute(f"SELECT * FROM read_parquet('{path}')")
    names = [d[0] for d in table.description]
    rows = table.fetchall()
    assert names == list(COLUMNS) and len(rows) == len(audited_rows)
    for got, want in zip(rows, audited_rows):
        for name, value in zip(names, got):
            shown = "" if value is None else (value.isoformat() if isinstance(value, dt.date) else str(value))
            assert shown == want[name], name


def test_records_hold_only_what_was_known_on_the_date(audited_records):
    for item in audited_records:
        as_of = item["asOf"]
        record = item["record"]
        assert [line["line"] for line in record["therapyLines"]] == list(range(1, item["line_number"]))
        for line in record["therapyLines"]:
            for key in ("end", "progressionDate"):
                assert line.get(key) is None or line[key] <= as_of
            for drug in line["drugs"]:
                if isinstance(drug, dict):
                    assert drug.get("end") is None or drug["end"] <= as_of


def test_subcutaneous_daratumumab_counts_as_daratumumab(audited, audited_rows):
    with (EXAMPLE / "drug_exposure.csv").open(encoding="utf-8") as handle:
        people = {row["person_id"] for row in csv.DictReader(handle) if row["drug_concept_id"] == str(SC_DARATUMUMAB)}
    assert people
    given = {row["given"] for row in audited_rows if row["person_id"] in people}
    assert any("daratumumab" in g for g in given)
    assert not any("hyaluronidase" in g for g in given)
    set_aside = audited[1]["drugs"]["notRegimenComponents"]
    assert [item["ingredient"] for item in set_aside] == ["hyaluronidase"]


def test_unknown_agents_are_kept_counted_and_named(audited, audited_rows, audited_records):
    agents = {a["agent"] for a in audited[1]["drugs"]["unknownAgents"]}
    assert {"uncoded drug", "mezigdomide (investigational)"} <= agents
    assert "bendamustine" not in agents  # in the graph's drug vocabulary now
    with_agent = [r for r in audited_rows if r["unknown_agents"]]
    assert with_agent and all(r["status"] in ("not-covered", "not-evaluable") for r in with_agent)
    assert not any("unknown drug" in r["reasons"] for r in audited_rows)
    # the agent stays in the history of the later decision points, which are evaluated: it is
    # counted for no drug class, and the answer's warnings name it
    persons = {r["person_id"] for r in with_agent}
    later = [item for item in audited_records if str(item["person_id"]) in persons
             and any("mezigdomide" in str(d) or "uncoded" in str(d)
                     for line in item["record"]["therapyLines"][:-1] for d in line["drugs"])]
    assert later


def test_the_example_has_every_kind_of_decision_point(audited_rows):
    reasons = " ".join(r["reasons"] for r in audited_rows)
    for phrase in ("ECOG performance status must be", "Creatinine clearance must be", "is before the start date"):
        assert phrase in reasons
    assert any(r["high_risk_cytogenetics"] == "true" for r in audited_rows)
    assert any(r["os_event"] == "1" for r in audited_rows)


@pytest.mark.parametrize("fmt", ["parquet", "duckdb"])
def test_parquet_and_duckdb_sources_give_the_same_rows(fmt, settings, audited, tmp_path):
    from myeloma_kg.audit.run import AuditOptions, run_audit
    from myeloma_kg.audit.synthetic import generate, write_tables

    written = write_tables(generate(60, 1, settings), tmp_path / "source", fmt)
    source = written[0].parent if fmt == "parquet" else written[-1]
    run_audit(source, tmp_path / "out", settings, AuditOptions(jobs=1))
    assert (tmp_path / "out" / "decision_points.csv").read_bytes() == (audited[0] / "decision_points.csv").read_bytes()
