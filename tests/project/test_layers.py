"""Data flows one way: a module imports only its own wing or the wings below it, and no import
(lazy ones included) closes a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import myeloma_kg

PACKAGE = Path(myeloma_kg.__file__).parent

# The wings from the foundation up; a module may import its own wing and those listed before it.
WINGS = ["foundation", "graph", "sparql", "patients", "fhir", "content", "audit", "web", "cli"]
FOUNDATION = {"_mkg", "_moved", "config", "errors", "formats", "workers", "namespaces", "queries"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def wing_of(module: str) -> str:
    head = module.split(".")[0]
    return "foundation" if head in FOUNDATION else head


def resolve(module: str, path: Path, node: ast.ImportFrom) -> list[str]:
    """The package modules an import names (``from . import x`` names module ``x`` when there is one)."""
    if node.level == 0:
        if not (node.module or "").startswith("myeloma_kg"):
            return []
        base = node.module.split(".")[1:]
    else:
        here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        here = [p for p in here if p]
        base = here[: len(here) - (node.level - 1)] + (node.module.split(".") if node.module else [])
    found = []
    for alias in node.names:
        candidate = ".".join(base + [alias.name])
        found.append(candidate if candidate in MODULES else ".".join(base))
    return found


def _type_checking_only(tree: ast.Module) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for inner in ast.walk(node):
                lines.add(getattr(inner, "lineno", -1))
    return lines


def imports_of(module: str) -> set[str]:
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    skip = _type_checking_only(tree)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.lineno not in skip:
            found.update(m for m in resolve(module, path, node) if m != module)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def test_every_module_belongs_to_a_wing():
    for module in MODULES:
        if module:
            assert wing_of(module) in WINGS, f"{module} is in no wing: add it to a subpackage or to FOUNDATION"


def test_imports_point_at_known_modules():
    for module, targets in GRAPH.items():
        for target in targets:
            assert target == "" or target in MODULES, f"{module} imports {target}, which is not a module of the package"


def test_no_module_imports_a_higher_wing():
    for module, targets in GRAPH.items():
        if module == "":  # the package's own __init__ re-exports the public API
            continue
        for target in targets:
            assert target != "", f"{module} imports the package's __init__"
            assert WINGS.index(wing_of(target)) <= WINGS.index(wing_of(module)), f"{module} imports {target}"


def test_imports_close_no_circle():
    done: set[str] = set()

    def visit(module: str, trail: list[str]) -> None:
        if module in trail:
            raise AssertionError("import circle: " + " -> ".join(trail[trail.index(module):] + [module]))
        if module in done:
            return
        for target in sorted(GRAPH.get(module, ())):
            if target:
                visit(target, trail + [module])
        done.add(module)

    for module in sorted(GRAPH):
        visit(module, [])


def test_the_checker_sees_a_circle_and_an_upward_import():
    """The rules above are not vacuous: an invented upward import and an invented circle are caught."""
    assert "patients.recommend" in GRAPH and "graph.store" in GRAPH["patients.recommend"]
    assert WINGS.index(wing_of("web")) > WINGS.index(wing_of("graph.store"))
    saved = dict(GRAPH)
    try:
        GRAPH["graph.store"] = GRAPH["graph.store"] | {"patients.recommend"}
        try:
            test_imports_close_no_circle()
        except AssertionError as exc:
            assert "graph.store" in str(exc)
        else:
            raise AssertionError("the circle was not seen")
    finally:
        GRAPH.clear()
        GRAPH.update(saved)
