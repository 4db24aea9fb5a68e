"""The patient shapes compiled into checks that run over many records at once.

pySHACL walks the shapes in Python for every focus node, and its time per record grows with the
records of a run (about 11 ms for one record, 22 ms a record for 25).  The patient shapes use a
small part of SHACL: class and subjects-of targets, property shapes with an IRI path and the
constraints listed in ``_PROPERTY_KEYS``, ``sh:or`` of such property shapes, and SPARQL
constraints.  This module reads them once into plain checks, runs the core ones over an index of
the records' triples, and the SPARQL ones with ``$this`` bound to each focus node, as pySHACL
does; it gives the same results (focus node, path, value, message, severity).

It answers only where it is sure to give pySHACL's results; for anything else it says "not
sure" and the record goes to pySHACL alone:

- shapes using any other SHACL term, a shape without its own message: the whole compilation is
  refused (``compile_shapes`` returns None), and pySHACL validates every record;
- a record with a blank node, a typed value written in a form other than the canonical one
  (``"07"`` for 7, ``"+1"``, a date with a time zone), a comparison between values that are not
  both valid dates or numbers, a value of a SPARQL row that could be written differently: that
  record goes to pySHACL.

``tests/patients/test_compiled_shapes.py`` compares the two on every example, on generated records
and on random broken records.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyoxigraph as ox
import rdflib
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS, SH, XSD

RDF_TYPE = str(RDF.type)
XSD_STRING = str(XSD.string)
XSD_DATE = str(XSD.date)
XSD_BOOLEAN = str(XSD.boolean)
SUBCLASS_OF = str(RDFS.subClassOf)
_NUMERIC = {str(XSD.integer): re.compile(r"-?(0|[1-9][0-9]*)"),
            str(XSD.decimal): re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?|-?(0|[1-9][0-9]*)\.0")}
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_BOOLEAN = {"true", "false"}

# what a property shape may say, and what a node shape may say; any other predicate on a shape
# means the shapes use SHACL beyond these checks
_PROPERTY_KEYS = {SH.path, SH.name, SH.description, SH.minCount, SH.maxCount, SH.datatype, SH.minInclusive,
                  SH.maxInclusive, SH.minExclusive, SH.maxExclusive, SH.minLength, SH.maxLength, SH.pattern,
                  SH.flags, SH["in"], SH["class"], SH.lessThan, SH.lessThanOrEquals, SH.message, SH.severity,
                  RDFS.comment, RDFS.label}
_NODE_KEYS = {RDF.type, SH.targetClass, SH.targetSubjectsOf, SH.property, SH["or"], SH.message, SH.severity,
              SH.sparql, RDFS.comment, RDFS.label, SH.name, SH.description}
_SPARQL_KEYS = {RDF.type, SH.message, SH.prefixes, SH.select, RDFS.comment}
_SEVERITY = {SH.Violation, SH.Warning, SH.Info}


class NotSure(Exception):
    """This record's results cannot be given for certain here: pySHACL gives them."""


@dataclass(frozen=True)
class Result:
    """One validation result, as pySHACL writes it (rdflib terms, as its results graph holds them)."""

    focus: rdflib.term.Node
    path: rdflib.term.Node | None
    value: rdflib.term.Node | None
    message: str
    severity: rdflib.URIRef


@dataclass
class PropertyCheck:
    path: str
    message: str | None
    severity: rdflib.URIRef
    min_count: int | None = None
    max_count: int | None = None
    datatype: str | None = None
    bounds: list[tuple[str, Decimal]] = field(default_factory=list)  # (">=", 18), ("<", 5) ...
    min_length: int | None = None
    max_length: int | None = None
    pattern: re.Pattern | None = None
    one_of: frozenset | None = None
    of_class: str | None = None
    less_than: list[tuple[str, bool]] = field(default_factory=list)  # (other path, or equal)

    @property
    def counts_only(self) -> bool:
        return not (self.datatype or self.bounds or self.min_length is not None or self.max_length is not None
                    or self.pattern or self.one_of is not None or self.of_class or self.less_than)


