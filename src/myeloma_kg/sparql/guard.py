"""What a SPARQL request is, decided by parsing it, never by running it.

The public endpoint and the API accept read-only queries over the project's own graphs.  This
module parses the text with rdflib's SPARQL parser, translates it to the SPARQL algebra (prefixed
names expanded, with the project's prefixes predeclared as the engine has them) and walks both the
parse tree and the algebra.  It refuses:

* anything that is not a query (every SPARQL Update operation: INSERT, DELETE, LOAD, CLEAR, ...),
* ``SERVICE`` in any position (subquery, OPTIONAL, EXISTS, MINUS, UNION, with or without SILENT,
  with an IRI or a variable),
* text the parser cannot read (a query the checker cannot understand is not run).

Relative IRIs are resolved against a base IRI the caller gives (the endpoint's own URL), as RFC
3986 says: a BASE declaration is resolved against the base before it, so the query's own BASE
works as the engine reads it.

It returns the query form and the dataset the query names itself (FROM and FROM NAMED, as full
IRIs), for the caller to compare with the graphs it holds.  Nothing here touches a store or the
network.  Results are remembered by a digest of the text and the base (``memo``), since clients
repeat the same queries; long texts are not remembered.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import SparqlRequestError
from ..namespaces import PREFIXES
from .memo import BoundedMemo, digest, rememberable

FORMS = {"SelectQuery": "SELECT", "AskQuery": "ASK", "ConstructQuery": "CONSTRUCT", "DescribeQuery": "DESCRIBE"}

# The parser keeps state between calls (pyparsing's caches); one parse at a time.
_PARSE_LOCK = threading.Lock()


@dataclass(frozen=True)
class CheckedQuery:
    """A query that may run: its form and the graphs its own dataset clauses name."""

    text: str
    form: str  # SELECT, ASK, CONSTRUCT or DESCRIBE
    from_graphs: tuple[str, ...] = ()  # FROM <g>: the default graph is their merge
    from_named: tuple[str, ...] = ()  # FROM NAMED <g>
    base: str | None = None  # the base IRI relative IRIs were resolved against
    own_base: bool = False  # the query declares a BASE of its own

    @property
    def graphs(self) -> tuple[str, ...]:
        return self.from_graphs + self.from_named

    @property
    def own_dataset(self) -> bool:
        """True when the query states its dataset itself (FROM or FROM NAMED)."""
        return bool(self.from_graphs or self.from_named)


# Checked texts: (digest of text and base) -> the check's result, without the text.
_CHECKED: BoundedMemo[CheckedQuery] = BoundedMemo(max_entries=1024, max_bytes=4 * 1024 * 1024, max_entry_bytes=64 * 1024)


def check_query(text: str, base: str | None = None) -> CheckedQuery:
    """The checked query, or ``SparqlRequestError`` (status 400) saying why it is refused.

    ``base``: the absolute IRI relative IRIs are resolved against (None: a relative IRI stays
    relative, and a graph named by one is not a graph of any store).
    """
    if not isinstance(text, str):
        raise SparqlRequestError(400, "the query must be text")
    if not rememberable(text):
        return _check(text, base)
    key = digest(text, base)
    known = _CHECKED.get(key)
    if known is None:
        known = _check(text, base)
        _CHECKED.put(key, dataclasses.replace(known, text=""), _size(known))
    return dataclasses.replace(known, text=text)


def _size(checked: CheckedQuery) -> int:
    """About how many bytes a remembered check holds (its strings and a fixed overhead)."""
    return 200 + len(checked.base or "") + sum(60 + len(g) for g in checked.graphs)


def _check(text: str, base: str | None) -> CheckedQuery:
    parsed, algebra = _parse(text, base)
    _refuse_service(parsed, algebra)
    form = FORMS.get(_name(algebra.algebra) or "")
    if form is None:  # pragma: no cover - the parser yields one of the four query forms
        raise SparqlRequestError(400, "the text is not a SPARQL query")
    default: dict[str, None] = {}  # ordered sets: naming a graph twice names it once
    named: dict[str, None] = {}
    for clause in _dataset_clauses(algebra.algebra):
        if "default" in clause:
            default[str(clause["default"])] = None
        if "named" in clause:
            named[str(clause["named"])] = None
    own_base = any(getattr(decl, "name", None) == "Base" for decl in parsed[0])
    return CheckedQuery(text=text, form=form, from_graphs=tuple(default), from_named=tuple(named), base=base,
                        own_base=own_base)


def _refuse_service(parsed, algebra) -> None:
    for tree in (parsed, algebra):
        for node in _walk(tree):
            if _name(node) == "ServiceGraphPattern":
                raise SparqlRequestError(400, "SERVICE is not allowed: this endpoint never fetches from other servers")


def same_query(text: str, other: str, base: str | None, *, but_dataset: bool = False) -> bool:
    """True when ``other`` is the same query as ``text`` (the same algebra once relative IRIs are
    resolved against ``base``) and passes the same checks; ``but_dataset``: ``other`` is ``text``
    without its FROM / FROM NAMED clauses.  Any doubt answers False, never a wrong True: an
    anonymous blank node (``[]``) gets a new label on each parse, so a query with one never
    compares equal."""
    try:
        _, first = _parse(text, base)
        parsed, second = _parse(other, base)
        _refuse_service(parsed, second)
    except SparqlRequestError:
        return False
    if not but_dataset:
        return first.algebra == second.algebra
    if _dataset_clauses(second.algebra):
        return False
    return _without_dataset(first.algebra) == _without_dataset(second.algebra)


def _dataset_clauses(query) -> list:
    # (a CompValue's get() answers the key itself for a missing key, so ``in`` first)
    return list(query["datasetClause"] or ()) if "datasetClause" in query else []


def _without_dataset(query) -> dict:
    return {key: value for key, value in query.items() if key != "datasetClause"}


def _parse(text: str, base: str | None):
    from pyparsing import ParseBaseException
    from rdflib.plugins.sparql.algebra import translateQuery
    from rdflib.plugins.sparql.parser import parseQuery

    with _PARSE_LOCK:
        try:
            parsed = parseQuery(text)
            _resolve_relative(parsed, base)
        except ParseBaseException as exc:
            if _is_update(text):
                raise SparqlRequestError(400, "this endpoint is read-only: SPARQL Update is not accepted") from None
            raise SparqlRequestError(400, "the query does not parse, and this endpoint runs only queries it can "
                                          f"check: {_parse_error(exc)}") from None
        except RecursionError:
            raise SparqlRequestError(400, "the query is nested too deeply to be read") from None
        except Exception as exc:  # the parser raises a few other kinds on odd input
            raise SparqlRequestError(400, f"the query does not parse: {_first_line(exc)}") from None
        try:
            algebra = translateQuery(parsed, base=base, initNs=PREFIXES)
        except RecursionError:
            raise SparqlRequestError(400, "the query is nested too deeply to be read") from None
        except Exception as exc:  # unknown prefix, a variable bound twice, ...
            raise SparqlRequestError(400, f"the query is not valid SPARQL: {_first_line(exc)}") from None
    return parsed, algebra


def _resolve_relative(parsed, base: str | None) -> None:
    """Resolve, in the parse tree, the IRIs of BASE and PREFIX declarations and of FROM / FROM
    NAMED against the base in force where they stand (RFC 3986), so the graphs the query names
    are the ones the engine will read.  (rdflib alone takes a BASE as given, even a relative one.)"""
    from rdflib import URIRef

    current = base
    for decl in parsed[0]:
        if getattr(decl, "name", None) in ("Base", "PrefixDecl") and "iri" in decl and isinstance(decl["iri"], URIRef):
            resolved = resolve_iri(current, str(decl["iri"]))
            decl["iri"] = URIRef(resolved)
            if decl.name == "Base":
                current = resolved
    for clause in _dataset_clauses(parsed[1]):
        for kind in ("default", "named"):
            if kind in clause and isinstance(clause[kind], URIRef):
                clause[kind] = URIRef(resolve_iri(current, str(clause[kind])))


_IRI_PARTS = re.compile(r"^(?:([A-Za-z][A-Za-z0-9+.-]*):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$", re.DOTALL)


def resolve_iri(base: str | None, reference: str) -> str:
    """``reference`` resolved against ``base`` (RFC 3986, section 5.2); unchanged when it is
    absolute already or when there is no absolute base."""
    ref = _IRI_PARTS.match(reference)
    if ref is None or ref.group(1) is not None or not base:  # pragma: no cover - the pattern matches any text
        return reference
    b = _IRI_PARTS.match(base)
    if b is None or b.group(1) is None:
        return reference
    scheme, authority, path, query, fragment = b.group(1), b.group(2), b.group(3), b.group(4), None
    r_authority, r_path, r_query, r_fragment = ref.group(2), ref.group(3), ref.group(4), ref.group(5)
    if r_authority is not None:
        authority, path, query = r_authority, _remove_dots(r_path), r_query
    elif r_path == "":
        if r_query is not None:
            query = r_query
    else:
        if r_path.startswith("/"):
            path = _remove_dots(r_path)
        else:
            if authority is not None and path == "":
                merged = "/" + r_path
            else:
                merged = path[: path.rfind("/") + 1] + r_path
            path = _remove_dots(merged)
        query = r_query
    fragment = r_fragment
    out = scheme + ":"
    if authority is not None:
        out += "//" + authority
    out += path
    if query is not None:
        out += "?" + query
    if fragment is not None:
        out += "#" + fragment
    return out


def _remove_dots(path: str) -> str:
    output: list[str] = []
    while path:
        if path.startswith("../"):
            path = path[3:]
        elif path.startswith("./"):
            path = path[2:]
        elif path.startswith("/./"):
            path = path[2:]
        elif path == "/.":
            path = "/"
        elif path.startswith("/../"):
            path = path[3:]
            if output:
                output.pop()
        elif path == "/..":
            path = "/"
            if output:
                output.pop()
        elif path in (".", ".."):
            path = ""
        else:
            start = 1 if path.startswith("/") else 0
            end = path.find("/", start)
            end = len(path) if end == -1 else end
            output.append(path[:end])
            path = path[end:]
    return "".join(output)


def _is_update(text: str) -> bool:
    from rdflib.plugins.sparql.parser import parseUpdate

    try:
        parseUpdate(text)
    except Exception:  # not an update either
        return False
    return True


def _name(node: Any) -> str | None:
    return getattr(node, "name", None) if hasattr(node, "get") else None


def _walk(node: Any) -> Iterator[Any]:
    """Every node of a parse tree or algebra (CompValues, lists, dicts, pyparsing results)."""
    stack = [node]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen or isinstance(item, (str, bytes, int, float)):
            continue
        seen.add(id(item))
        yield item
        if isinstance(item, dict) or hasattr(item, "items"):
            try:
                stack.extend(v for _, v in item.items())
            except TypeError:
                pass
        if isinstance(item, (list, tuple, set, frozenset)) or type(item).__name__ == "ParseResults":
            stack.extend(item)
        algebra = getattr(item, "algebra", None)  # a translated Query object
        if algebra is not None:
            stack.append(algebra)
            stack.append(getattr(item, "prologue", None))


def _parse_error(exc) -> str:
    """The parser's complaint in words, with where it is."""
    expected = str(getattr(exc, "msg", "") or "").strip()
    expected = expected[0].lower() + expected[1:] if expected else "something else was expected"
    found = str(getattr(exc, "found", "") or "")
    return (f"at line {exc.lineno}, column {exc.col} the parser "
            + (f"found {found} where it expected " + expected.removeprefix("expected ") if found else expected)
            + ("" if found else " there"))


def _first_line(exc: BaseException) -> str:
    """An exception's message, first line only, without a class name in front of it."""
    text = str(exc).strip()
    text = text.splitlines()[0] if text else "no detail"
    return re.sub(r"^[A-Z][A-Za-z]*(?:Error|Exception)\s*:\s*", "", text)
