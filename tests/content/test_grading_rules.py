"""Grading and review: what SHACL and the violation queries demand of review states, approved
recommendations and GRADE certainty ratings; each broken fixture is caught, the valid one passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from content_fixtures import GRADING, VALID, check_command, expectation
from content_fixtures import GRADING_BROKEN as BROKEN

DOMAINS = {"RiskOfBias": "risk of bias", "Inconsistency": "inconsistency", "Indirectness": "indirectness",
           "Imprecision": "imprecision", "PublicationBias": "publication bias"}


def findings_with(path: Path, harness):
    """The violations found with the fixture added to the shipped graph (and its classification)."""
    return [f for f in harness.findings(path) if f.severity == "violation"]


def test_there_is_a_broken_fixture_for_every_rule_of_approval():
    rules = {expectation(p)[0] for p in BROKEN}
    for part in ("verified", "strength", "certainty", "approval"):
        assert f"shape:ApprovedRecommendationShape/approved: {part}" in rules


def test_the_valid_approved_fixture_passes(harness):
    assert findings_with(VALID, harness) == []


@pytest.mark.parametrize("fixture", BROKEN, ids=lambda p: p.stem)
def test_broken_grading_is_caught(fixture, harness):
    rule, entity = expectation(fixture)
    found = findings_with(fixture, harness)
    matching = [f for f in found if f.rule == rule]
    assert matching, f"{fixture.name}: expected {rule}, got {[f.line() for f in found]}"
    assert any(f.entity == entity for f in matching), [f.line() for f in matching]
    assert all(f.message and "does not conform" not in f.message for f in matching)


@pytest.mark.parametrize("domain", DOMAINS)
def test_each_grade_domain_needs_a_judgement(domain, harness, tmp_path):
    text = VALID.read_text()
    line = next(x for x in text.splitlines() if f"mkg:gradeDomain mkg:{domain} ;" in x)
    draft = tmp_path / "draft.ttl"
    draft.write_text(text.replace(line + "\n", ""))
    rules = {(f.rule, f.entity) for f in findings_with(draft, harness)}
    assert (f"shape:CertaintyAssessmentShape/{DOMAINS[domain]}", "grading:TEST-ikema-pfs-certainty") in rules
    assert len({r for r, _ in rules if r.startswith("shape:CertaintyAssessmentShape/")}) == 1, rules


@pytest.mark.parametrize("domain", DOMAINS)
def test_each_grade_domain_needs_its_reason(domain, harness, tmp_path):
    text = VALID.read_text()
    reason = f'; mkg:judgementReason "Test fixture reason for {DOMAINS[domain]}." '
    assert reason in text
    draft = tmp_path / "draft.ttl"
    draft.write_text(text.replace(reason, ""))
    found = findings_with(draft, harness)
    assert any(f.rule == f"shape:CertaintyAssessmentShape/{DOMAINS[domain]}"
               and f.entity == "grading:TEST-ikema-pfs-certainty" and "reason" in f.message for f in found)
    assert any(f.rule == "shape:DomainJudgementShape/reason" for f in found)


def test_the_shipped_recommendations_are_ungraded_drafts(run_query):
    rows = run_query("recommendation-grading")
    assert len(rows) == 19
    for row in rows:
        assert row["reviewState"].endswith("#DraftState"), row
        assert row["evidenceStatus"].endswith("#Reconstructed")
        assert row["reviewedBy"] == "myeloma-kg curation team" and row["reviewedAt"] == "2026-12-03"
        assert row["strength"].endswith("#NotGraded")
        assert row.get("direction") is None and row.get("certainty") is None
        assert row["assessedOutcomes"] == 0


def test_no_outcome_of_the_shipped_graph_carries_an_invented_certainty(kg):
    rows = kg.select("SELECT (COUNT(*) AS ?n) WHERE { ?a a mkg:CertaintyAssessment }")
    assert rows[0]["n"] == 0


def test_check_catches_an_approved_draft_without_strength():
    fixture = GRADING / "broken-approved-without-strength.ttl"
    result = check_command("--with", str(fixture))
    assert result.exit_code == 1, result.output
    assert "rec:TEST-approved: an approved recommendation needs a strength" in result.output
    assert "FAILED" in result.output


def test_check_passes_a_complete_approved_draft():
    result = check_command("--with", str(VALID))
    assert result.exit_code == 0, result.output
    assert "PASSED" in result.output