@dataclass
class SparqlCheck:
    select: str
    message: str
    severity: rdflib.URIRef
    # run once for all focus nodes of a run, its rows then taken by ?this (see _together)
    together: bool = False


@dataclass
class NodeCheck:
    target_classes: list[str]
    target_subjects_of: list[str]
    severity: rdflib.URIRef
    message: str | None
    properties: list[PropertyCheck]
    any_of: list[list[PropertyCheck]]  # each sh:or: its member shapes
    sparql: list[SparqlCheck]


class Refused(Exception):
    """The shapes use something these checks do not do."""


def compile_shapes(graph: rdflib.Graph) -> list[NodeCheck] | None:
    """The node shapes of ``graph`` as checks, or None when the shapes use anything else."""
    try:
        return _compile(graph)
    except Refused:
        return None


def _one(graph: rdflib.Graph, node, predicate):
    values = list(graph.objects(node, predicate))
    if len(values) > 1:
        raise Refused(f"{node} has several {predicate}")
    return values[0] if values else None


def _keys(graph: rdflib.Graph, node, allowed: set) -> None:
    for predicate in set(graph.predicates(node, None)):
        if predicate not in allowed:
            raise Refused(f"{node} uses {predicate}")


def _severity(graph: rdflib.Graph, node) -> rdflib.URIRef:
    severity = _one(graph, node, SH.severity) or SH.Violation
    if severity not in _SEVERITY:
        raise Refused(f"severity {severity}")
    return severity


def _property(graph: rdflib.Graph, node, need_message: bool) -> PropertyCheck:
    if not isinstance(node, (rdflib.BNode, rdflib.URIRef)):
        raise Refused("a property shape that is not a node")
    _keys(graph, node, _PROPERTY_KEYS)
    path = _one(graph, node, SH.path)
    if not isinstance(path, rdflib.URIRef):
        raise Refused("a path other than one IRI")
    message = _one(graph, node, SH.message)
    if message is None and need_message:
        raise Refused("a property shape without its own message")
    if message is not None and (not isinstance(message, rdflib.Literal) or message.language):
        raise Refused("a message with a language")
    check = PropertyCheck(str(path), None if message is None else str(message), _severity(graph, node))

    def whole(predicate) -> int | None:
        value = _one(graph, node, predicate)
        if value is None:
            return None
        if not isinstance(value, rdflib.Literal) or value.datatype != XSD.integer:
            raise Refused(f"{predicate} is not a whole number")
        return int(value)

    check.min_count, check.max_count = whole(SH.minCount), whole(SH.maxCount)
    check.min_length, check.max_length = whole(SH.minLength), whole(SH.maxLength)
    datatype = _one(graph, node, SH.datatype)
    if datatype is not None:
        if str(datatype) not in (XSD_STRING, XSD_BOOLEAN, XSD_DATE, *_NUMERIC):
            raise Refused(f"datatype {datatype}")
        check.datatype = str(datatype)
    for predicate, sign in ((SH.minInclusive, ">="), (SH.maxInclusive, "<="), (SH.minExclusive, ">"),
                            (SH.maxExclusive, "<")):
        bound = _one(graph, node, predicate)
        if bound is not None:
            if not isinstance(bound, rdflib.Literal) or str(bound.datatype) not in _NUMERIC:
                raise Refused(f"{predicate} is not a number")
            check.bounds.append((sign, Decimal(str(bound))))
    pattern = _one(graph, node, SH.pattern)
    if pattern is not None:
        flags = str(_one(graph, node, SH.flags) or "")
        if flags.strip("ixsm"):
            raise Refused(f"flags {flags}")
        check.pattern = re.compile(str(pattern), sum({"i": re.I, "x": re.X, "s": re.S, "m": re.M}[f] for f in set(flags)))
    listed = _one(graph, node, SH["in"])
    if listed is not None:
        members = list(Collection(graph, listed))
        if not all(isinstance(m, rdflib.URIRef) for m in members):
            raise Refused("sh:in with values other than IRIs")
        check.one_of = frozenset(str(m) for m in members)
    of_class = _one(graph, node, SH["class"])
    if of_class is not None:
        check.of_class = str(of_class)
    for predicate, equal in ((SH.lessThan, False), (SH.lessThanOrEquals, True)):
        for other in graph.objects(node, predicate):
            if not isinstance(other, rdflib.URIRef):
                raise Refused("a comparison with a path other than one IRI")
            check.less_than.append((str(other), equal))
    return check


