"""One settings object for the whole project.

Defaults live in code; a mapping passed by the caller overrides them, and ``MYELOMA_KG_*``
environment variables override both (``Settings.load``).  Nothing reads the environment at
import time.

What the program reads (ontology, shapes, queries) lives under ``home``: by default the files that
ship with the package (``shipped_home`` below), or another folder of the same layout.  What it
writes goes to the user's folders unless ``cache_dir`` / ``data_dir`` say otherwise: the
reasoner's cache to the user cache folder and imported data (RxNorm) to the user data folder, as
``platformdirs`` names them for the platform (on Linux ``~/.cache/myeloma-kg`` and
``~/.local/share/myeloma-kg``, or under ``$XDG_CACHE_HOME`` / ``$XDG_DATA_HOME``).

The shipped files have two layouts with the same shape below their root.  The project keeps them
in top-level folders (``ontology/``, ``shapes/``, ``queries/``, ``web/``) beside ``src/``; the wheel
build copies those folders into the package as ``myeloma_kg/shipped/`` (the ``package-dir``
mapping of ``pyproject.toml``).  So the root is ``<site-packages>/myeloma_kg/shipped`` in an
installed wheel and the checkout itself in a source tree (an editable install or
``PYTHONPATH=src``); ``shipped_home`` takes the first that holds the ontology.  Both are found
through ``importlib.resources`` and handed out as real ``Path`` objects, because pyoxigraph,
pyshacl and Flask want filesystem paths (a wheel is unpacked on disk; a zipped package would be
extracted once for the life of the process).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

import platformdirs

ENV_PREFIX = "MYELOMA_KG_"
APP_NAME = "myeloma-kg"  # the name of the user cache and data folders
PACKAGE = "myeloma_kg"
SHIPPED = "shipped"  # the folder inside the package that the wheel build fills
MARKER = ("ontology", "myeloma-kg.ttl")  # a root of the shipped files holds this file



def program_version() -> str | None:
    """The installed program's version (pyproject.toml's), or None in a source tree never installed."""
    from importlib import metadata

    try:
        return metadata.version(APP_NAME)
    except metadata.PackageNotFoundError:
        return None


_extracted = contextlib.ExitStack()
atexit.register(_extracted.close)


def _real_path(traversable) -> Path:
    """A filesystem path for a resource: itself when it is one, else a copy kept until exit."""
    if isinstance(traversable, Path):
        return traversable
    return _extracted.enter_context(resources.as_file(traversable))


def _package_root() -> Path:
    return _real_path(resources.files(PACKAGE))


@functools.cache
def shipped_home() -> Path:
    """The folder that holds the shipped ``ontology/``, ``shapes/``, ``queries/`` and ``web/``."""
    packaged = _package_root() / SHIPPED
    if packaged.joinpath(*MARKER).is_file():
        return packaged
    for parent in _package_root().parents:  # a source checkout: walk up from the package
        if parent.joinpath(*MARKER).is_file():
            return parent
    return packaged  # neither layout: errors then name the place the wheel should have filled


def web_dir() -> Path:
    """The shipped web templates (``templates/``) and static files (``static/``)."""
    return shipped_home() / "web"


def context_file() -> Path:
    """The JSON-LD context of plain-JSON patient records (package data beside the modules)."""
    return _real_path(resources.files(PACKAGE).joinpath("context.jsonld"))


def _find_home() -> Path:
    return shipped_home()


@dataclass(frozen=True)
class Settings:
    """Paths, store choice and limits; every component reads these and nothing else."""

    home: Path = field(default_factory=_find_home)
    store: str = "memory"  # "memory", a folder path, or the URL of a SPARQL endpoint
    cache_dir: Path | None = None  # where the reasoner's result is kept; default the user cache folder
    host: str = "127.0.0.1"
    port: int = 5000
    query_timeout_s: float = 10.0
    max_result_rows: int = 10000
    max_request_bytes: int = 1_000_000
    max_header_bytes: int = 65_536  # the request line and headers together (a GET query's URL among them)
    threads: int = 8
    # server processes: each a waitress server with its own threads and workers, forked from the
    # process that loaded the graph (one copy of it, shared until written), all accepting on one
    # socket; 0 means one per core.  Where there is no fork (Windows), one.
    processes: int = 1
    # Connections (waitress): idle or slow clients hold a connection, never a thread, so the limit
    # is set far above what a few hundred of them take; beyond it, new clients wait in the backlog.
    connection_limit: int = 1000
    idle_timeout_s: int = 30  # a connection with no request running and nothing sent or read for this long is closed
    cleanup_interval_s: int = 5  # how often idle connections are looked for
    use_poll: bool = True  # poll() instead of select(), which fails past ~1000 open files (ignored where there is no poll)
    query_workers: int = 4  # SPARQL worker processes of the public endpoint (at least 2 keeps one for short queries)
    reason: bool = True  # compute the inferred graph (cached) when the store is loaded
    data_dir: Path | None = None  # imported data (RxNorm); default the user data folder
    releases_dir: Path | None = None  # release folders (one per version); default <data folder>/releases
    cds_fhir_server: str | None = None  # the one FHIR server the CDS Hooks service may fetch from; none by default
    update_url: str | None = None  # a remote store's SPARQL Update endpoint, when it is not the query endpoint
    store_user: str | None = None  # credentials for that endpoint (HTTP Basic, or Digest when the store asks)
    store_password: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)  # signs the web app's session cookie; random when unset
    public_url: str | None = None  # e.g. https://kg.example.org/: the base of every absolute URL in answers, instead of the Host header
    # Patient records (the web routes, the CDS service and the command line; README "Limits of a record").
    # Each limit is far above a real record, and a record over one is refused before it is read.
    max_record_bytes: int = 262_144  # 413 above; a real record takes a few kilobytes
    max_json_depth: int = 32  # nesting of JSON objects and arrays; a record needs about 5, a CDS request about 10
    max_therapy_lines: int = 50  # a real history has fewer than 15
    max_drugs_per_line: int = 20  # a real line has fewer than 10
    max_findings: int = 100  # cytogenetic findings; a real record has fewer than 30
    max_list_items: int = 20  # any other list: toxicities of a line, heart conditions
    max_jsonld_contexts: int = 16  # @context entries in a JSON-LD record; one is usual
    max_jsonld_context_depth: int = 4  # contexts nested within contexts; one level is usual
    max_fhir_resources: int = 2000  # resources in a FHIR Bundle or CDS prefetch
    max_record_triples: int = 2000  # RDF triples a record makes; a long real history makes under 800
    patient_timeout_s: float | None = None  # time per patient request; None: query_timeout_s
    patient_workers: int = 2  # worker processes for patient requests (and how many run at once)
    patient_wait_s: float = 1.0  # how long a patient request waits for a free worker before a 503

    @property
    def patient_time_limit_s(self) -> float:
        return self.query_timeout_s if self.patient_timeout_s is None else self.patient_timeout_s

    @property
    def ontology_dir(self) -> Path:
        return self.home / "ontology"

    @property
    def tbox_file(self) -> Path:
        return self.ontology_dir / "myeloma-kg.ttl"

    @property
    def content_dir(self) -> Path:
        return self.ontology_dir / "content"

    @property
    def shapes_dir(self) -> Path:
        return self.home / "shapes"

    @property
    def queries_dir(self) -> Path:
        return self.home / "queries"

    @property
    def checks_dir(self) -> Path:
        return self.queries_dir / "checks"

    @property
    def data_path(self) -> Path:
        if self.data_dir is not None:
            return self.data_dir
        return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))

    @property
    def releases_path(self) -> Path:
        return self.releases_dir if self.releases_dir is not None else self.data_path / "releases"

    @property
    def cache_path(self) -> Path:
        if self.cache_dir is not None:
            return self.cache_dir
        return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> Settings:
        """A copy with the given fields replaced; ``None`` values are ignored."""
        if not overrides:
            return self
        known = {f.name: f for f in fields(self)}
        changes: dict[str, Any] = {}
        for key, value in overrides.items():
            if value is None:
                continue
            if key not in known:
                raise KeyError(f"unknown setting {key!r}")
            changes[key] = _coerce(known[key].type, value)
        return replace(self, **changes)

    @classmethod
    def load(
        cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Defaults, then ``overrides``, then ``MYELOMA_KG_*`` variables of ``environ``."""
        env = os.environ if environ is None else environ
        settings = cls().with_overrides(overrides)
        from_env = {
            f.name: env[ENV_PREFIX + f.name.upper()]
            for f in fields(cls)
            if ENV_PREFIX + f.name.upper() in env
        }
        return settings.with_overrides(from_env)


def _coerce(type_name: Any, value: Any) -> Any:
    text = str(type_name)
    if text in ("int | None", "float | None") and isinstance(value, str):  # an optional number: empty is None
        if not value.strip() or value.strip().lower() == "none":
            return None
        text = text[: -len(" | None")]
    if isinstance(value, str):
        if "Path" in text:
            return Path(value)
        if text == "int":
            return int(value)
        if text == "float":
            return float(value)
        if text == "bool":
            return value.strip().lower() in {"1", "true", "yes", "on"}
    return value
