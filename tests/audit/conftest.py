"""The audit of the example cohort, run once for the tests of this folder."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from myeloma_kg.audit.run import AuditOptions, run_audit

from conftest import ROOT

EXAMPLE = ROOT / "examples" / "omop" / "synthetic-60"


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="session")
def audited(settings, tmp_path_factory):
    """The example cohort audited with its line episodes, the records kept: (folder, summary)."""
    out = tmp_path_factory.mktemp("audit") / "out"
    summary = run_audit(EXAMPLE, out, settings, AuditOptions(jobs=1, write_records=True))
    return out, summary


@pytest.fixture(scope="session")
def audited_rows(audited):
    return read_rows(audited[0] / "decision_points.csv")


@pytest.fixture(scope="session")
def audited_records(audited):
    lines = (audited[0] / "records.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture()
def cohort_copy(tmp_path):
    """A copy of the example cohort to break."""
    target = tmp_path / "cohort"
    shutil.copytree(EXAMPLE, target)
    return target
