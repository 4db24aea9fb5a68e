"""The changelog of the versions a server knows: the diff between each release and the next in
the releases folder, and between the newest release and the graph being served when they differ.

Computed on first use and kept until the releases folder changes (a release written, replaced or
removed), since a diff of two versions takes about a third of a second (reading both graphs and
querying each; a release between two others is read and queried once).  The clinical aspects of
each version and the raw difference of each pair are also kept in the cache folder under their
content hashes, so a restarted server builds the log of ten releases in well under a second
(benchmarks/changes.py).  A release folder that cannot be read,
or whose graph no longer matches its checksum, is left out and listed as skipped, with the reason in
words: the log is shown to anyone, so it names no paths and quotes no reader's messages.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ..errors import DiffInputError
from .diff import Diff, EntityChange, _from_kg, _from_release, diff_sides
from .release import MANIFEST, known_releases


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
        self._key: tuple = ()
        self._skipped: list[str] = []
        self._versions: list[str] = []
        self._lock = threading.Lock()

    def entries(self) -> list[Entry]:
        """Newest first."""
        with self._lock:
            key = self._folder_state()
            if self._entries is None or key != self._key:  # a release written or removed since: read again
                self._entries, self._key = self._compute(), key
            return self._entries

    def _folder_state(self) -> tuple:
        """What the releases folder holds now: each manifest's folder, size and time of change."""
        folder = self.settings.releases_path
        if not folder.is_dir():
            return ()
        state = []
        for manifest in sorted(folder.glob(f"*/{MANIFEST}")):
            try:
                info = manifest.stat()
            except OSError:
                continue
            state.append((manifest.parent.name, info.st_size, info.st_mtime_ns))
        return tuple(state)

    def _compute(self) -> list[Entry]:
        problems: list[str] = []

        def skip(folder: str, exc: DiffInputError) -> None:  # left out of the log, and said so in words
            problems.append(f"{folder}: {exc.reason or 'it cannot be read as a release'}")

        sides = []
        folders = {}
        for release in known_releases(self.settings.releases_path, problems, in_words=True):
            try:
                sides.append(_from_release(release.folder, release.version))
                folders[release.version] = release.folder.name
            except DiffInputError as exc:
                skip(release.folder.name, exc)
        served = _from_kg(self.kg, "served")
        cache = self.settings.cache_path / "changelog"  # the diffs kept by content hash, for the next start
        while True:
            try:
                found = [Entry(new.version, diff_sides(old, new, self.settings, cache))
                         for old, new in zip(sides, sides[1:])]
                if sides and sides[-1].content_hash != served.content_hash:
                    found.append(Entry("unreleased", diff_sides(sides[-1], served, self.settings, cache)))
                break
            except DiffInputError as exc:  # a release's graph read only now (on a cache miss) is damaged
                damaged = [side for side in sides if side.name == exc.side]
                if not damaged:
                    raise
                sides.remove(damaged[0])
                skip(folders.get(exc.side, exc.side), exc)
        self._skipped = problems
        self._versions = [side.version for side in sides]
        return list(reversed(found))

    def releases(self) -> list[str]:
        """The versions of the releases in the log, oldest first."""
        self.entries()
        return list(self._versions)

    def skipped(self) -> list[str]:
        """The release folders left out of the log, each with why."""
        self.entries()
        return list(self._skipped)

    def for_entity(self, iri: str) -> list[tuple[Entry, EntityChange]]:
        """The changes of one entity (a recommendation's page lists them), newest first."""
        found = []
        for entry in self.entries():
            change = entry.diff.for_entity(iri)
            if change is not None:
                found.append((entry, change))
        return found


__all__ = ["Changelog", "Entry"]
