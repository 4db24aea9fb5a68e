"""Every answer says which version of the graph gave it: the version the ontology header states and
the hash of the files the graph was loaded from."""

from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
import rdflib
from click.testing import CliRunner
from rdflib.namespace import DCTERMS, OWL

from myeloma_kg.cli.main import main
from myeloma_kg.graph.store import SourceFiles
from myeloma_kg.graph.version import HEADER, ONTOLOGY_IRI, graph_version

from conftest import ROOT

EXAMPLE = ROOT / "examples" / "patients" / "len-refractory-first-relapse.json"


@pytest.fixture(scope="module")
def stated(settings):
    """What the files say, read without the project's code: the header's version and IRI, the hash."""
    g = rdflib.Graph().parse(settings.tbox_file)
    ontology = rdflib.URIRef(ONTOLOGY_IRI)
    rules = hashlib.sha256()
    for folder, pattern in ((settings.shapes_dir, "*.ttl"), (settings.queries_dir, "*.rq")):
        for path in sorted(folder.rglob(pattern)):
            rules.update(f"{folder.name}/{path.relative_to(folder).as_posix()}".encode() + b"\0" + path.read_bytes())
    return {"version": str(g.value(ontology, OWL.versionInfo)), "versionIRI": str(g.value(ontology, OWL.versionIRI)),
            "contentHash": "sha256:" + SourceFiles.of(settings).digest(), "rulesHash": "sha256:" + rules.hexdigest()}


@pytest.fixture()
def client(make_app):
    return make_app().test_client()


def test_the_version_is_the_ontology_headers_and_the_hash_is_of_the_files(kg, stated):
    assert graph_version(kg).as_json() == stated
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", stated["contentHash"])


def test_a_changed_file_changes_the_hash_but_not_the_version(kg, settings, tmp_path, stated):
    from myeloma_kg import load_graph

    draft = tmp_path / "draft.ttl"
    draft.write_text('<https://w3id.org/myeloma-kg/drug/daratumumab> <http://www.w3.org/2000/01/rdf-schema#comment> "x" .\n')
    other = graph_version(load_graph(settings, reason=False, extra=[draft]))
    assert other.version == stated["version"]
    assert other.content_hash != stated["contentHash"]


