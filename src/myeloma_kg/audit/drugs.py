"""Drug concepts of the source to the graph's drugs.

Each drug concept of ``drug_exposure`` has been resolved in SQL to its RxNorm ingredients
(``drug-ingredients.sql``).  An ingredient is the graph's drug with that RXCUI (``mkg:rxcui`` or
an RxNorm identifier record), else the drug whose name, synonym or brand name is the ingredient's
name.  A drug the graph knows as a product of several ingredients counts as those ingredients, and
ingredients that are no regimen component (``notRegimenComponents`` of the line rule:
hyaluronidase) are set aside.  Whatever cannot be matched stays, under its own name, as an
unknown agent: it is counted in ``summary.json`` and goes into the records as it is, where the
shapes name it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..patients.records import Vocabulary
from .rules import GraphDrugs

UNCODED = "uncoded drug"

#: Columns of the audit_drug_map table the extraction SQL joins on.
MAP_COLUMNS = (("drug_concept_id", "id"), ("drug", "text"), ("unknown", "int"), ("ignored", "int"), ("unmapped", "int"))


@dataclass
class DrugMap:
    rows: list[tuple[int, str, int, int, int]] = field(default_factory=list)
    matched_by: dict[str, int] = field(default_factory=lambda: {"code": 0, "name": 0, "none": 0})
    concepts: int = 0


def map_drugs(ingredient_rows: list[tuple[Any, ...]], vocabulary: Vocabulary, drugs: GraphDrugs,
              ignored: frozenset[str]) -> DrugMap:
    """Rows (drug_concept_id, known_concept, drug_name, ingredient id, code, name) to audit_drug_map rows."""
    out = DrugMap()
    seen: set[tuple[int, str]] = set()
    concepts: set[int] = set()

    def add(concept: int, name: str, unknown: int, skipped: int, unmapped: int = 0) -> None:
        if (concept, name) not in seen:
            seen.add((concept, name))
            out.rows.append((concept, name, unknown, skipped, unmapped))

    for concept, _known, concept_name, ingredient, code, name in ingredient_rows:
        concepts.add(concept)
        if concept == 0:
            add(0, UNCODED, 1, 0, 1)
            continue
        if ingredient is None:  # a concept that names no ingredient (a local or investigational code)
            add(concept, (concept_name or f"concept {concept}").strip().lower(), 1, 0)
            out.matched_by["none"] += 1
            continue
        iri = vocabulary.lookup("drug", code) if code else None
        how = "code"
        if iri is None and name:
            iri = vocabulary.lookup("drug", name)
            how = "name"
        if iri is None or iri not in drugs.labels:
            add(concept, (name or f"concept {ingredient}").strip().lower(), 1, 0)
            out.matched_by["none"] += 1
            continue
        out.matched_by[how] += 1
        parts = drugs.ingredients.get(iri) or {iri}
        for part in sorted(parts):
            label = drugs.labels.get(part)
            if label is None:
                continue
            add(concept, label, 0, 1 if label in ignored else 0)
    out.concepts = len(concepts)
    return out
