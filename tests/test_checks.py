"""`myeloma-kg check`: the shipped graph passes; each broken fixture is caught, naming entity and rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from myeloma_kg import KnowledgeGraph
from myeloma_kg.content.checks import check_queries, check_reasoner, check_shapes, load_shapes, run_checks
from myeloma_kg.cli.main import main

BROKEN = sorted((Path(__file__).parent / "fixtures" / "broken").glob("*.ttl"))


def expectation(path: Path) -> tuple[str, str]:
    match = re.match(r"# expect: (\S+) (\S+)", path.read_text().splitlines()[0])
    assert match, f"{path.name} lacks its '# expect: RULE ENTITY' line"
    return match.group(1), match.group(2)


def test_the_shipped_graph_passes_every_check(kg, settings):
    report = run_checks(kg, settings)
    assert report.ok, report.text()
    assert report.counts["violation queries"] >= 10
    assert report.counts["shapes"] >= 10


@pytest.fixture(scope="module")
def shapes(settings):
    return load_shapes(settings.shapes_dir)


@pytest.mark.parametrize("fixture", BROKEN, ids=lambda p: p.stem)
def test_broken_content_is_caught(fixture, settings, shapes, kg):
    rule, entity = expectation(fixture)
    broken = KnowledgeGraph.open(settings, extra=[fixture])
    if rule == "reasoner":
        findings = check_reasoner(broken, settings)
    else:
        broken.set_inferred(kg.triples([kg.graph_names()[-1]]))  # the shipped classification
        findings = check_shapes(broken, shapes) + check_queries(broken, settings.checks_dir)[0]
    assert findings, f"{fixture.name}: nothing found"
    matching = [f for f in findings if f.rule.startswith(rule) or f.check == rule]
    assert matching, f"{fixture.name}: expected {rule}, got {[f.line() for f in findings]}"
    assert any(f.entity == entity for f in matching), [f.line() for f in matching]
    assert all(f.message for f in matching)


def test_check_command_fails_on_a_broken_draft_and_names_the_problem(settings):
    fixture = next(p for p in BROKEN if p.stem == "hazard-ratio-outside-interval")
    result = CliRunner().invoke(main, ["check", "--with", str(fixture)])
    assert result.exit_code == 1, result.output
    assert "outcome:test-pfs" in result.output
    assert "hazard ratio" in result.output
    assert "FAILED" in result.output


def test_check_command_passes_on_the_shipped_graph():
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 0, result.output
    assert "PASSED" in result.output
