"""What a SPARQL request is, decided by parsing it, never by running it.

The public endpoint and the API accept read-only queries over the project's own graphs.  This
module parses the text with rdflib's SPARQL parser, translates it to the SPARQL algebra (prefixed
names expanded, with the project's prefixes predeclared as the engine has them) and walks both the
parse tree and the algebra.  It refuses:

* anything that is not a query (every SPARQL Update operation: INSERT, DELETE, LOAD, CLEAR, ...),
* ``SERVICE`` in any position (subquery, OPTIONAL, EXISTS, MINUS, UNION, with or without SILENT,
  with an IRI or a variable),
* text the parser cannot read (a query the checker cannot understand is not run).

It returns the query form and the dataset the query names itself (FROM and FROM NAMED, as full
IRIs), for the caller to compare with the graphs it holds.  Nothing here touches a store or the
network.  Results are cached by text, since clients repeat the same queries.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import SparqlRequestError
from ..namespaces import PREFIXES

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

    @property
    def graphs(self) -> tuple[str, ...]:
        return self.from_graphs + self.from_named


def check_query(text: str) -> CheckedQuery:
    """The checked query, or ``SparqlRequestError`` (status 400) saying why it is refused."""
    if not isinstance(text, str):
        raise SparqlRequestError(400, "the query must be text")
    return _check(text)


@functools.lru_cache(maxsize=1024)
def _check(text: str) -> CheckedQuery:
    parsed, algebra = _parse(text)
    for node in _walk(parsed):
        if _name(node) == "ServiceGraphPattern":
            raise SparqlRequestError(400, "SERVICE is not allowed: this endpoint never fetches from other servers")
    for node in _walk(algebra):
        if _name(node) == "ServiceGraphPattern":
            raise SparqlRequestError(400, "SERVICE is not allowed: this endpoint never fetches from other servers")
    form = FORMS.get(_name(algebra.algebra) or "")
    if form is None:  # pragma: no cover - the parser yields one of the four query forms
        raise SparqlRequestError(400, "the text is not a SPARQL query")
    default, named = [], []
    for clause in algebra.algebra.get("datasetClause") or ():
        if "default" in clause:
            default.append(str(clause["default"]))
        if "named" in clause:
            named.append(str(clause["named"]))
    return CheckedQuery(text=text, form=form, from_graphs=tuple(default), from_named=tuple(named))


def _parse(text: str):
    from pyparsing import ParseBaseException
    from rdflib.plugins.sparql.algebra import translateQuery
    from rdflib.plugins.sparql.parser import parseQuery

    with _PARSE_LOCK:
        try:
            parsed = parseQuery(text)
        except ParseBaseException as exc:
            if _is_update(text):
                raise SparqlRequestError(400, "this endpoint is read-only: SPARQL Update is not accepted") from None
            raise SparqlRequestError(400, "the query does not parse, and this endpoint runs only queries it can "
                                          f"check (rdflib's SPARQL parser says: {_first_line(exc)})") from None
        except RecursionError:
            raise SparqlRequestError(400, "the query is nested too deeply to be read") from None
        except Exception as exc:  # the parser raises a few other kinds on odd input
            raise SparqlRequestError(400, f"the query does not parse: {_first_line(exc)}") from None
        try:
            algebra = translateQuery(parsed, initNs=PREFIXES)
        except RecursionError:
            raise SparqlRequestError(400, "the query is nested too deeply to be read") from None
        except Exception as exc:  # unknown prefix, a variable bound twice, ...
            raise SparqlRequestError(400, f"the query is not valid SPARQL: {_first_line(exc)}") from None
    return parsed, algebra


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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