def _compile(graph: rdflib.Graph) -> list[NodeCheck]:
    checks = []
    shapes = set(graph.subjects(RDF.type, SH.NodeShape))
    if set(graph.subjects(RDF.type, SH.PropertyShape)) - set(graph.objects(None, SH.property)):
        raise Refused("a property shape with targets of its own")
    for shape in sorted(shapes, key=str):
        if (shape, RDF.type, RDFS.Class) in graph or (shape, RDF.type, rdflib.OWL.Class) in graph:
            raise Refused("an implicit class target")
        _keys(graph, shape, _NODE_KEYS)
        message = _one(graph, shape, SH.message)
        if message is not None and (not isinstance(message, rdflib.Literal) or message.language):
            raise Refused("a message with a language")
        node = NodeCheck(
            target_classes=[str(c) for c in graph.objects(shape, SH.targetClass)],
            target_subjects_of=[str(p) for p in graph.objects(shape, SH.targetSubjectsOf)],
            severity=_severity(graph, shape), message=None if message is None else str(message),
            properties=[_property(graph, p, True) for p in graph.objects(shape, SH.property)],
            any_of=[], sparql=[])
        for listed in graph.objects(shape, SH["or"]):
            members = [_property(graph, m, False) for m in Collection(graph, listed)]
            if node.message is None or not all(m.counts_only for m in members):
                raise Refused("sh:or other than of counts, or without the shape's message")
            node.any_of.append(members)
        for constraint in graph.objects(shape, SH.sparql):
            _keys(graph, constraint, _SPARQL_KEYS)
            select, text = _one(graph, constraint, SH.select), _one(graph, constraint, SH.message)
            if select is None or text is None or node.message is not None:
                raise Refused("a SPARQL constraint without its select and its own message")
            if re.search(r"[?$]failure\b", str(select)):
                raise Refused("a SPARQL constraint reporting ?failure")
            text_with_prefixes = _with_prefixes(graph, constraint, str(select))
            node.sparql.append(SparqlCheck(text_with_prefixes, str(text), node.severity, _together(text_with_prefixes)))
        if not (node.target_classes or node.target_subjects_of):
            if node.properties or node.any_of or node.sparql:
                raise Refused("a shape without targets")  # (reached through sh:node, which is not done here)
            continue
        checks.append(node)
    return checks


_THIS = rdflib.Variable("this")
# what a query may be made of for _together; anything else (a sub-select, VALUES, an aggregate,
# SERVICE, LIMIT) makes it run once a focus node
_BINDING = {"BGP", "Join", "LeftJoin", "Minus", "Filter", "Extend", "Union", "Distinct", "Reduced", "OrderBy",
            "Graph"}


