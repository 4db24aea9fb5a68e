"""Opening the shipped graph: files into the store, then the reasoner's result into ``inferred``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..config import Settings
from .reasoning import materialise
from .store import KnowledgeGraph


def load_graph(
    settings: Settings | None = None, *, reason: bool | None = None, extra: Iterable[Path] = ()
) -> KnowledgeGraph:
    """The shipped graph, loaded and (unless ``reason`` is false) with its inferred graph.

    The store is the one ``settings.store`` names; the reasoner's result is cached under
    ``settings.cache_path``, so only the first load after a change of the files runs HermiT.
    ``extra`` names draft Turtle files to load into the guideline graph as well.
    """
    settings = settings or Settings.load()
    if settings.store.startswith(("http://", "https://")):
        from .remote import pull_graph

        return pull_graph(settings)  # the store already holds what the reasoner added
    kg = KnowledgeGraph.open(settings, extra)
    if (settings.reason if reason is None else reason) and not kg.has_inferred():
        materialise(kg, settings.cache_path)
    return kg
