"""The query catalog: headers, typed parameters, binding without text splicing."""

from __future__ import annotations

import pytest

from myeloma_kg.errors import QueryHeaderError, QueryParameterError
from myeloma_kg.queries import QueryCatalog, load_query, parse_header


def test_every_query_has_a_header_and_runs_with_its_defaults(catalog, kg):
    assert len(catalog) >= 18
    for named in catalog:
        assert named.summary
        if any(p.required and p.default is None for p in named.params):
            continue
        kg.query(named.text, named.bind({}))  # raises on a syntax error


def test_every_competency_question_has_a_query(catalog):
    covered = {n for q in catalog for n in q.extra.get("competency", [])}
    assert covered == set(range(1, 16))


def test_parameters_are_typed(catalog):
    query = catalog.get("drug-identifiers")
    term = query.bind({"drug": "drug:isatuximab"})["drug"]
    assert term.value == "https://w3id.org/myeloma-kg/drug/isatuximab"
    with pytest.raises(QueryParameterError):
        query.bind({"drug": "<javascript:alert(1)> ?x"})


def test_a_string_parameter_cannot_inject_sparql(run_query):
    hostile = '") } ; DROP ALL ; SELECT * WHERE { ?s ?p ?o FILTER("'
    assert run_query("search-labels", text=hostile) == []
    assert run_query("search-labels", text="darzalex")


@pytest.mark.parametrize("header,error", [
    ("SELECT * WHERE { ?s ?p ?o }", "no '#\\+' header"),
    ("#+ name: x\nSELECT * WHERE { ?s ?p ?o }", "summary"),
    ("#+ summary: s\n#+ params:\n#+   - name: foo\n#+     type: colour\nSELECT ?foo WHERE { ?foo ?p ?o }", "unknown type"),
    ("#+ summary: s\n#+ params:\n#+   - name: foo\nSELECT ?s WHERE { ?s ?p ?foo }", "projected"),
    ("#+ summary: [unclosed\nSELECT * WHERE { ?s ?p ?o }", "YAML"),
])
def test_malformed_headers_are_refused(tmp_path, header, error):
    path = tmp_path / "q.rq"
    path.write_text(header)
    with pytest.raises(QueryHeaderError, match=error):
        load_query(path)


def test_duplicate_names_are_refused(tmp_path):
    for n in (1, 2):
        (tmp_path / f"q{n}.rq").write_text("#+ name: same\n#+ summary: s\nSELECT * WHERE { ?s ?p ?o }")
    with pytest.raises(QueryHeaderError, match="used twice"):
        QueryCatalog(tmp_path)


def _shipped_query_files(settings):
    return sorted(settings.queries_dir.rglob("*.rq"))


def test_every_shipped_query_file_has_a_complete_header(settings):
    """The catalog and the rules, patient and check queries: each names itself and says what it does."""
    files = _shipped_query_files(settings)
    assert len(files) >= 50
    for path in files:
        header = parse_header(path.read_text(encoding="utf-8"), path)
        assert isinstance(header.get("name"), str) and header["name"].strip(), f"{path}: no 'name'"
        assert isinstance(header.get("summary"), str) and header["summary"].strip(), f"{path}: no 'summary'"
        load_query(path)  # the strict reading the program uses for shipped files


@pytest.mark.parametrize("text,name", [
    ("#+ name: x\nSELECT (COUNT(*) AS ?n) WHERE { ?d a mkg:Drug }", "x"),
    ("#+ tags: [mine]\nSELECT (COUNT(*) AS ?n) WHERE { ?d a mkg:Drug }", "own"),
    ("# a plain comment\nSELECT (COUNT(*) AS ?n) WHERE { ?d a mkg:Drug }", "own"),
    ("SELECT (COUNT(*) AS ?n) WHERE { ?d a mkg:Drug }", "own"),
])
def test_a_users_own_file_runs_with_a_partial_header_or_none(tmp_path, catalog, kg, text, name):
    path = tmp_path / "own.rq"
    path.write_text(text)
    named = catalog.resolve(str(path))
    assert (named.name, named.summary) == (name, "")
    rows = kg.select(named.text, named.bind({}))
    assert rows[0]["n"] > 0


def test_a_users_own_file_keeps_its_declared_parameters(tmp_path, catalog, kg):
    path = tmp_path / "own.rq"
    path.write_text("#+ params:\n#+   - name: drug\n#+     type: iri\n#+     default: drug:daratumumab\n"
                    "SELECT ?drug ?label WHERE { ?drug rdfs:label ?label }")
    named = catalog.resolve(str(path))
    assert [p.name for p in named.params] == ["drug"]
    rows = kg.select(named.text, named.bind({"drug": "drug:isatuximab"}))
    assert rows and all(r["drug"].endswith("/isatuximab") for r in rows)
    path.write_text("#+ params:\n#+   - name: drug\n#+     type: colour\nSELECT ?drug WHERE { ?drug ?p ?o }")
    with pytest.raises(QueryHeaderError, match="unknown type"):
        catalog.resolve(str(path))