def _together(select: str) -> bool:
    """Whether a SPARQL constraint gives, run once without $this and its rows then taken by ?this,
    the rows it gives run once a focus node with $this bound (as pySHACL runs it): ?this is
    projected, every solution binds it through a triple pattern (in each branch of a UNION, on
    the required side of an OPTIONAL or MINUS), nothing binds it otherwise, and the query has
    no sub-select, VALUES, aggregate, SERVICE or LIMIT, whose answer for one focus node could
    depend on the others.  Expressions (FILTER, EXISTS, BIND) then see ?this bound to the row's
    focus node, as they see $this."""
    from rdflib.plugins.sparql import prepareQuery
    from rdflib.plugins.sparql.parserutils import CompValue

    try:
        query = prepareQuery(select).algebra
    except Exception:  # noqa: BLE001 - a text this parser does not read: once a focus node
        return False
    project = query.p
    if getattr(project, "name", None) != "Project" or _THIS not in (project.PV or []):
        return False

    def plain(node) -> bool:  # only patterns of _BINDING inside, at any depth (EXISTS included)
        if isinstance(node, CompValue):
            if node.name in ("Project", "SubSelect", "Group", "AggregateJoin", "ToMultiSet", "values", "Slice",
                             "ServiceGraphPattern", "InlineData", "InlineDataOneVar", "InlineDataFull"):
                return False
            if node.name == "Extend" and node.get("var") == _THIS:
                return False
            return all(plain(value) for key, value in node.items() if key != "_vars")
        if isinstance(node, (list, tuple)):
            return all(plain(item) for item in node)
        return True

    def binds(node) -> bool:  # every solution of the pattern binds ?this through a triple pattern
        name = getattr(node, "name", None)
        if name not in _BINDING:
            return False
        if name == "BGP":
            return any(_THIS in triple for triple in node.triples)
        if name == "Join":
            return binds(node.p1) or binds(node.p2)
        if name in ("LeftJoin", "Minus"):
            return binds(node.p1)
        if name == "Union":
            return binds(node.p1) and binds(node.p2)
        return binds(node.p)

    return plain(project.p) and binds(project.p)


def _with_prefixes(graph: rdflib.Graph, constraint, text: str) -> str:
    """The select with the PREFIX lines its sh:prefixes declare, as pySHACL writes them."""
    lines = []
    for holder in graph.objects(constraint, SH.prefixes):
        for declaration in graph.objects(holder, SH.declare):
            prefix, namespace = _one(graph, declaration, SH.prefix), _one(graph, declaration, SH.namespace)
            lines.append(f"PREFIX {prefix}: <{namespace}>")
    return "\n".join(lines + [text])


# -- running them --------------------------------------------------------------------------


class Index:
    """The triples of a data store by subject and predicate, and the subjects of each predicate."""

    def __init__(self, store: ox.Store) -> None:
        self.store = store
        self.by_subject: dict[str, dict[str, list[Any]]] = {}
        self.by_predicate: dict[str, set[str]] = {}
        for quad in store.quads_for_pattern(None, None, None, None):
            subject, predicate, obj = quad.subject, quad.predicate.value, quad.object
            if type(subject) is not ox.NamedNode or type(obj) is ox.BlankNode:
                raise NotSure("a blank node")
            if predicate == SUBCLASS_OF:
                raise NotSure("a class hierarchy in the data")
            self.by_subject.setdefault(subject.value, {}).setdefault(predicate, []).append(obj)
            self.by_predicate.setdefault(predicate, set()).add(subject.value)

    def values(self, subject: str, predicate: str) -> list[Any]:
        return self.by_subject.get(subject, {}).get(predicate, [])

    def has_type(self, node: Any, cls: str) -> bool:
        return type(node) is ox.NamedNode and any(type(t) is ox.NamedNode and t.value == cls
                                                  for t in self.values(node.value, RDF_TYPE))


def _number(term: Any) -> Decimal | None:
    """A canonical integer or decimal literal as a number; None for a literal of another type;
    NotSure for a number written another way."""
    if type(term) is not ox.Literal or term.datatype.value not in _NUMERIC:
        return None
    if not _NUMERIC[term.datatype.value].fullmatch(term.value):
        raise NotSure("a number not written canonically")
    return Decimal(term.value)


def _date(term: Any) -> dt.date | None:
    if type(term) is not ox.Literal or term.datatype.value != XSD_DATE:
        return None
    if not _DATE.fullmatch(term.value):
        raise NotSure("a date with a time zone or an odd form")
    try:
        return dt.date.fromisoformat(term.value)
    except ValueError:
        raise NotSure("an impossible date") from None


def _well_typed(term: Any, datatype: str) -> bool:
    """Whether the value has this datatype and a valid form (NotSure where the form is odd)."""
    if type(term) is not ox.Literal or term.datatype.value != datatype:
        return False
    if datatype in _NUMERIC:
        return _number(term) is not None
    if datatype == XSD_DATE:
        return _date(term) is not None
    if datatype == XSD_BOOLEAN:
        if term.value not in _BOOLEAN:
            raise NotSure("a boolean not written true or false")
        return True
    return True  # xsd:string: any text


