"""`myeloma-kg rxnorm import` on a small release written in the real RRF layout."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from myeloma_kg import Settings, load_graph
from myeloma_kg.cli.main import main
from myeloma_kg.patients.recommend import Recommender

from conftest import FIXTURES, ROOT

FIXTURE = FIXTURES / "rxnorm"
EXAMPLE = ROOT / "examples" / "patients" / "dara-refractory-recent.json"


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    cache = tmp_path_factory.mktemp("cache")
    env = {"MYELOMA_KG_DATA_DIR": str(data), "MYELOMA_KG_CACHE_DIR": str(cache)}
    result = CliRunner(env=env).invoke(main, ["rxnorm", "import", str(FIXTURE)])
    settings = Settings.load({"data_dir": str(data), "cache_dir": str(cache)}, environ={})
    return result, settings, (data / "rxnorm.ttl").read_text()


def test_retired_or_wrong_rxcuis_are_listed_with_exit_status_1(imported):
    result, _, _ = imported
    assert result.exit_code == 1
    assert "bortezomib: RXCUI 358258 is not an active RxNorm concept" in result.output


def test_missing_ingredient_rxcuis_are_filled_by_exact_name(imported):
    result, settings, turtle = imported
    assert "filled in: isatuximab -> RXCUI 2289900" in result.output
    assert "filled in: selinexor -> RXCUI 2200000" in result.output
    assert "2200001" not in turtle  # "selinexor tablet" must not match selinexor
    kg = load_graph(settings, reason=False)
    assert kg.select('SELECT ?c WHERE { drug:isatuximab mkg:rxcui ?c }') == [{"c": "2289900"}]


def test_products_follow_the_chain_to_their_ingredient_and_no_further(imported):
    _, settings, _ = imported
    kg = load_graph(settings, reason=False)
    rows = kg.select("""SELECT ?drug ?code WHERE { ?drug mkg:identifierRecord ?r .
        ?r mkg:code ?code ; mkg:sourceNote ?s . FILTER(CONTAINS(?s, "RxNorm release")) }""")
    owners: dict[str, set[str]] = {}
    for row in rows:
        owners.setdefault(row["code"], set()).add(row["drug"].rsplit("/", 1)[1])
    assert owners["2375140"] == {"daratumumab-and-hyaluronidase"}  # Darzalex Faspro branded drug
    assert owners["2375137"] == {"daratumumab-and-hyaluronidase"}  # brand name Darzalex Faspro
    assert owners["1721953"] == {"daratumumab"}  # Darzalex 5 mL branded drug
    assert "daratumumab" not in owners.get("5555561", set())  # rituximab/hyaluronidase is not daratumumab's


def test_a_branded_product_rxcui_gives_the_same_recommendation_as_the_inn(imported):
    _, settings, _ = imported
    recommender = Recommender(load_graph(settings))
    by_name = json.loads(EXAMPLE.read_text())
    by_product = json.loads(EXAMPLE.read_text().replace('"daratumumab"', '"1721953"'))
    assert by_product != by_name
    import datetime as dt

    def recommended(record):
        result = recommender.recommend(recommender.read(json.dumps(record), as_of=dt.date(2026, 11, 24)))
        assert result.recommendation is not None, result.report.text()
        return sorted(r["regimen"] for r in result.recommendation["recommended"]), result.recommendation["derived"]

    assert recommended(by_product) == recommended(by_name)


def test_an_unreadable_release_exits_2(tmp_path):
    (tmp_path / "RXNCONSO.RRF").write_text("only|three|fields\n")
    (tmp_path / "RXNREL.RRF").write_text("")
    result = CliRunner(env={"MYELOMA_KG_DATA_DIR": str(tmp_path / "data")}).invoke(main, ["rxnorm", "import", str(tmp_path)])
    assert result.exit_code == 2 and "fields where 18 are expected" in result.output
