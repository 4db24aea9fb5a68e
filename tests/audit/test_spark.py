"""The Spark engine gives the same decision points as DuckDB (skipped without PySpark or Java)."""

from __future__ import annotations

import csv
import importlib.util
import shutil

import pytest

from myeloma_kg.audit.rules import AuditInputError
from myeloma_kg.audit.run import AuditOptions, run_audit

from .conftest import EXAMPLE

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(importlib.util.find_spec("pyspark") is None,
                       reason="PySpark is not installed (pip install 'myeloma-kg[spark]')"),
    pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java 17 or later, and there is no java here"),
]


def test_spark_writes_the_same_decision_points_as_duckdb(settings, audited, tmp_path):
    out = tmp_path / "spark"
    summary = run_audit(EXAMPLE, out, settings, AuditOptions(engine="spark", jobs=2))
    assert (out / "decision_points.csv").read_bytes() == (audited[0] / "decision_points.csv").read_bytes()
    assert summary["engine"] == "spark" and summary["byStatus"] == audited[1]["byStatus"]


def test_spark_reports_bad_input_as_duckdb_does(settings, cohort_copy, tmp_path):
    path = cohort_copy / "measurement.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    rows[3][rows[0].index("measurement_date")] = "03/15/2020"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    with pytest.raises(AuditInputError, match=r"measurement\.measurement_date: '03/15/2020' \(row 3\) is not a date"):
        run_audit(cohort_copy, tmp_path / "out", settings, AuditOptions(engine="spark", jobs=1))
    assert not (tmp_path / "out").exists()
