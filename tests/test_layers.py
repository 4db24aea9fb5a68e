"""Data flows one way: a module imports only modules of its own layer or below."""

from __future__ import annotations

import ast
from pathlib import Path

import myeloma_kg

PACKAGE = Path(myeloma_kg.__file__).parent

# lower number = closer to the foundation
LAYER = {
    "_mkg": 0, "config": 0, "errors": 0, "namespaces": 0,
    "store": 1,
    "reasoning": 2, "queries": 2, "results": 2, "patients": 2, "validate": 3,
    "fhir": 2,  # reads patient bundles beside patients (which hands them to it); the web layer serves CDS Hooks
    "recommend": 4, "batch": 4, "mappings": 3, "rxnorm": 3, "remote": 1,
    "checks": 3, "graph": 3,
    "web": 5, "cli": 6, "__init__": 6, "serving": 6, "sparql_check": 1, "sparql_service": 2,
    "version": 2, "release": 4, "diff": 4, "changelog": 4,
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_every_module_has_a_layer():
    modules = {p.stem for p in PACKAGE.glob("*.py")} | {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert modules <= set(LAYER), modules - set(LAYER)


def test_no_module_imports_upward():
    for path in PACKAGE.glob("*.py"):
        for target in imports_of(path):
            assert LAYER[target] <= LAYER[path.stem], f"{path.stem} imports {target}"