def _compare(a: Any, b: Any) -> tuple[Any, Any]:
    """Two values that can be compared, both dates or both numbers; NotSure for anything else."""
    for read in (_date, _number):
        x, y = read(a), read(b)
        if x is not None and y is not None:
            return x, y
    raise NotSure("a comparison of values that are not two dates or two numbers")


_HOLDS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}


def _value_fails(check: PropertyCheck, index: Index, focus: str, value: Any) -> bool:
    if check.datatype is not None and not _well_typed(value, check.datatype):
        return True
    if check.bounds:
        number = _number(value)
        if number is None:
            raise NotSure("a range check of a value that is not a number")
        for sign, bound in check.bounds:
            if not _HOLDS[sign](number, bound):
                return True
    if check.min_length is not None or check.max_length is not None or check.pattern is not None:
        if type(value) is ox.BlankNode:
            return True
        text = value.value
        if check.min_length is not None and len(text) < check.min_length:
            return True
        if check.max_length is not None and len(text) > check.max_length:
            return True
        if check.pattern is not None and not check.pattern.search(text):
            return True
    if check.one_of is not None and not (type(value) is ox.NamedNode and value.value in check.one_of):
        return True
    if check.of_class is not None and not index.has_type(value, check.of_class):
        return True
    for other, equal in check.less_than:
        for bound in index.values(focus, other):
            x, y = _compare(value, bound)
            if not (x <= y if equal else x < y):
                return True
    return False


def _rdflib(term: Any) -> rdflib.term.Node:
    if type(term) is ox.NamedNode:
        return rdflib.URIRef(term.value)
    if type(term) is ox.Literal:
        if term.language:
            return rdflib.Literal(term.value, lang=term.language)
        return rdflib.Literal(term.value, datatype=rdflib.URIRef(term.datatype.value))
    raise NotSure("a blank node")


def _fill(message: str, row: dict[str, Any]) -> str:
    """pySHACL's filling of a SPARQL constraint's message: each bound variable, {?name} or {$name},
    replaced by its text (a regular-expression replacement, as pySHACL does it)."""
    for name, value in row.items():
        text = str(value)
        if "\\" in text or "{" in text:
            raise NotSure("a value that reads differently as a replacement")
        message = re.sub(f"{{[?$]{name}}}", text, message)
    return message


def _row_value(term: Any) -> rdflib.term.Node:
    """A value of a SPARQL row as pySHACL gets it (rdflib writes some typed values canonically)."""
    if type(term) is ox.Literal and term.datatype.value in _NUMERIC:
        _number(term)  # NotSure unless canonical
    if type(term) is ox.Literal and term.datatype.value == XSD_DATE:
        _date(term)
    if type(term) is ox.Literal and term.datatype.value not in (XSD_STRING, XSD_DATE, XSD_BOOLEAN, *_NUMERIC) \
            and not term.language:
        raise NotSure("a value of a type rdflib may write differently")
    return _rdflib(term)


def _solutions(rows) -> list[dict[str, Any]]:
    """SELECT rows as dicts of their bound variables."""
    return [{v.value: solution[v] for v in rows.variables if solution[v] is not None} for solution in rows]


def _rows_by_focus(store: ox.Store, constraint: SparqlCheck, focuses: set[str]) -> dict[str, list[dict[str, Any]]]:
    """The rows of a constraint run once (``_together``), by the focus node ?this binds."""
    found: dict[str, list[dict[str, Any]]] = {}
    for row in _solutions(store.query(constraint.select)):
        this = row.get("this")
        if type(this) is ox.NamedNode and this.value in focuses:
            found.setdefault(this.value, []).append(row)
    return found


