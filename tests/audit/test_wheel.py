"""The audit runs from a copy of the package laid out as the wheel lays it out, away from the checkout."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

from project.test_packaging import _lay_out_like_the_wheel

from .conftest import EXAMPLE
from conftest import ROOT


def test_the_audit_runs_from_the_wheel_layout(tmp_path, audited_rows):
    site, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    _lay_out_like_the_wheel(site, with_vendor=False)
    assert (site / "myeloma_kg" / "shipped" / "queries" / "audit" / "line-rule.json").is_file()
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "MYELOMA_KG_CACHE_DIR": str(ROOT / ".cache"),
           "MYELOMA_KG_DATA_DIR": str(tmp_path / "data")}
    env.pop("MYELOMA_KG_HOME", None)
    result = subprocess.run([sys.executable, "-m", "myeloma_kg.cli", "audit", str(EXAMPLE), "--output", "out",
                             "--jobs", "1"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    with (elsewhere / "out" / "decision_points.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["status"] for r in rows] == [r["status"] for r in audited_rows]
    assert result.stdout.strip().startswith(f"{len(rows)} decision points: concordant ")
