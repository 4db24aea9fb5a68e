"""Shared fixtures: the shipped graph is loaded (and reasoned) once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from myeloma_kg import Settings, load_graph
from myeloma_kg.queries import QueryCatalog

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.load({"home": str(ROOT)}, environ={})


@pytest.fixture(scope="session")
def kg(settings):
    return load_graph(settings)


@pytest.fixture(scope="session")
def catalog(settings) -> QueryCatalog:
    return QueryCatalog(settings.queries_dir)


@pytest.fixture(scope="session")
def run_query(kg, catalog):
    """Run a named query with parameters; rows as dicts of plain values."""

    def run(name: str, **params):
        named = catalog.get(name)
        return kg.select(named.text, named.bind(params))

    return run
