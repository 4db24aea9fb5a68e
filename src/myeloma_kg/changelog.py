"""The changelog of the versions a server knows: the diff between each release and the next in
the releases folder, and between the newest release and the graph being served when they differ.

Computed on first use and kept (a diff of two versions takes about a second).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .diff import Diff, EntityChange, _from_kg, _from_release, diff_sides
from .release import known_releases
from .version import graph_version


@dataclass(frozen=True)
class Entry:
    """One step of the history: what changed on the way to ``version``."""

    version: str  # the version reached, or "unreleased" for the served graph past the newest release
    diff: Diff

    @property
    def title(self) -> str:
        if self.version == "unreleased":
            return f"Not yet released (the graph served, {self.diff.new.version}, {self.diff.new.content_hash})"
        return f"{self.version} (from {self.diff.old.version})"


class Changelog:
    def __init__(self, settings, kg) -> None:
        self.settings, self.kg = settings, kg
        self._entries: list[Entry] | None = None
        self._lock = threading.Lock()

    def entries(self) -> list[Entry]:
        """Newest first."""
        with self._lock:
            if self._entries is None:
                self._entries = self._compute()
            return self._entries

    def _compute(self) -> list[Entry]:
        releases = known_releases(self.settings.releases_path)
        sides = [_from_release(r.folder, r.version) for r in releases]
        found = [Entry(new.version, diff_sides(old, new, self.settings)) for old, new in zip(sides, sides[1:])]
        served = graph_version(self.kg)
        if sides and sides[-1].content_hash != served.content_hash:
            found.append(Entry("unreleased", diff_sides(sides[-1], _from_kg(self.kg, "served"), self.settings)))
        return list(reversed(found))

    def releases(self) -> list[str]:
        return [r.version for r in known_releases(self.settings.releases_path)]

    def for_entity(self, iri: str) -> list[tuple[Entry, EntityChange]]:
        """The changes of one entity (a recommendation's page lists them), newest first."""
        found = []
        for entry in self.entries():
            change = entry.diff.for_entity(iri)
            if change is not None:
                found.append((entry, change))
        return found


__all__ = ["Changelog", "Entry"]
