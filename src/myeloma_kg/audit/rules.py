"""The audit's data files and the graph's drugs, read once.

Everything clinical the audit applies is data: the line rule (``queries/audit/line-rule.json``),
the OMOP mapping (``queries/audit/default-mapping.csv`` or the site's own ``--mapping``) and the
extraction SQL (``queries/audit/*.sql``).  This module reads and checks them, and gives each a
hash so that every output row can say which ones produced it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import MyelomaKGError
from ..queries import load_query


class AuditInputError(MyelomaKGError):
    """The audit's input (a source table, a column, the mapping) is missing or malformed: exit 2."""

    exit_code = 2


#: The record fields the mapping may fill, and what kind of value each takes.
FIELDS = {
    "creatinineClearance": "number",
    "ecog": "integer",
    "cytogenetics": "finding",
    "bestResponse": "word",
    "progression": "date",
    "extramedullaryDisease": "boolean",
    "dialysis": "boolean",
    "cardiacHistory": "boolean",
    "cardiacCondition": "text",
    "frailty": "word",
    "charlson": "integer",
    "adl": "integer",
    "iadl": "integer",
    "stopReason": "word",
    "toxicity": "text",
}
#: Fields that belong to a line (the line their date falls in), not to the patient.
LINE_FIELDS = ("bestResponse", "progression", "stopReason", "toxicity")
#: Patient fields whose every row counts (the others: the latest row).
LIST_FIELDS = ("cytogenetics", "cardiacCondition")
#: IMWG frailty scores, which go into the record's imwgFrailty object.
FRAILTY_SCORES = {"charlson": "charlson", "adl": "adl", "iadl": "iadl"}
MAPPED_TABLES = ("measurement", "observation", "condition_occurrence", "episode")
#: A cytogenetics value that records a test with nothing found.
NO_FINDING = "none"


def audit_dir(settings: Settings) -> Path:
    return settings.queries_dir / "audit"


def sha256_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class LineRule:
    """The line rule of ``line-rule.json`` (see the file for what every number means)."""

    data: dict[str, Any]
    hash: str

    @classmethod
    def load(cls, settings: Settings) -> LineRule:
        path = audit_dir(settings) / "line-rule.json"
        raw = path.read_bytes()
        return cls(json.loads(raw), sha256_of(raw))

    @property
    def name(self) -> str:
        return str(self.data["name"])

    def label(self, mode: str) -> str:
        """What the ``line_rule`` column says: the episodes as given, or the derivation rule used."""
        if mode == "episode":
            return "episode"
        return f"derive:{self.name} ({self.hash[:19]})"

    @property
    def ignored(self) -> frozenset[str]:
        return frozenset(d.lower() for d in self.data.get("notRegimenComponents", []))

    @property
    def progression_window_days(self) -> int:
        return int(self.data["progressionWindowDays"])


@dataclass(frozen=True)
class MappingRow:
    table: str
    concept_id: int
    field: str
    value: str | None


@dataclass(frozen=True)
class Mapping:
    """The mapping table: which OMOP rows fill which record field (contract section 7)."""

    rows: tuple[MappingRow, ...]
    hash: str
    name: str

    @classmethod
    def default_path(cls, settings: Settings) -> Path:
        return audit_dir(settings) / "default-mapping.csv"

    @classmethod
    def load(cls, path: Path) -> Mapping:
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise AuditInputError(f"mapping {path}: cannot be read ({exc})") from None
        reader = csv.DictReader(io.StringIO(text))
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        missing = [c for c in ("table", "concept_id", "field", "value") if c not in header]
        if missing:
            raise AuditInputError(f"mapping {path}: the header lacks the column(s) {', '.join(missing)} "
                                  "(expected table,concept_id,field,value)")
        reader.fieldnames = header
        rows = []
        for number, row in enumerate(reader, start=2):
            where = f"mapping {path}, line {number}"
            table = (row.get("table") or "").strip().lower()
            if table not in MAPPED_TABLES:
                raise AuditInputError(f"{where}, column table: {table!r} is not one of {', '.join(MAPPED_TABLES)}")
            concept = (row.get("concept_id") or "").strip()
            try:
                concept_id = int(concept)
            except ValueError:
                raise AuditInputError(f"{where}, column concept_id: {concept!r} is not a whole number") from None
            name = (row.get("field") or "").strip()
            if name not in FIELDS:
                raise AuditInputError(f"{where}, column field: {name!r} is not one of {', '.join(FIELDS)}")
            value = (row.get("value") or "").strip() or None
            rows.append(MappingRow(table, concept_id, name, value))
        if not rows:
            raise AuditInputError(f"mapping {path}: no rows")
        return cls(tuple(rows), sha256_of(raw), path.name)


def extraction_sql(settings: Settings, name: str, **parameters: int) -> str:
    """The text of ``queries/audit/<name>.sql`` with its ``{parameter}`` numbers filled in."""
    text = (audit_dir(settings) / f"{name}.sql").read_text(encoding="utf-8")
    for key, value in parameters.items():
        text = text.replace("{" + key + "}", str(int(value)))
    return text


@dataclass
class GraphDrugs:
    """The graph's drugs as the audit needs them: lower-case label, RxNorm codes, ingredients."""

    labels: dict[str, str] = field(default_factory=dict)  # IRI -> lower-case label
    codes: dict[str, list[tuple[str, str | None, str | None]]] = field(default_factory=dict)  # IRI -> (code, relation, status)
    rxcui: dict[str, str] = field(default_factory=dict)  # IRI -> mkg:rxcui
    ingredients: dict[str, set[str]] = field(default_factory=dict)  # product IRI -> ingredient IRIs

    @classmethod
    def of(cls, kg, settings: Settings) -> GraphDrugs:
        query = load_query(audit_dir(settings) / "graph-drugs.rq")
        found = cls()
        for row in kg.select(query.text):
            drug = row["drug"]
            found.labels[drug] = str(row["label"]).lower()
            if row.get("rxcui"):
                found.rxcui[drug] = str(row["rxcui"])
            if row.get("code"):
                entry = (str(row["code"]), row.get("relation"), row.get("status"))
                if entry not in found.codes.setdefault(drug, []):
                    found.codes[drug].append(entry)
            if row.get("ingredient"):
                found.ingredients.setdefault(drug, set()).add(row["ingredient"])
        return found

    def iri_of(self, label: str) -> str:
        for iri, name in self.labels.items():
            if name == label.lower():
                return iri
        raise KeyError(label)

    def components(self, iri: str, ignored: frozenset[str]) -> list[str]:
        """The regimen components a drug stands for: a product its ingredients, less the ignored ones."""
        parts = self.ingredients.get(iri) or {iri}
        return sorted({self.labels[p] for p in parts if p in self.labels and self.labels[p] not in ignored})

    def ingredient_code(self, label: str) -> str | None:
        """The RXCUI of an ingredient as the graph records it (mkg:rxcui, else an RxNorm record)."""
        iri = self.iri_of(label)
        if iri in self.rxcui:
            return self.rxcui[iri]
        for code, relation, _status in self.codes.get(iri, []):
            if relation in (None, "ingredient"):
                return code
        return None

    def product_code(self, label: str, relation: str) -> str | None:
        iri = self.iri_of(label)
        return next((code for code, rel, _ in self.codes.get(iri, []) if rel == relation), None)
