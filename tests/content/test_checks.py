"""`myeloma-kg check`: the shipped graph passes; each broken fixture is caught, naming entity and rule;
every violation query has a fixture that makes it fire; the fixture harness, which validates only
what a fixture can affect, finds what a whole-graph run and the command find."""

from __future__ import annotations

import re

import pytest
import rdflib
from rdflib.namespace import RDFS

from myeloma_kg import KnowledgeGraph
from myeloma_kg.content.checks import affected_nodes, check_reasoner, load_shapes, run_checks, shape_reach
from myeloma_kg.queries import load_query

from conftest import ROOT
from content_fixtures import ALL_BROKEN, BROKEN, VALID, check_command, expectation, whole_graph_findings


def test_the_shipped_graph_passes_every_check(kg, settings):
    report = run_checks(kg, settings)
    assert report.ok, report.text()
    assert report.counts["violation queries"] >= 10
    assert report.counts["shapes"] >= 10


@pytest.fixture(scope="module")
def shapes(settings):
    return load_shapes(settings.shapes_dir)


@pytest.mark.parametrize("fixture", BROKEN, ids=lambda p: p.stem)
def test_broken_content_is_caught(fixture, settings, harness):
    rule, entity = expectation(fixture)
    if rule == "reasoner":
        findings = check_reasoner(KnowledgeGraph.open(settings, extra=[fixture]), settings)
    else:
        findings = harness.findings(fixture)  # with the shipped classification
    assert findings, f"{fixture.name}: nothing found"
    matching = [f for f in findings if f.rule.startswith(rule) or f.check == rule]
    assert matching, f"{fixture.name}: expected {rule}, got {[f.line() for f in findings]}"
    assert any(f.entity == entity for f in matching), [f.line() for f in matching]
    assert all(f.message for f in matching)


VIOLATION_QUERIES = sorted((ROOT / "queries" / "checks").glob("*-violation.rq"))


@pytest.mark.parametrize("query", VIOLATION_QUERIES, ids=lambda p: p.stem)
def test_every_violation_query_has_a_broken_fixture_that_fires_it(query, settings, harness):
    assert (settings.checks_dir / query.name).is_file()
    name = load_query(query).name
    fixtures = [p for p in ALL_BROKEN if expectation(p)[0] == name]
    assert fixtures, f"no fixture in tests/fixtures/broken or tests/fixtures/grading expects {name}"
    for fixture in fixtures:
        entity = expectation(fixture)[1]
        fired = [f for f in harness.findings(fixture) if f.check == "sparql" and f.rule == name]
        assert any(f.entity == entity for f in fired), f"{fixture.name}: {name} did not fire on {entity}: {fired}"


def _same_form(line: str) -> str:
    """A finding line with a blank node's label (it differs from one load to the next) made neutral."""
    severity, entity, rest = re.match(r"(\[\w+\]) (\S+): (.*)$", line).groups()
    return f"{severity} {entity if ':' in entity else '_:b'}: {rest}"


def _finding_lines(output: str) -> list[str]:
    return sorted(_same_form(line) for line in output.splitlines() if line.startswith("["))


@pytest.mark.parametrize("fixture", [p for p in ALL_BROKEN if p.stem in (
    "broken-certainty-domain-without-reason", "figure-typed-as-text")], ids=lambda p: p.stem)
def test_focused_shacl_finds_what_the_whole_graph_run_finds(fixture, settings, shapes, harness, kg):
    # the first reaches blank nodes through qualified and nested shapes, the second changes a shipped outcome
    whole = whole_graph_findings(fixture, kg, settings, shapes)
    assert any(f.check == "shacl" for f in whole)
    focused = harness.findings(fixture)
    assert sorted(_same_form(f.line()) for f in focused) == sorted(_same_form(f.line()) for f in whole)
    with harness.added(fixture) as triples:
        nodes = affected_nodes(harness.data, harness.shapes, triples)
    assert nodes is not None, "the focus fell back to the whole graph"
    assert len(nodes) < len(set(harness.data.subjects())) / 20  # a small part of the graph


def test_the_focus_falls_back_to_the_whole_graph_where_it_cannot_bound_the_change(harness):
    inverse = rdflib.Graph().parse(format="turtle", data="""
        @prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <https://example.org/test#> .
        ex:Shape a sh:NodeShape ; sh:targetClass ex:Thing ;
            sh:property [ sh:path [ sh:inversePath ex:p ] ; sh:minCount 1 ] .""")
    assert shape_reach(inverse) is None
    assert affected_nodes(harness.data, inverse, []) is None
    mkg = "https://w3id.org/myeloma-kg/ontology#"
    touched_class = (rdflib.URIRef(mkg + "AntiCD38Antibody"), RDFS.comment, rdflib.Literal("a test comment"))
    assert affected_nodes(harness.data, harness.shapes, [touched_class]) is None
    drug = rdflib.URIRef("https://w3id.org/myeloma-kg/drug/daratumumab")
    nodes = affected_nodes(harness.data, harness.shapes, [(drug, RDFS.comment, rdflib.Literal("a test comment"))])
    assert nodes is not None and drug in nodes


@pytest.mark.parametrize("fixture", [p for p in ALL_BROKEN if p.stem in (
    "hazard-ratio-outside-interval", "broken-approved-without-strength")] + [VALID], ids=lambda p: p.stem)
def test_the_harness_finds_what_the_check_command_finds(fixture, harness):
    # the command's runs are the ones its own tests make (check_command keeps them).  The command
    # checks the asserted triples without the shipped classification; these fixtures find the same.
    result = check_command("--with", str(fixture))
    assert _finding_lines(result.output) == sorted(_same_form(f.line()) for f in harness.findings(fixture))


def test_check_command_fails_on_a_broken_draft_and_names_the_problem(settings):
    fixture = next(p for p in BROKEN if p.stem == "hazard-ratio-outside-interval")
    result = check_command("--with", str(fixture))
    assert result.exit_code == 1, result.output
    assert "outcome:test-pfs" in result.output
    assert "hazard ratio" in result.output
    assert "FAILED" in result.output


def test_check_command_passes_on_the_shipped_graph():
    result = check_command()
    assert result.exit_code == 0, result.output
    assert "PASSED" in result.output


def test_unchanged_content_reads_its_shacl_findings_from_the_cache(kg, settings, tmp_path):
    from dataclasses import asdict

    from myeloma_kg import load_graph
    from myeloma_kg.content import checks

    first = run_checks(kg, settings)
    second = run_checks(kg, settings)  # nothing changed: the findings kept by the first run
    assert second.shapes  # (the first may have reused an earlier run's too)
    assert [asdict(f) for f in second.findings] == [asdict(f) for f in first.findings]
    key = checks._shapes_key(kg, settings)
    kept = settings.cache_path / "checks" / f"shapes-{key[:40]}.json"
    kept.write_text("{damaged", encoding="utf-8")  # a damaged entry is made again, never trusted
    third = run_checks(kg, settings)
    assert not third.shapes and [asdict(f) for f in third.findings] == [asdict(f) for f in first.findings]
    # a draft changes the content hash, so the findings of the shipped content are not reused for it
    draft = load_graph(settings, reason=False, extra=[ROOT / "tests/fixtures/broken/percent-out-of-range.ttl"])
    assert checks._shapes_key(draft, settings) != key
