"""The SSSOM mapping set names the graph's version (owl:versionInfo), not a number of its own."""

from __future__ import annotations

import shutil

import yaml
from click.testing import CliRunner

from myeloma_kg.cli.main import main
from myeloma_kg.content.sssom import sssom_tsv
from myeloma_kg.graph.store import KnowledgeGraph
from myeloma_kg.graph.version import graph_version
from myeloma_kg.queries import QueryCatalog

from conftest import ROOT
from worked_example import stated_version


def _header(text: str) -> dict:
    return yaml.safe_load("\n".join(line[2:] for line in text.splitlines() if line.startswith("# ")))


def test_the_exported_mapping_set_has_the_graph_s_version(kg):
    result = CliRunner().invoke(main, ["mappings", "export"])
    assert result.exit_code == 0, result.output
    version = graph_version(kg).version
    assert version == stated_version((ROOT / "ontology" / "myeloma-kg.ttl").read_text(encoding="utf-8"))
    assert _header(result.output)["mapping_set_version"] == version


def test_a_raised_version_is_the_mapping_set_s_and_stays_text(settings, tmp_path):
    """1.0 would be read by YAML as a number, were it not quoted."""
    shutil.copytree(ROOT / "ontology", tmp_path / "ontology")
    tbox = tmp_path / "ontology" / "myeloma-kg.ttl"
    stated = stated_version(tbox.read_text(encoding="utf-8"))
    tbox.write_text(tbox.read_text(encoding="utf-8").replace(f'owl:versionInfo "{stated}"', 'owl:versionInfo "1.0"'),
                    encoding="utf-8")
    graph = KnowledgeGraph.open(settings.with_overrides({"home": str(tmp_path)}))
    header = _header(sssom_tsv(graph, QueryCatalog(settings.queries_dir)))
    assert header["mapping_set_version"] == "1.0"
