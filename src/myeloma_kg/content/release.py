"""A release: the graph's files named by its version, with a manifest and checksums.

``write_release`` writes, into one folder per version,

- the graph in Turtle, N-Triples and JSON-LD, as asserted and with the reasoner's triples
  (``myeloma-kg-<version>.ttl``, ``myeloma-kg-<version>-inferred.ttl``, ...);
- the drugs' mappings as SSSOM (``myeloma-kg-<version>.sssom.tsv``);
- the guideline as a FHIR R5 Bundle (``myeloma-kg-<version>.fhir.json``);
- ``release.json`` (version, version IRI, content hash, date, files and their sizes) and
  ``SHA256SUMS`` (the format ``sha256sum -c`` reads).

A folder that already holds the same version with other content is not overwritten: the author
raises ``owl:versionInfo`` in the ontology header first (or passes ``force``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ReleaseError
from ..graph.version import graph_version

MANIFEST = "release.json"
CHECKSUMS = "SHA256SUMS"


@dataclass(frozen=True)
class Release:
    """A release folder that has been written or found."""

    folder: Path
    manifest: dict[str, Any]

    @property
    def version(self) -> str:
        return self.manifest["version"]

    @property
    def content_hash(self) -> str | None:
        return self.manifest.get("contentHash")

    def graph_file(self) -> Path:
        """The asserted graph in Turtle: what a diff compares.  It must be a file of the release's
        own folder listed in its manifest, and its bytes must match the manifest's checksum: a
        release changed after it was written is refused rather than compared."""
        name = self.manifest["graph"]
        manifest = self.folder / MANIFEST
        if not isinstance(name, str) or not name or Path(name).name != name or name in (".", ".."):
            raise ReleaseError(f"{manifest} names its graph file outside the release folder",
                               "its manifest names a graph file outside the release folder")
        files = self.manifest.get("files")
        listed = {i.get("file"): i.get("sha256") for i in files if isinstance(i, dict)} if isinstance(files, list) else {}
        if not isinstance(listed.get(name), str):
            raise ReleaseError(f"{manifest} gives no checksum for its graph file {name}",
                               "its manifest gives no checksum for the graph file")
        path = self.folder / name
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            raise ReleaseError(f"the release's graph file {path} cannot be read: {exc.strerror or exc}",
                               "its graph file cannot be read") from None
        if digest != listed[name]:
            raise ReleaseError(f"{path} does not match its checksum in {MANIFEST}: the release was changed after it "
                               "was written", "its graph file does not match its checksum: the release was changed "
                               "after it was written")
        return path

    @classmethod
    def read(cls, folder: Path) -> Release:
        path = Path(folder) / MANIFEST
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ReleaseError(f"{folder} is not a release folder: it has no {MANIFEST}",
                               f"it has no {MANIFEST}") from None
        except (OSError, ValueError) as exc:
            raise ReleaseError(f"{path} cannot be read: {exc}", f"its {MANIFEST} cannot be read as JSON") from None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("version"), str) or "graph" not in manifest:
            raise ReleaseError(f"{path} is not a release manifest (it needs 'version' and 'graph')",
                               f"its {MANIFEST} is not a release manifest (it needs 'version' and 'graph')")
        return cls(Path(folder), manifest)


def _files(kg, settings, version: str) -> list[tuple[str, Callable[[], bytes]]]:
    from ..queries import QueryCatalog
    from .sssom import sssom_tsv

    stem = f"myeloma-kg-{version}"
    files: list[tuple[str, Callable[[], bytes]]] = []
    for suffix, fmt in ((".ttl", "turtle"), (".nt", "nt"), (".jsonld", "jsonld")):
        files.append((stem + suffix, lambda fmt=fmt: kg.export(fmt, inferred=False)))
        files.append((f"{stem}-inferred{suffix}", lambda fmt=fmt: kg.export(fmt, inferred=True)))
    files.append((f"{stem}.sssom.tsv", lambda: sssom_tsv(kg, QueryCatalog(settings.queries_dir)).encode()))
    files.append((f"{stem}.fhir.json", lambda: _fhir_bundle(kg, settings)))
    return files


def _fhir_bundle(kg, settings) -> bytes:
    from ..fhir.bundle import export_bundle

    data, _summary, problems = export_bundle(kg, settings, "R5")
    if problems:
        raise ReleaseError("the FHIR Bundle does not validate, so no release is written: " + "; ".join(problems[:5]))
    return data


def write_release(kg, settings, folder: Path | None = None, *, force: bool = False,
                  today: dt.date | None = None) -> Release:
    """Write the release of the graph ``kg`` holds into ``folder`` (default: the releases folder
    of the settings, one sub-folder per version) and return it."""
    version = graph_version(kg)
    if not re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z.+-]*", version.version):
        raise ReleaseError(f"the graph's version {version.version!r} cannot name a release; "
                           "set owl:versionInfo in the ontology header (for example \"0.2.0\")")
    folder = Path(folder) if folder is not None else settings.releases_path / version.version
    if (folder / MANIFEST).is_file() and not force:
        existing = Release.read(folder)
        if existing.content_hash != version.content_hash:
            raise ReleaseError(
                f"{folder} already holds release {existing.version} with other content "
                f"({existing.content_hash}); raise owl:versionInfo in {settings.tbox_file.name} for a new release, "
                "or pass --force to replace it")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReleaseError(f"cannot create the release folder {folder}: {exc}") from None
    written: list[dict[str, Any]] = []
    sums: list[str] = []
    for name, produce in _files(kg, settings, version.version):
        data = produce()
        (folder / name).write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        written.append({"file": name, "bytes": len(data), "sha256": digest})
        sums.append(f"{digest}  {name}")
    manifest = {
        "version": version.version,
        "versionIRI": version.version_iri,
        "contentHash": version.content_hash,
        "rulesHash": version.rules_hash,  # the shapes and queries of the program that wrote it
        "created": (today or dt.date.today()).isoformat(),
        "graph": f"myeloma-kg-{version.version}.ttl",
        "triples": {"asserted": sum(1 for _ in kg.triples(kg.graph_names(inferred=False))),
                    "withInferred": sum(1 for _ in kg.triples(kg.graph_names(inferred=True)))},
        "files": written,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    manifest_bytes = (folder / MANIFEST).read_bytes()
    sums.append(f"{hashlib.sha256(manifest_bytes).hexdigest()}  {MANIFEST}")
    (folder / CHECKSUMS).write_text("\n".join(sums) + "\n", encoding="utf-8")
    return Release(folder, manifest)


def version_key(version: str) -> tuple:
    """Order of versions: numerically by their parts (0.10.0 after 0.9.1), then as text."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"[.+-]", version))


def known_releases(folder: Path, problems: list[str] | None = None, *, in_words: bool = False) -> list[Release]:
    """The releases under ``folder`` (one sub-folder each), oldest first.  A sub-folder whose
    manifest cannot be read is not a release: it is left out, and said in ``problems`` (with
    ``in_words``, without paths: for a web page)."""
    if not folder.is_dir():
        return []
    found = []
    for sub in sorted(folder.iterdir()):
        if (sub / MANIFEST).is_file():
            try:
                found.append(Release.read(sub))
            except ReleaseError as exc:
                if problems is not None:
                    problems.append(f"{sub.name}: {exc.reason or exc}" if in_words else f"{sub.name}: {exc}")
    return sorted(found, key=lambda r: version_key(r.version))


__all__ = ["CHECKSUMS", "MANIFEST", "Release", "known_releases", "version_key", "write_release"]
