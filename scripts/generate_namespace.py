"""Regenerate src/myeloma_kg/_mkg.py (the closed mkg: namespace) from ontology/myeloma-kg.ttl.

Run after adding a term to the TBox:  python scripts/generate_namespace.py
tests/test_namespaces.py fails while the two disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rdflib import Graph, URIRef

NS = "https://w3id.org/myeloma-kg/ontology#"
ROOT = Path(__file__).resolve().parents[1]


def ontology_terms(tbox: Path) -> list[str]:
    graph = Graph().parse(tbox, format="turtle")
    names = {
        str(s)[len(NS):]
        for s in graph.subjects()
        if isinstance(s, URIRef) and str(s).startswith(NS) and len(str(s)) > len(NS)
    }
    return sorted(names)


def render(names: list[str]) -> str:
    lines = [
        '"""The mkg: namespace as a closed rdflib namespace (generated; do not edit).',
        "",
        "Regenerate with: python scripts/generate_namespace.py",
        '"""',
        "",
        "from rdflib.namespace import DefinedNamespace, Namespace",
        "from rdflib.term import URIRef",
        "",
        "",
        "class MKG(DefinedNamespace):",
        '    """Terms of the myeloma-kg ontology."""',
        "",
        "    _fail = True",
        f'    _NS = Namespace("{NS}")',
        "",
    ]
    lines += [f"    {name}: URIRef" for name in names]
    return "\n".join(lines) + "\n"


def main() -> int:
    names = ontology_terms(ROOT / "ontology" / "myeloma-kg.ttl")
    target = ROOT / "src" / "myeloma_kg" / "_mkg.py"
    target.write_text(render(names), encoding="utf-8")
    print(f"{target}: {len(names)} terms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
