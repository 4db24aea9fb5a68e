"""`myeloma-kg mappings export`: an SSSOM mapping set that a reader accepts, with verified codes only."""

from __future__ import annotations

import csv
import io

import curies
import yaml
from click.testing import CliRunner

from myeloma_kg.cli.main import main

REQUIRED = ["subject_id", "predicate_id", "object_id", "mapping_justification"]


def read_sssom(text: str):
    header = yaml.safe_load("\n".join(line[2:] for line in text.splitlines() if line.startswith("# ")))
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    rows = list(csv.DictReader(io.StringIO(body), delimiter="\t"))
    return header, rows


def test_mapping_set_is_valid_sssom(tmp_path, kg):
    output = tmp_path / "drugs.sssom.tsv"
    result = CliRunner().invoke(main, ["mappings", "export", "--output", str(output)])
    assert result.exit_code == 0, result.output
    header, rows = read_sssom(output.read_text())
    for key in ("mapping_set_id", "license", "curie_map", "mapping_date"):
        assert key in header
    converter = curies.Converter.from_prefix_map(header["curie_map"])
    assert len(rows) >= 30
    exact = {(r["subject"], r["object"]) for r in kg.select(
        "SELECT ?subject ?object WHERE { ?subject a mkg:Drug ; skos:exactMatch ?object }")}
    for row in rows:
        for column in REQUIRED + ["author_label", "mapping_date", "confidence"]:
            assert row[column], (column, row)
        subject, predicate, obj = (converter.expand(row[c]) for c in ("subject_id", "predicate_id", "object_id"))
        assert subject and predicate and obj, row
        assert converter.expand(row["mapping_justification"]) == "https://w3id.org/semapv/vocab/ManualMappingCuration"
        assert 0 < float(row["confidence"]) <= 1
        if predicate.endswith("exactMatch"):
            assert (subject, obj) in exact, row


def test_unverified_codes_are_never_exported(kg):
    result = CliRunner().invoke(main, ["mappings", "export"])
    unverified = {r["code"] for r in kg.select(
        "SELECT ?code WHERE { ?r a mkg:IdentifierRecord ; mkg:code ?code ; mkg:evidenceStatus mkg:UnverifiedFromMemory }")}
    _, rows = read_sssom(result.output)
    exported = {row["object_id"].split(":", 1)[1] for row in rows}
    assert not (exported & unverified)
    assert {"RXNORM:1721947", "NCIT:C74007", "DRUGBANK:DB09331"} <= {row["object_id"] for row in rows}