def focus_results(index: Index, focus: str, node: NodeCheck,
                  together: dict[int, dict[str, list[dict[str, Any]]]] | None = None) -> list[Result]:
    """Every result of one node shape on one focus node; ``together`` holds the rows of the
    constraints run once for every focus (by the constraint's position, then by focus node)."""
    found: list[Result] = []
    focus_term = rdflib.URIRef(focus)
    for check in node.properties:
        values = index.values(focus, check.path)
        path = rdflib.URIRef(check.path)
        message = check.message or ""
        if (check.min_count is not None and len(values) < check.min_count) or \
                (check.max_count is not None and len(values) > check.max_count):
            found.append(Result(focus_term, path, None, message, check.severity))
        for value in values:
            if _value_fails(check, index, focus, value):
                found.append(Result(focus_term, path, _rdflib(value), message, check.severity))
    for members in node.any_of:
        if not any(_counts_hold(m, index, focus) for m in members):
            found.append(Result(focus_term, None, focus_term, node.message or "", node.severity))
    for number, constraint in enumerate(node.sparql):
        if together is not None and number in together:
            rows = together[number].get(focus, [])
        else:
            rows = _solutions(index.store.query(constraint.select,
                                                substitutions={ox.Variable("this"): ox.NamedNode(focus)}))
        seen = []
        for found_row in rows:
            row = dict(found_row)
            path, value, this = row.pop("path", None), row.pop("value", None), row.pop("this", None)
            if path is None and value is None and this is None:
                continue  # pySHACL reports nothing for such a row
            key = (this, path, value, tuple(sorted((k, str(v)) for k, v in row.items())))
            if key in seen:
                continue
            seen.append(key)
            shown = {name: _row_value(term) for name, term in row.items()}
            this_term = _rdflib(this) if this is not None else focus_term
            value_term = _rdflib(value) if value is not None else focus_term
            path_term = _rdflib(path) if path is not None else None
            bound = dict(shown)
            if this is not None:
                bound["this"] = this_term
            if path_term is not None:
                bound["path"] = path_term
            bound["value"] = value_term
            found.append(Result(this_term, path_term, value_term, _fill(constraint.message, bound), constraint.severity))
    return found


def _counts_hold(check: PropertyCheck, index: Index, focus: str) -> bool:
    count = len(index.values(focus, check.path))
    return (check.min_count is None or count >= check.min_count) and (check.max_count is None or count <= check.max_count)


def run_checks(checks: list[NodeCheck], store: ox.Store, owners: Iterable[str]) -> dict[str, list[Result] | None]:
    """The results of every record of ``store``, by the record's patient IRI (``owners``); None
    for a record this cannot be sure of, and for all of them when the store itself is odd."""
    owners = list(owners)
    try:
        index = Index(store)
    except NotSure:
        return {owner: None for owner in owners}
    results: dict[str, list[Result] | None] = {owner: [] for owner in owners}
    first = {}  # owner IRI -> its first position in owners
    for position, owner in enumerate(owners):
        first.setdefault(owner, position)
    for node in checks:
        focuses: set[str] = set()
        for cls in node.target_classes:
            focuses |= {s for s in index.by_predicate.get(RDF_TYPE, ()) if index.has_type(ox.NamedNode(s), cls)}
        for predicate in node.target_subjects_of:
            focuses |= index.by_predicate.get(predicate, set())
        together = {number: _rows_by_focus(store, constraint, focuses)
                    for number, constraint in enumerate(node.sparql) if constraint.together and focuses}
        for focus in focuses:
            owner = _owner(first, focus)
            if owner is None or results.get(owner) is None:
                continue
            try:
                results[owner].extend(focus_results(index, focus, node, together))  # type: ignore[union-attr]
            except NotSure:
                results[owner] = None
    return results


def _owner(first: dict[str, int], focus: str) -> str | None:
    """The record a focus node belongs to: the first owner (by position) that is the node or whose
    IRI followed by "/" begins it.  The candidates are the node and its IRI cut at each "/", so the
    time does not grow with the records of a run."""
    found: tuple[int, str] | None = None
    candidate = focus
    while True:
        position = first.get(candidate)
        if position is not None and (found is None or position < found[0]):
            found = (position, candidate)
        cut = candidate.rfind("/")
        if cut <= 0:
            break
        candidate = candidate[:cut]
    return None if found is None else found[1]
