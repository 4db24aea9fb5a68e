"""Bad input: a clear message naming the table and column, exit status 2, and DIR left as it was."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest
from click.testing import CliRunner

from myeloma_kg.cli.main import main


def rewrite(path, change):
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    rows = change(rows)
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def audit(source, out, *extra):
    return CliRunner().invoke(main, ["audit", str(source), "--output", str(out), "--jobs", "1", *extra])


def drop_column(name):
    def change(rows):
        index = rows[0].index(name)
        return [row[:index] + row[index + 1:] for row in rows]
    return change


def set_value(column, value, row_number=3):
    def change(rows):
        rows[row_number][rows[0].index(column)] = value
        return rows
    return change


CASES = [
    ("missing table", lambda d: (d / "concept.csv").unlink(), "concept: the table is missing"),
    ("missing column", lambda d: rewrite(d / "drug_exposure.csv", drop_column("drug_exposure_start_date")),
     "drug_exposure.drug_exposure_start_date: the column is missing"),
    ("wrong date format", lambda d: rewrite(d / "measurement.csv", set_value("measurement_date", "03/15/2020")),
     "measurement.measurement_date: '03/15/2020' (row 3) is not a date written YYYY-MM-DD"),
    ("empty date", lambda d: rewrite(d / "episode.csv", set_value("episode_start_date", "")),
     "episode.episode_start_date: empty at row 3"),
    ("not a number", lambda d: rewrite(d / "person.csv", set_value("year_of_birth", "nineteen")),
     "person.year_of_birth: 'nineteen' (row 3) is not a whole number"),
    ("unknown concept", lambda d: rewrite(d / "drug_exposure.csv", set_value("drug_concept_id", "123456789", 1)),
     "drug_exposure.drug_concept_id: concept 123456789 (drug_exposure_id 1) is not in the concept table"),
    ("unknown exposure", lambda d: rewrite(d / "episode_event.csv", set_value("event_id", "99999999", 1)),
     "episode_event.event_id: drug_exposure_id 99999999"),
]


@pytest.mark.parametrize("name,breaks,message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_names_table_and_column(cohort_copy, tmp_path, name, breaks, message):
    breaks(cohort_copy)
    out = tmp_path / "out"
    result = audit(cohort_copy, out)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]  # no partial folder left either


def test_a_failed_run_leaves_an_earlier_output_as_it_was(cohort_copy, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text("{}", encoding="utf-8")
    (cohort_copy / "person.csv").unlink()
    result = audit(cohort_copy, out)
    assert result.exit_code == 2 and "person: the table is missing" in result.output
    assert [p.name for p in out.iterdir()] == ["summary.json"] and (out / "summary.json").read_text() == "{}"


def test_a_folder_with_other_files_is_not_overwritten(cohort_copy, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    result = audit(cohort_copy, out)
    assert result.exit_code == 2 and "holds other files" in result.output


@pytest.mark.parametrize("content,message", [
    ("table,concept_id,field\nmeasurement,1,ecog\n", "lacks the column(s) value"),
    ("table,concept_id,field,value\nmeasurement,1,weight,\n", "line 2, column field: 'weight'"),
    ("table,concept_id,field,value\ndrug_exposure,1,ecog,\n", "line 2, column table: 'drug_exposure'"),
    ("table,concept_id,field,value\nmeasurement,x1,ecog,\n", "line 2, column concept_id: 'x1'"),
])
def test_a_bad_mapping_is_refused(cohort_copy, tmp_path, content, message):
    mapping = tmp_path / "mapping.csv"
    mapping.write_text(content, encoding="utf-8")
    result = audit(cohort_copy, tmp_path / "out", "--mapping", str(mapping))
    assert result.exit_code == 2 and message in result.output


def test_the_command_exits_2_with_the_message_on_stderr(cohort_copy, tmp_path):
    (cohort_copy / "drug_exposure.csv").unlink()
    result = subprocess.run([sys.executable, "-m", "myeloma_kg.cli", "audit", str(cohort_copy), "--output",
                             str(tmp_path / "out"), "--jobs", "1"], capture_output=True, text=True, timeout=180)
    assert result.returncode == 2
    assert "error: drug_exposure: the table is missing" in result.stderr
    assert not (tmp_path / "out").exists()
