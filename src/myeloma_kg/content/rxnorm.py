"""Reading an RxNorm release (RXNCONSO.RRF, RXNREL.RRF) to check and complete the drugs' RXCUIs.

The files are streamed line by line (the real RXNCONSO.RRF is about 1 GB), keeping only the
RxNorm-sourced concepts of the types needed: ingredients (IN, MIN, PIN), clinical and branded
drugs and their components (SCD, SBD, SCDC, SBDC, SCDF, SBDF) and brand names (BN).  The result
is Turtle written to the data folder, loaded into the ``rxnorm`` named graph by every later
command: identifier records (scheme RxNorm, status verified against the release) that the patient
vocabulary reads, so a record may name a drug by any product RXCUI.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RxNormReadError
from ..graph.store import KnowledgeGraph
from ..namespaces import IDREC, MKG
from ..queries import catalog_of

INGREDIENT_TYPES = {"IN", "MIN", "PIN"}
PRODUCT_TYPES = {"SCD", "SBD", "SCDC", "SBDC", "SCDF", "SBDF", "BN", "MIN", "PIN"}
# Products are reached by climbing from an ingredient, never by descending again (a clinical drug
# also consists of the components of its other ingredients, which must not be linked); the one
# step down that is taken is from a branded drug to the brand name it carries.
RANK = {"IN": 0, "PIN": 0, "MIN": 1, "SCDC": 1, "SCDF": 1, "BN": 1, "SBDC": 2, "SBDF": 2, "SCD": 2, "SBD": 3}
FOLLOWED = {"ingredient_of", "has_ingredient", "has_ingredients", "ingredients_of", "consists_of", "constitutes",
            "tradename_of", "has_tradename", "precise_ingredient_of", "has_precise_ingredient", "part_of", "has_part"}


@dataclass
class ImportReport:
    release: str
    concepts: int = 0
    relations: int = 0
    mismatches: list[str] = field(default_factory=list)
    filled: list[tuple[str, str]] = field(default_factory=list)  # (drug label, rxcui)
    products: int = 0
    output: Path | None = None

    def text(self) -> str:
        lines = [f"RxNorm release {self.release}: {self.concepts} concepts and {self.relations} relations read"]
        lines += [f"MISMATCH: {m}" for m in self.mismatches]
        lines += [f"filled in: {label} -> RXCUI {rxcui}" for label, rxcui in self.filled]
        lines.append(f"{self.products} product and brand-name concepts linked to the graph's ingredients")
        if self.output:
            lines.append(f"written to {self.output}; later commands load it")
        return "\n".join(lines)


def _rows(path: Path, columns: int, progress: Callable[[int], None] | None) -> Iterator[list[str]]:
    if not path.is_file():
        raise RxNormReadError(f"{path} is missing: an RxNorm release folder holds RXNCONSO.RRF and RXNREL.RRF")
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if progress:
                progress(len(raw))
            fields = raw.decode("utf-8", errors="replace").rstrip("\r\n").split("|")
            if len(fields) < columns:
                raise RxNormReadError(f"{path.name} line {number}: {len(fields)} fields where {columns} are expected")
            yield fields


def read_release(folder: Path, kg: KnowledgeGraph, progress: Callable[[int], None] | None = None) -> tuple[ImportReport, str]:
    """Check the graph's RXCUIs against the release and build the Turtle of what it adds."""
    catalog = catalog_of(kg.settings.queries_dir)
    drugs = kg.select(catalog.program_query("rxnorm", "drugs").text)
    names = {}
    for row in kg.select(catalog.program_query("rxnorm", "drug-names").text):
        names.setdefault(row["name"].lower(), row["drug"])
    recorded = kg.select(catalog.program_query("rxnorm", "verified-codes").text)

    report = ImportReport(release=folder.name)
    concept: dict[str, tuple[str, str]] = {}  # rxcui -> (tty, name), RxNorm-sourced, not suppressed
    by_name: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for f in _rows(folder / "RXNCONSO.RRF", 18, progress):
        rxcui, lat, sab, tty, text, suppress = f[0], f[1], f[11], f[12], f[14], f[16]
        if sab != "RXNORM" or lat != "ENG" or suppress in ("O", "Y", "E"):
            continue
        if tty in INGREDIENT_TYPES | PRODUCT_TYPES:
            concept.setdefault(rxcui, (tty, text))
            report.concepts += 1
            if tty in INGREDIENT_TYPES:
                by_name[text.lower()].append((rxcui, tty))
    links: dict[str, set[str]] = defaultdict(set)
    for f in _rows(folder / "RXNREL.RRF", 16, progress):
        rxcui1, rxcui2, rela, sab = f[0], f[4], f[7], f[10]
        if sab != "RXNORM" or rela not in FOLLOWED or rxcui1 not in concept or rxcui2 not in concept:
            continue
        links[rxcui1].add(rxcui2)
        links[rxcui2].add(rxcui1)
        report.relations += 1

    for row in recorded:
        if row["code"] not in concept:
            report.mismatches.append(f"{row['label']}: RXCUI {row['code']} is not an active RxNorm concept in this release")

    ingredients: dict[str, str] = {}  # rxcui -> drug IRI
    for row in drugs:
        if row.get("rxcui") and row["rxcui"] in concept:
            ingredients[row["rxcui"]] = row["drug"]
    filled: dict[str, str] = {}
    for row in drugs:
        if row.get("rxcui"):
            continue
        matches = [(rxcui, tty) for rxcui, tty in by_name.get(row["label"].lower(), []) if tty == "IN"]
        if len(matches) == 1:
            filled[row["drug"]] = matches[0][0]
            ingredients[matches[0][0]] = row["drug"]
            report.filled.append((row["label"], matches[0][0]))

    products: dict[str, set[str]] = defaultdict(set)  # rxcui -> drug IRIs it leads to
    for start, drug in ingredients.items():
        seen, todo = {start}, [start]
        while todo:
            current = todo.pop()
            for nxt in links.get(current, ()):
                climbs = RANK.get(concept[nxt][0], -1) > RANK.get(concept[current][0], 0)
                names_branded = concept[nxt][0] == "BN" and concept[current][0] in ("SBD", "SBDC", "SBDF")
                if nxt in seen or not (climbs or names_branded):
                    continue
                seen.add(nxt)
                todo.append(nxt)
                products[nxt].add(drug)
    # A product reached from a multiple-ingredient drug (daratumumab and hyaluronidase) belongs to
    # that drug rather than to each of its single ingredients.
    for rxcui, reached in products.items():
        specific = {d for d in reached if any(concept[r][0] == "MIN" and ingredients[r] == d for r in ingredients)}
        if specific:
            products[rxcui] = specific
    report.products = sum(1 for rxcui in products if rxcui not in ingredients)
    return report, _turtle(report, concept, filled, products, ingredients)


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _turtle(report, concept, filled, products, ingredients) -> str:
    today = dt.date.today().isoformat()
    source = f"RxNorm release {report.release}, imported {today}"
    lines = [f"@prefix mkg: <{MKG}> .",
             "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .",
             "@prefix skos: <http://www.w3.org/2004/02/skos/core#> .", ""]
    for drug, rxcui in sorted(filled.items()):
        record = f"<{IDREC}rxnorm-import-{rxcui}>"
        lines += [f"<{drug}> mkg:rxcui {_literal(rxcui)} ; skos:exactMatch <http://purl.bioontology.org/ontology/RXNORM/{rxcui}> ;",
                  f"    mkg:identifierRecord {record} .",
                  f"{record} a mkg:IdentifierRecord ; rdfs:label {_literal(f'RxNorm {rxcui} (ingredient, from the release)')} ;",
                  f"    mkg:identifierScheme mkg:RxNorm ; mkg:code {_literal(rxcui)} ; mkg:codeRelation \"ingredient\" ;",
                  f"    mkg:evidenceStatus mkg:VerifiedFromSource ; mkg:sourceNote {_literal(source)} .", ""]
    for rxcui, drugs in sorted(products.items()):
        if rxcui in ingredients:
            continue
        tty, name = concept[rxcui]
        record = f"<{IDREC}rxnorm-import-{rxcui}>"
        for drug in sorted(drugs):
            lines.append(f"<{drug}> mkg:identifierRecord {record} .")
        lines += [f"{record} a mkg:IdentifierRecord ; rdfs:label {_literal(f'RxNorm {rxcui} {tty}: {name}')} ;",
                  f"    mkg:identifierScheme mkg:RxNorm ; mkg:code {_literal(rxcui)} ; mkg:codeRelation {_literal(tty)} ;",
                  f"    mkg:evidenceStatus mkg:VerifiedFromSource ; mkg:sourceNote {_literal(source)} .", ""]
    return "\n".join(lines) + "\n"