def test_a_changed_rule_changes_the_rules_hash_but_not_the_content_hash(settings, tmp_path, stated):
    """Two answers from the same graph by programs with different rules are told apart."""
    import shutil

    from myeloma_kg import load_graph

    for folder in ("ontology", "shapes", "queries"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    rule = sorted((tmp_path / "queries" / "rules").glob("*.rq"))[0]
    rule.write_text(rule.read_text() + "\n# an author's comment\n")
    other = graph_version(load_graph(settings.with_overrides({"home": str(tmp_path)}), reason=False))
    assert other.content_hash == stated["contentHash"] and other.version == stated["version"]
    assert other.rules_hash.startswith("sha256:") and other.rules_hash != stated["rulesHash"]


def test_recommend_json_and_text_name_the_version(stated):
    result = CliRunner().invoke(main, ["recommend", str(EXAMPLE), "--format", "json", "--as-of", "2026-11-24"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["graphVersion"] == stated
    result = CliRunner().invoke(main, ["recommend", str(EXAMPLE), "--as-of", "2026-11-24"])
    assert f"Answered by graph version {stated['version']} ({stated['contentHash']})" in result.stdout


def test_query_says_the_version_on_standard_error_and_keeps_the_answer_clean(stated):
    result = CliRunner().invoke(main, ["query", "drug-identifiers", "--format", "json"])
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)  # the answer itself is untouched
    assert f"answered by graph version {stated['version']} ({stated['contentHash'][:19]})" in result.stderr


def test_check_names_the_version_it_checked_and_a_draft_changes_the_hash(stated, tmp_path):
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 0, result.output
    assert f"graph version: {stated['version']} ({stated['contentHash'][:19]})\n" in result.stdout
    draft = tmp_path / "draft.ttl"
    draft.write_text('<https://w3id.org/myeloma-kg/drug/daratumumab> <http://www.w3.org/2000/01/rdf-schema#comment> "x" .\n')
    result = CliRunner().invoke(main, ["check", "--with", str(draft)])
    line = next(x for x in result.stdout.splitlines() if x.startswith("graph version: "))
    assert line.endswith(", with 1 draft file(s)") and stated["contentHash"][:19] not in line


def test_api_recommend_names_the_version(client, stated):
    answer = client.post("/api/recommend?asOf=2026-11-24", data=EXAMPLE.read_bytes(), content_type="application/json")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["graphVersion"] == stated
    assert answer.headers[HEADER].startswith(stated["version"] + " (" + stated["contentHash"][:19])


@pytest.mark.parametrize("path", ["/", "/drug/daratumumab", "/api/queries", "/sparql?query=ASK%7B%7D",
                                  "/no/such/page", "/sparql?query=SELEC", "/download/myeloma-kg.ttl"])
def test_every_http_answer_carries_the_version_header(client, stated, path):
    answer = client.get(path)
    assert answer.headers.get(HEADER, "").startswith(stated["version"] + " (sha256:"), (path, answer.status_code)


def test_every_page_footer_shows_the_version(client, stated):
    for path in ("/", "/drug/daratumumab", "/search?q=dara", "/query"):
        page = client.get(path).get_data(as_text=True)
        footer = page[page.index("<footer"):]
        assert stated["version"] in footer and stated["contentHash"][:19] in footer, path


def test_the_service_description_states_the_version(client, stated):
    answer = client.get("/sparql", headers={"Accept": "text/turtle"})
    g = rdflib.Graph().parse(data=answer.get_data(as_text=True), format="turtle")
    assert {str(o) for o in g.objects(None, OWL.versionInfo)} == {stated["version"]}
    assert {str(o) for o in g.objects(None, OWL.versionIRI)} == {stated["versionIRI"]}
    assert {str(o) for o in g.objects(None, DCTERMS.identifier)} == {stated["contentHash"]}


def test_downloads_are_named_by_version_and_say_it(client, stated):
    answer = client.get("/download/myeloma-kg.nt")
    assert f"myeloma-kg-{stated['version']}.nt" in answer.headers["Content-Disposition"]
    first = answer.get_data(as_text=True).split("\n", 1)[0]
    assert first == f"# myeloma-kg graph version {stated['version']}, content {stated['contentHash']}"
    rdflib.Graph().parse(data=answer.get_data(as_text=True), format="nt")  # still valid N-Triples


def test_the_fast_path_of_the_endpoint_carries_the_version_too(live_server, stated):
    query = urllib.request.quote("SELECT ?d WHERE { ?d a <https://w3id.org/myeloma-kg/ontology#Drug> }")
    for _ in range(3):  # the first run teaches the server the query is fast; later ones take the short path
        with urllib.request.urlopen(f"{live_server}/sparql?query={query}", timeout=30) as answer:
            assert answer.headers[HEADER].startswith(stated["version"])


# -- pinning: a request that names a version is answered by that version or not at all ------------

@pytest.mark.parametrize("pin, answered", [
    ("0.1.0", True), ("https://w3id.org/myeloma-kg/ontology/0.1.0", True), ("CONTENT", True), ("CONTENT12", True),
    ("0.2.0", False), ("sha256:0000000000000000", False), ("sha256:7240", False), ("", False), ("0.1", False),
])
def test_a_pinned_version_is_answered_only_by_that_version(client, stated, pin, answered, kg):
    pin = {"CONTENT": stated["contentHash"], "CONTENT12": stated["contentHash"][:19]}.get(pin, pin)
    if stated["version"] != "0.1.0":
        pin = pin.replace("0.1.0", stated["version"])
    before = len(kg.store)
    for method, path, body in (("POST", "/api/recommend?asOf=2026-11-24", EXAMPLE.read_bytes()),
                               ("GET", "/sparql?query=ASK%7B%7D", None), ("GET", "/api/changes", None)):
        answer = client.open(path, method=method, data=body, content_type="application/json" if body else None,
                             headers={HEADER: pin, "Accept": "application/sparql-results+json, application/json"})
        if answered:
            assert answer.status_code == 200, (path, answer.get_data(as_text=True))
        else:
            assert answer.status_code == 412, path
            data = answer.get_json()
            assert "pinned to" in data["error"] and data["graphVersion"] == stated
            assert answer.headers[HEADER].startswith(stated["version"])
    assert len(kg.store) == before


def test_the_fast_path_of_the_endpoint_checks_a_pin_too(live_server, stated):
    from myeloma_kg.graph.version import HEADER as VERSION

    url = f"{live_server}/sparql?query=" + urllib.parse.quote("SELECT ?d WHERE { ?d a mkg:AntiCD38Antibody }")
    for _ in range(3):  # repeated: the query becomes one the fast path answers
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "application/sparql-results+json"}),
                                    timeout=30) as answer:
            assert answer.status == 200
    request = urllib.request.Request(url, headers={"Accept": "application/sparql-results+json", VERSION: "9.9.9"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 412 and b"pinned to" in refused.value.read()


def test_recommend_and_query_refuse_a_graph_they_are_not_pinned_to(stated):
    runner = CliRunner()
    wrong = runner.invoke(main, ["recommend", str(EXAMPLE), "--graph-version", "9.9.9", "--as-of", "2026-11-24"])
    assert wrong.exit_code == 3 and "pinned to" in wrong.stderr and "Recommended" not in wrong.stdout
    right = runner.invoke(main, ["recommend", str(EXAMPLE), "--graph-version", stated["version"], "--as-of", "2026-11-24"])
    assert right.exit_code == 0 and "Recommended" in right.stdout
    wrong = runner.invoke(main, ["query", "drug-identifiers", "--graph-version", "sha256:" + "0" * 12, "--format", "csv"])
    assert wrong.exit_code == 3 and wrong.stdout == ""
    right = runner.invoke(main, ["query", "drug-identifiers", "--graph-version", stated["contentHash"][:19], "--format", "csv"])
    assert right.exit_code == 0 and right.stdout.startswith("drug,")


def test_cross_origin_clients_may_read_the_version_and_send_a_pin(client):
    preflight = client.open("/cds-services/myeloma-kg-anti-cd38", method="OPTIONS",
                            headers={"Origin": "https://ehr.example", "Access-Control-Request-Method": "POST",
                                     "Access-Control-Request-Headers": "content-type, x-myeloma-kg-version"})
    assert HEADER in preflight.headers.get("Access-Control-Allow-Headers", "")
    answer = client.get("/sparql?query=ASK%7B%7D", headers={"Origin": "https://ehr.example"})
    assert answer.headers.get("Access-Control-Expose-Headers") == HEADER
