"""The catalog of queries: the named queries of ``queries/*.rq`` that users run, and the queries the
program runs itself, one folder each (``rules/``, ``patient/``, ``fhir/``, ``checks/``, ``diff/``,
``graph/``, ``rxnorm/``).

Each file starts with a ``#+`` header in YAML (grlc's idea)::

    #+ name: regimens-of-drug-class
    #+ summary: The regimens that contain a drug of a given class.
    #+ tags: [browse]
    #+ params:
    #+   - name: drugClass
    #+     type: iri
    #+     default: mkg:AntiCD38Antibody

The shipped queries (the catalog, and the rules, patient and check queries the program runs)
must have a complete header: a name and a summary.  A user's own file given to ``myeloma-kg query
FILE.rq`` may have any part of a header, or none.

Parameters are typed, validated and bound as RDF terms through the store's substitutions; they
are never spliced into the query text.  A parameter must appear in the SELECT projection (the
engine binds projected variables only); the catalog refuses a file where it does not.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import yaml

from .errors import QueryHeaderError, QueryNotFound, QueryParameterError
from .namespaces import PREFIXES

PARAM_TYPES = ("iri", "string", "integer", "decimal", "boolean", "date")
XSD = "http://www.w3.org/2001/XMLSchema#"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str = "string"
    required: bool = False
    default: Any = None
    enum: tuple[str, ...] = ()
    description: str = ""

    def to_term(self, raw: Any) -> ox.NamedNode | ox.Literal:
        """Check ``raw`` against the parameter's type and turn it into an RDF term."""
        text = str(raw).strip()
        if self.enum and text not in self.enum:
            raise QueryParameterError(
                f"parameter {self.name!r}: {text!r} is not one of {', '.join(self.enum)}"
            )
        try:
            if self.type == "iri":
                return ox.NamedNode(expand_iri(text))
            if self.type == "integer":
                if not re.fullmatch(r"[+-]?\d+", text):
                    raise ValueError
                return ox.Literal(str(int(text)), datatype=ox.NamedNode(XSD + "integer"))
            if self.type == "decimal":
                return ox.Literal(str(Decimal(text)), datatype=ox.NamedNode(XSD + "decimal"))
            if self.type == "boolean":
                if text.lower() not in ("true", "false"):
                    raise ValueError
                return ox.Literal(text.lower(), datatype=ox.NamedNode(XSD + "boolean"))
            if self.type == "date":
                return ox.Literal(dt.date.fromisoformat(text).isoformat(), datatype=ox.NamedNode(XSD + "date"))
            return ox.Literal(text)
        except (ValueError, InvalidOperation):
            raise QueryParameterError(
                f"parameter {self.name!r}: {text!r} is not a valid {self.type}"
            ) from None

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "required": self.required}
        if self.default is not None:
            out["default"] = self.default
        if self.enum:
            out["enum"] = list(self.enum)
        if self.description:
            out["description"] = self.description
        return out


@dataclass(frozen=True)
class NamedQuery:
    name: str
    summary: str
    text: str
    path: Path
    description: str = ""
    tags: tuple[str, ...] = ()
    params: tuple[Parameter, ...] = ()
    expected_form: str = "select"
    extra: Mapping[str, Any] = field(default_factory=dict)

    def bind(self, values: Mapping[str, Any] | None = None) -> dict[str, ox.NamedNode | ox.Literal]:
        """Typed bindings for the given raw values, with defaults filled in."""
        values = dict(values or {})
        known = {p.name for p in self.params}
        unknown = sorted(set(values) - known)
        if unknown:
            allowed = ", ".join(sorted(known)) or "none"
            raise QueryParameterError(
                f"query {self.name!r} has no parameter {', '.join(unknown)} (parameters: {allowed})"
            )
        bound: dict[str, ox.NamedNode | ox.Literal] = {}
        for param in self.params:
            if param.name in values and values[param.name] not in (None, ""):
                bound[param.name] = param.to_term(values[param.name])
            elif param.default is not None:
                bound[param.name] = param.to_term(param.default)
            elif param.required:
                raise QueryParameterError(f"query {self.name!r} needs the parameter {param.name!r}")
        return bound

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "summary": self.summary,
            "description": self.description,
            "tags": list(self.tags),
            "params": [p.describe() for p in self.params],
            "form": self.expected_form,
        }


def expand_iri(text: str) -> str:
    """A full IRI for ``text``: a project CURIE such as ``drug:daratumumab`` or an absolute IRI."""
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    prefix, sep, local = text.partition(":")
    if sep and prefix in PREFIXES and not local.startswith("//"):
        text = PREFIXES[prefix] + local
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]*$", text):
        raise ValueError(text)
    return text


