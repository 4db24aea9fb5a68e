"""The drugs' external mappings as an SSSOM mapping set (TSV with a YAML header)."""

from __future__ import annotations

import datetime as dt
import io
import json

from ..graph.store import KnowledgeGraph
from ..graph.version import graph_version
from ..namespaces import BASE, DRUG
from ..queries import QueryCatalog

CURIE_MAP = {
    "drug": str(DRUG),
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "semapv": "https://w3id.org/semapv/vocab/",
    "RXNORM": "http://purl.bioontology.org/ontology/RXNORM/",
    "NCIT": "http://purl.obolibrary.org/obo/NCIT_",
    "ATC": "http://purl.bioontology.org/ontology/ATC/",
    "DRUGBANK": "https://go.drugbank.com/drugs/",
    "WIKIDATA": "http://www.wikidata.org/entity/",
}
COLUMNS = ["subject_id", "subject_label", "predicate_id", "object_id", "object_source", "mapping_justification",
           "author_label", "mapping_date", "confidence", "comment"]


def compact(iri: str) -> str:
    for prefix, base in sorted(CURIE_MAP.items(), key=lambda kv: -len(kv[1])):
        if iri.startswith(base):
            return f"{prefix}:{iri[len(base):]}"
    return iri


def sssom_tsv(kg: KnowledgeGraph, catalog: QueryCatalog, today: dt.date | None = None) -> str:
    """The mapping set; its version is the graph's (``owl:versionInfo`` of the ontology header)."""
    date = (today or dt.date.today()).isoformat()
    # quoted, so that YAML reads a version such as 1.0 as text, not as a number
    version = json.dumps(graph_version(kg).version, ensure_ascii=False)
    rows = kg.select(catalog.get("drug-mappings").text) if "drug-mappings" in catalog.names() else []
    out = io.StringIO()
    header = [
        f"mapping_set_id: {BASE}mappings/drugs.sssom.tsv",
        "mapping_set_title: myeloma-kg drugs mapped to external drug vocabularies",
        f"mapping_set_version: {version}",
        f"mapping_date: {date}",
        "license: https://creativecommons.org/licenses/by/4.0/",
        "curie_map:",
        *[f"  {prefix}: {base}" for prefix, base in CURIE_MAP.items()],
    ]
    out.write("".join(f"# {line}\n" for line in header))
    out.write("\t".join(COLUMNS) + "\n")
    for row in rows:
        comment = f"{row['schemeLabel']} code {row['code']}"
        if row.get("relation"):
            comment += f" ({row['relation']})"
        if row.get("source"):
            comment += f"; source: {row['source']}"
        values = [compact(row["drug"]), row["label"], compact(row["predicate"]), compact(row["object"]),
                  row["schemeLabel"], "semapv:ManualMappingCuration", "myeloma-kg team", date,
                  "1.0" if row["predicate"].endswith("exactMatch") else "0.8", comment]
        out.write("\t".join(v.replace("\t", " ").replace("\n", " ") for v in values) + "\n")
    return out.getvalue()
