"""The module names of release 0.1.0, kept importable for one release after the modules moved into
their wings: ``import myeloma_kg.recommend`` gives ``myeloma_kg.patients.recommend`` with a
``DeprecationWarning`` that names the new place."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

MOVED = {
    "graph": "graph.load", "store": "graph.store", "remote": "graph.remote", "reasoning": "graph.reasoning",
    "version": "graph.version", "sparql_check": "sparql.guard", "sparql_service": "sparql.service",
    "patients": "patients.records", "fhir.patient": "patients.fhir_bundle", "validate": "patients.validate",
    "recommend": "patients.recommend", "batch": "patients.batch", "fhir.cli": "fhir.bundle",
    "fhir.server": "fhir.repository", "fhir.validation": "fhir.conformance", "checks": "content.checks",
    "release": "content.release", "diff": "content.diff", "changelog": "content.changelog",
    "mappings": "content.sssom", "rxnorm": "content.rxnorm", "serving": "web.serve", "results": "cli.render",
}
# ``graph`` and ``patients`` are packages now: their old names import as the packages, whose
# modules hold what the old modules held.
_PACKAGE = __name__.rsplit(".", 1)[0]


class _Loader(importlib.abc.Loader):
    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec):
        warnings.warn(f"{spec.name} moved to {self.new}; the old name goes in the next release",
                      DeprecationWarning, stacklevel=3)
        return importlib.import_module(self.new)

    def exec_module(self, module) -> None:
        pass


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(_PACKAGE + "."):
            return None
        old = fullname[len(_PACKAGE) + 1:]
        new = MOVED.get(old)
        if new is None or old in ("graph", "patients"):
            return None
        return importlib.util.spec_from_loader(fullname, _Loader(f"{_PACKAGE}.{new}"))


def install() -> None:
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.append(_Finder())
