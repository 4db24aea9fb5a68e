"""The command line: help, query errors with exit status 2, export."""

from __future__ import annotations

import json

import pytest
import rdflib
from click.testing import CliRunner

from myeloma_kg.cli.main import main


@pytest.fixture(scope="module")
def cli():
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


@pytest.mark.parametrize("command", ["query", "queries", "export", "check", "serve"])
def test_every_command_has_help(cli, command):
    result = cli(command, "--help")
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_query_by_name_as_json(cli):
    result = cli("query", "drug-identifiers", "--param", "drug=drug:isatuximab", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    codes = {b["code"]["value"] for b in data["results"]["bindings"]}
    assert {"C90578", "L01FC02", "DB14811"} <= codes


def test_query_as_csv_and_table(cli):
    csv_out = cli("query", "drug-identifiers", "--format", "csv").output
    assert csv_out.splitlines()[0].startswith("drug,schemeLabel,code")
    table = cli("query", "drug-identifiers").output
    assert "drug:daratumumab" in table and "rows)" in table


def test_query_from_a_file(cli, tmp_path):
    path = tmp_path / "mine.rq"
    path.write_text("SELECT (COUNT(*) AS ?n) WHERE { ?d a mkg:AntiCD38Antibody }")
    result = cli("query", str(path), "--format", "csv")
    assert result.exit_code == 0
    assert int(result.output.splitlines()[1]) >= 3


@pytest.mark.parametrize("args,message", [
    (["no-such-query"], "no query named"),
    (["drug-identifiers", "--param", "drug=not an iri"], "not a valid iri"),
    (["drug-identifiers", "--param", "colour=blue"], "has no parameter colour"),
    (["drug-identifiers", "--param", "drug"], "NAME=VALUE"),
    (["search-labels"], "needs the parameter 'text'"),
])
def test_bad_query_or_parameter_exits_2(cli, args, message):
    result = cli("query", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_malformed_query_file_exits_2_with_the_parser_message(cli, tmp_path):
    path = tmp_path / "bad.rq"
    path.write_text("SELECT ?x WHERE { ?x ?y }")
    result = cli("query", str(path))
    assert result.exit_code == 2
    assert "error:" in result.output and "Traceback" not in result.output


def test_export_turtle_parses(cli):
    result = cli("export", "--format", "turtle")
    assert result.exit_code == 0
    graph = rdflib.Graph().parse(data=result.output, format="turtle")
    assert len(graph) > 4000


def test_export_inferred_classifies_anti_cd38_regimens(cli):
    result = cli("export", "--format", "nt", "--inferred")
    graph = rdflib.Graph().parse(data=result.output, format="nt")
    mkg = rdflib.Namespace("https://w3id.org/myeloma-kg/ontology#")
    regimen = rdflib.Namespace("https://w3id.org/myeloma-kg/regimen/")
    classified = set(graph.subjects(rdflib.RDF.type, mkg.AntiCD38Regimen))
    assert {regimen.DPd, regimen.IsaKd, regimen.DRd, regimen.IsaPd} <= classified
    assert regimen.Kd not in classified


def test_serve_on_a_port_in_use_says_so_in_one_line():
    import socket
    import subprocess
    import sys

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        port = held.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "myeloma_kg.cli", "serve", "--port", str(port)],
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.strip() == f"error: cannot listen on 127.0.0.1:{port}: the address is in use (is another server running there?)"


def test_a_query_whose_service_endpoint_does_not_answer_fails_in_one_line():
    from conftest import _free_port

    endpoint = f"http://127.0.0.1:{_free_port()}/sparql"  # nothing listens there
    result = CliRunner().invoke(main, ["query", "federated-branded-products", "-p", f"rxnormEndpoint={endpoint}"])
    assert result.exit_code == 2
    assert result.output.startswith("error: the query could not be answered: ") and result.output.count("\n") == 1


def test_serve_refuses_a_port_that_does_not_exist():
    result = CliRunner().invoke(main, ["serve", "--port", "99999"])
    assert result.exit_code == 2 and "99999 is not in the range 1<=x<=65535" in result.output
    result = CliRunner(env={"MYELOMA_KG_PORT": "70000"}).invoke(main, ["serve"])
    assert result.exit_code == 2 and "the port must be a number from 1 to 65535, not 70000" in result.output
