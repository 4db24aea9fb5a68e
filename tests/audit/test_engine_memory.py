"""The embedded engine works in a database on disk within a memory limit, so that a cohort larger
than the machine's memory can be read, and leaves nothing behind, after a run or a refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from myeloma_kg.audit.embedded import MEMORY_LIMIT, DuckDBEngine
from myeloma_kg.audit.rules import AuditInputError

ROOT = Path(__file__).resolve().parents[2]
COHORT = ROOT / "examples" / "omop" / "synthetic-60"


def test_the_working_database_is_on_disk_with_a_memory_limit_and_goes_at_close(tmp_path):
    folder = tmp_path / "work"
    engine = DuckDBEngine(COHORT, folder=folder)
    try:
        limit = engine.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        assert limit.endswith("MiB") and float(limit.split()[0]) * 2**20 == pytest.approx(
            int(MEMORY_LIMIT.removesuffix("MB")) * 10**6, rel=0.01)
        paths = [p for _, p in engine.con.execute(
            "SELECT database_name, path FROM duckdb_databases() WHERE NOT internal").fetchall()]
        assert paths == [str(folder / "work.duckdb")]
    finally:
        engine.close()
    assert not folder.exists()


def test_a_refused_source_leaves_no_working_folder(tmp_path):
    folder = tmp_path / "work"
    (tmp_path / "source.db").write_text("neither a folder of tables nor a DuckDB database\n")
    with pytest.raises(AuditInputError):
        DuckDBEngine(tmp_path / "source.db", folder=folder)
    assert not folder.exists()


def test_an_audit_leaves_only_its_outputs(tmp_path):
    from click.testing import CliRunner

    from myeloma_kg.cli import main

    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["audit", str(COHORT), "--output", str(out), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["decision_points.csv", "decision_points.parquet",
                                                     "report.html", "summary.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