def parse_header(text: str, path: Path, required: bool = True) -> dict[str, Any]:
    """The ``#+`` header as a mapping; without one, an error, or ``{}`` when not ``required``."""
    lines = [line[2:] for line in text.splitlines() if line.startswith("#+")]
    if not lines:
        if not required:
            return {}
        raise QueryHeaderError(f"{path}: no '#+' header")
    try:
        # libyaml's safe loader where PyYAML was built with it (ten times faster; the same safe subset)
        header = yaml.load("\n".join(line[1:] if line.startswith(" ") else line for line in lines),
                           Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise QueryHeaderError(f"{path}: the '#+' header is not valid YAML: {exc}") from exc
    if not isinstance(header, dict):
        raise QueryHeaderError(f"{path}: the '#+' header must be a mapping")
    return header


def load_query(path: Path, *, complete: bool = True) -> NamedQuery:
    """A query file with its header.

    ``complete`` (the shipped queries) requires a header with a summary.  Without it (a user's
    own file) the header may be partial or missing: the name falls back to the file's stem and
    the summary to nothing.  Parameters, when declared, are checked either way.
    """
    text = path.read_text(encoding="utf-8")
    header = parse_header(text, path, required=complete)
    name = header.get("name") or path.stem
    summary = header.get("summary") or ""
    if complete and not summary:
        raise QueryHeaderError(f"{path}: the header needs a 'summary'")
    params = []
    for raw in header.get("params") or []:
        if not isinstance(raw, dict) or not _NAME.match(str(raw.get("name", ""))):
            raise QueryHeaderError(f"{path}: each parameter needs a 'name' made of letters and digits")
        ptype = raw.get("type", "string")
        if ptype not in PARAM_TYPES:
            raise QueryHeaderError(f"{path}: parameter {raw['name']!r} has unknown type {ptype!r}")
        param = Parameter(
            name=raw["name"],
            type=ptype,
            required=bool(raw.get("required", False)),
            default=raw.get("default"),
            enum=tuple(str(v) for v in raw.get("enum") or ()),
            description=str(raw.get("description", "")),
        )
        if not re.search(r"\?" + param.name + r"\b", text):
            raise QueryHeaderError(f"{path}: parameter {param.name!r} does not occur as ?{param.name}")
        params.append(param)
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    form = _query_form(body)
    if form == "select":
        projection = body[: body.upper().find("WHERE")] if "WHERE" in body.upper() else body
        for param in params:
            if not re.search(r"\?" + param.name + r"\b", projection):
                raise QueryHeaderError(
                    f"{path}: parameter {param.name!r} must be projected by the SELECT clause"
                )
    known = {"name", "summary", "description", "tags", "params"}
    return NamedQuery(
        name=str(name),
        summary=str(summary).strip(),
        description=str(header.get("description", "")).strip(),
        tags=tuple(header.get("tags") or ()),
        params=tuple(params),
        text=text,
        path=path,
        expected_form=form,
        extra={k: v for k, v in header.items() if k not in known},
    )


def _query_form(body: str) -> str:
    match = re.search(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", body, re.IGNORECASE)
    return match.group(1).lower() if match else "select"


# The folders of queries the program runs itself, by what runs them.
PROGRAM_FOLDERS = ("rules", "patient", "fhir", "checks", "diff", "graph", "rxnorm")


class QueryCatalog:
    """The queries of a folder (``queries/`` by default): the named queries at its top, by name, and
    the program's own queries in its subfolders, by folder and file stem."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._queries: dict[str, NamedQuery] = {}
        for path in sorted(folder.glob("*.rq")):
            query = load_query(path)
            if query.name in self._queries:
                raise QueryHeaderError(f"{path}: the name {query.name!r} is used twice")
            self._queries[query.name] = query
        self._program: dict[str, dict[str, NamedQuery]] = {
            kind: {path.stem: load_query(path) for path in sorted((folder / kind).glob("*.rq"))}
            for kind in PROGRAM_FOLDERS
        }

    def __iter__(self):
        return iter(self._queries.values())

    def __len__(self) -> int:
        return len(self._queries)

    def names(self) -> list[str]:
        return sorted(self._queries)

    def get(self, name: str) -> NamedQuery:
        try:
            return self._queries[name]
        except KeyError:
            raise QueryNotFound(name, self.names()) from None

    def folder_queries(self, kind: str) -> list[NamedQuery]:
        """The program's queries of one folder (``rules``, ``patient``...), in file-name order."""
        return list(self._program[kind].values())

    def program_query(self, kind: str, stem: str) -> NamedQuery:
        """One of the program's own queries: ``queries/<kind>/<stem>.rq``."""
        try:
            return self._program[kind][stem]
        except KeyError:
            path = self.folder / kind / f"{stem}.rq"
            raise QueryNotFound(f"{kind}/{stem}", message=f"the program needs the query {path}, which is missing") from None

    def resolve(self, name_or_file: str) -> NamedQuery:
        """A query by catalog name, or from a ``.rq`` file (with or without a header)."""
        if name_or_file in self._queries:
            return self._queries[name_or_file]
        path = Path(name_or_file)
        if path.suffix == ".rq" or path.is_file():
            if not path.is_file():
                raise QueryNotFound(name_or_file)
            return load_query(path, complete=False)
        raise QueryNotFound(name_or_file, self.names())


@functools.lru_cache(maxsize=8)
def catalog_of(folder: Path) -> QueryCatalog:
    """The catalog of a queries folder, read once per process (the files are read-only while it runs)."""
    return QueryCatalog(Path(folder))
