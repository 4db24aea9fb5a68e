"""What changed between two versions of the graph, in clinical words, and the raw triples.

A side of a diff is a release folder (its asserted Turtle), a checkout folder (its ontology files
as they are now) or a git revision of the checkout (its ontology files at that commit).  The
clinical part runs ``queries/diff/aspects.rq`` on each side: every value of every property of the
entities it lists (recommendations, criteria, trials, outcomes, drugs, ...), named with the
ontology's own labels; the two sides are compared per entity and property.  The raw part is the
triple difference, with blank nodes matched by the content of the structures they belong to, so
only real changes remain.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from ..errors import DiffInputError, MyelomaKGError, ReleaseError
from ..namespaces import PREFIXES
from ..queries import catalog_of
from .release import MANIFEST, Release

_GIT_TIMEOUT_S = 30


@dataclass
class Side:
    """One version: its name (version and where it came from) and its asserted triples."""

    name: str
    version: str
    content_hash: str | None
    # the triples in the default graph of a store, read on first use: a changelog whose diffs are
    # all in the cache reads no release's graph (a damaged one raises DiffInputError then)
    load: Callable[[], ox.Store] = field(repr=False, compare=False)
    # the clinical aspects, by the query that read them: a side compared twice (a release between
    # two others in the changelog) is queried once
    aspects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict, repr=False, compare=False)
    _store: ox.Store | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def store(self) -> ox.Store:
        if self._store is None:
            self._store = self.load()
        return self._store


def _store_of(triples) -> ox.Store:
    store = ox.Store()
    store.extend([ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in triples])
    return store


def _from_kg(kg, name: str) -> Side:
    from ..graph.version import graph_version

    v = graph_version(kg)
    return Side(name, v.version, v.content_hash, lambda: _store_of(kg.triples(kg.graph_names(inferred=False))))


def _from_checkout(home: Path, settings, name: str) -> Side:
    from ..graph.store import KnowledgeGraph

    with tempfile.TemporaryDirectory() as empty:  # no imported data: only the files of that checkout
        local = settings.with_overrides({"home": str(home), "store": "memory", "data_dir": empty})
        try:
            kg = KnowledgeGraph.open(local)
        except MyelomaKGError as exc:
            raise DiffInputError(f"{name}: the ontology files cannot be read: {exc}") from None
        return _from_kg(kg, name)


def _from_release(folder: Path, name: str) -> Side:
    try:
        release = Release.read(folder)
        path = release.graph_file()
    except ReleaseError as exc:  # a side that is not a readable release is bad input (status 2), like any other
        raise DiffInputError(str(exc), exc.reason) from None

    def load() -> ox.Store:
        try:
            store = ox.Store()
            store.load(path=str(path), format=ox.RdfFormat.TURTLE)  # into the default graph
        except (OSError, SyntaxError, ValueError) as exc:
            raise DiffInputError(f"{name}: the release's graph {path.name} cannot be read: {exc}",
                                 "its graph file cannot be read as Turtle", side=name) from None
        return store

    return Side(name, release.version, release.content_hash, load)


def _git(home: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(home), *args], capture_output=True, timeout=_GIT_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DiffInputError(f"git could not be run in {home}: {exc}") from None
    if done.returncode != 0:
        raise DiffInputError(done.stderr.decode(errors="replace").strip() or f"git {' '.join(args)} failed")
    return done.stdout


def _from_revision(revision: str, settings, name: str) -> Side:
    home = settings.home
    if revision.startswith("-"):
        raise DiffInputError(f"{revision!r} is not a git revision")
    try:
        commit = _git(home, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}").decode().strip()
    except DiffInputError:
        raise DiffInputError(f"{revision!r} is neither a release folder, a checkout, nor a git revision of {home}") from None
    files = [p for p in _git(home, "ls-tree", "-r", "--name-only", commit, "--", "ontology").decode().splitlines()
             if p.endswith(".ttl")]
    if "ontology/myeloma-kg.ttl" not in files:
        raise DiffInputError(f"git revision {revision} has no ontology/myeloma-kg.ttl")
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            target = Path(tmp) / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(_git(home, "show", f"{commit}:{path}"))
        return _from_checkout(Path(tmp), settings, name)


def open_side(ref: str, settings) -> Side:
    """A release folder, a checkout folder or a git revision, by what ``ref`` names."""
    path = Path(ref)
    if path.is_dir():
        if (path / MANIFEST).is_file():
            return _from_release(path, ref)
        if (path / "ontology" / "myeloma-kg.ttl").is_file():
            return _from_checkout(path, settings, ref)
        raise DiffInputError(f"{ref} is a folder but neither a release (no {MANIFEST}) nor a checkout (no ontology/myeloma-kg.ttl)")
    return _from_revision(ref, settings, ref)


# -- comparing -------------------------------------------------------------------------------

@dataclass
class EntityChange:
    entity: str
    kind: str
    heading: str
    order: int
    label: str
    status: str  # "added", "removed" or "changed"
    changes: list[dict[str, Any]] = field(default_factory=list)  # {aspect, property, added, removed}

    def as_json(self) -> dict[str, Any]:
        return {"entity": self.entity, "kind": self.kind, "label": self.label, "status": self.status,
                "changes": self.changes}


def _aspects(store: ox.Store, text: str) -> dict[str, dict[str, Any]]:
    entities: dict[str, dict[str, Any]] = {}
    for row in store.query(text, prefixes=PREFIXES):
        iri = row["entity"].value
        order = int(row["order"].value)
        item = entities.setdefault(iri, {"label": row["label"].value, "kind": row["kind"].value,
                                         "heading": row["heading"].value, "order": order, "values": {}})
        if order < item["order"]:  # an entity of several kinds is reported under the first
            item.update(kind=row["kind"].value, heading=row["heading"].value, order=order)
        key = (row["property"].value, row["aspect"].value)
        item["values"].setdefault(key, {})[str(row["value"])] = row["shown"].value
    return entities


def _compare(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> list[EntityChange]:
    found = []
    for iri in sorted(set(old) | set(new)):
        before, after = old.get(iri), new.get(iri)
        item = after or before
        status = "added" if before is None else "removed" if after is None else "changed"
        was_values, now_values = (before or {}).get("values", {}), (after or {}).get("values", {})
        changes = []  # for an added or removed entity: all its values, so the diff says what it was
        for key in sorted(set(was_values) | set(now_values), key=lambda k: k[1]):
            was, now = was_values.get(key, {}), now_values.get(key, {})
            if set(was) == set(now):
                continue
            changes.append({"aspect": key[1], "property": key[0],
                            "removed": sorted(was[v] for v in set(was) - set(now)),
                            "added": sorted(now[v] for v in set(now) - set(was))})
        if changes or status != "changed":
            found.append(EntityChange(iri, item["kind"], item["heading"], item["order"], item["label"], status, changes))
    return sorted(found, key=lambda c: (c.order, _natural(c.label)))


def _natural(text: str) -> tuple:
    import re

    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text))


def _raw(old: ox.Store, new: ox.Store) -> tuple[list[str], list[str]]:
    """The triples added and removed, each a sorted list of N-Triples lines.

    Triples without a blank node are compared as they are.  The others are grouped into blank-node
    structures: the triples linked through shared blank nodes (a class expression, a list, a GRADE
    domain judgement with the triple that points at it).  Each structure is canonicalised on its
    own with RDFC-1.0, so a structure present on both sides matches however its blank nodes are
    labelled in the files and whatever else changed around it (canonicalising a whole graph at once
    would renumber the blank nodes of every structure when one is added).  A structure found on one
    side only is reported whole, its blank nodes named after the hash of its canonical form.
    """
    old_ground, old_blank = _split(old)
    new_ground, new_blank = _split(new)
    added = [_line(t) for t in new_ground - old_ground]
    removed = [_line(t) for t in old_ground - new_ground]
    was, now = _structures(old_blank), _structures(new_blank)
    for key in was.keys() | now.keys():
        before, after = was.get(key, []), now.get(key, [])
        # a structure that occurs several times (the same judgement stated twice) counts as often as it occurs
        for copy in range(len(after), len(before)):
            removed += _named(before[copy], key, copy)
        for copy in range(len(before), len(after)):
            added += _named(after[copy], key, copy)
    return sorted(added), sorted(removed)


def _has_blank(triple: ox.Triple) -> bool:
    return isinstance(triple.subject, ox.BlankNode) or isinstance(triple.object, ox.BlankNode)


def _split(store: ox.Store) -> tuple[set[ox.Triple], list[ox.Triple]]:
    """The triples without a blank node (a set), and those with one."""
    ground: set[ox.Triple] = set()
    blank: list[ox.Triple] = []
    for quad in store:
        triple = quad.triple
        if _has_blank(triple):
            blank.append(triple)
        else:
            ground.add(triple)
    return ground, blank


def _structures(triples: list[ox.Triple]) -> dict[str, list[list[ox.Triple]]]:
    """The blank-node structures of ``triples``, by their canonical form; each occurrence is its
    list of triples with the blank nodes named ``c14n0``, ``c14n1``... within the structure."""
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for t in triples:
        if isinstance(t.subject, ox.BlankNode) and isinstance(t.object, ox.BlankNode):
            a, b = root(t.subject.value), root(t.object.value)
            if a != b:
                parent[a] = b
    groups: dict[str, list[ox.Triple]] = {}
    for t in triples:
        node = t.subject if isinstance(t.subject, ox.BlankNode) else t.object
        groups.setdefault(root(node.value), []).append(t)
    found: dict[str, list[list[ox.Triple]]] = {}
    for group in groups.values():
        dataset = ox.Dataset(ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in group)
        dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
        canonical = sorted((q.triple for q in dataset), key=_line)
        found.setdefault("\n".join(_line(t) for t in canonical), []).append(canonical)
    return found


def _named(triples: list[ox.Triple], key: str, copy: int) -> list[str]:
    """The lines of one reported structure, its blank nodes labelled by the structure's hash (and
    by which copy it is, for a structure that occurs more than once)."""
    stem = "b" + hashlib.sha256(key.encode()).hexdigest()[:12] + (f"x{copy}" if copy else "") + "_"

    def term(node):
        return ox.BlankNode(stem + node.value) if isinstance(node, ox.BlankNode) else node

    return [_line(ox.Triple(term(t.subject), t.predicate, term(t.object))) for t in triples]


def _line(triple: ox.Triple) -> str:
    """N-Triples: one line per triple, each literal with its lexical form as written (escaped, so a
    literal with line breaks stays on one line)."""
    return f"{triple.subject} {triple.predicate} {triple.object} ."


@dataclass
class Diff:
    old: Side
    new: Side
    entities: list[EntityChange]
    added_triples: list[str]
    removed_triples: list[str]

    def for_entity(self, iri: str) -> EntityChange | None:
        return next((c for c in self.entities if c.entity == iri), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "from": {"name": self.old.name, "version": self.old.version, "contentHash": self.old.content_hash},
            "to": {"name": self.new.name, "version": self.new.version, "contentHash": self.new.content_hash},
            "entities": [c.as_json() for c in self.entities],
            "triples": {"added": self.added_triples, "removed": self.removed_triples},
        }

    def text(self) -> str:
        lines = [f"Changes from {self.old.version} ({self.old.name}) to {self.new.version} ({self.new.name})"]
        if not self.entities and not self.added_triples and not self.removed_triples:
            return lines[0] + "\n  no change"
        heading = None
        for change in self.entities:
            if change.heading != heading:
                heading = change.heading
                lines += ["", heading]
            lines.append(f"  {change.label} <{change.entity}>: {change.status}")
            for item in change.changes:
                lines.append(f"    {item['aspect']}: {describe(item)}")
        covered = {c.entity for c in self.entities}
        rest_added = [t for t in self.added_triples if not _about(t, covered)]
        rest_removed = [t for t in self.removed_triples if not _about(t, covered)]
        lines += ["", f"Triples: {len(self.added_triples)} added, {len(self.removed_triples)} removed"
                  f" ({len(rest_added)} and {len(rest_removed)} of them not about an entity listed above)"]
        lines += [f"  + {t}" for t in rest_added] + [f"  - {t}" for t in rest_removed]
        return "\n".join(lines)


def describe(item: dict[str, Any]) -> str:
    """One change of one property in words: "changed from X to Y", "added X", "removed Y"."""
    added, removed = item["added"], item["removed"]
    if len(added) == 1 and len(removed) == 1:
        return f"changed from {_quote(removed[0])} to {_quote(added[0])}"
    parts = []
    if added:
        parts.append("added " + ", ".join(_quote(v) for v in added))
    if removed:
        parts.append("removed " + ", ".join(_quote(v) for v in removed))
    return "; ".join(parts)


def _quote(value: str) -> str:
    return f'"{value}"' if " " in value or not value else value


def _about(triple: str, entities: set[str]) -> bool:
    return triple.startswith("<") and triple[1:triple.index(">")] in entities


def diff_sides(old: Side, new: Side, settings, cache: Path | None = None) -> Diff:
    """The diff of two sides.  With ``cache`` (a folder), the clinical aspects of each side and the
    raw difference of the two are kept there under the sides' content hashes (and the aspects
    query's hash), so that a later process, a restarted server's changelog, reads them instead of
    computing them again; two sides with the same content hashes have the same triples."""
    text = catalog_of(settings.queries_dir).program_query("diff", "aspects").text
    query_key = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    for side in (old, new):
        if text not in side.aspects:
            side.aspects[text] = _cached(cache, f"aspects-{query_key}-{_key(side)}", lambda s=side: _aspects(s.store, text),
                                         _aspects_to_json, _aspects_from_json, side.content_hash)
    added, removed = _cached(cache, f"raw-{_key(old)}-{_key(new)}", lambda: _raw(old.store, new.store),
                             list, tuple, old.content_hash and new.content_hash)
    return Diff(old, new, _compare(old.aspects[text], new.aspects[text]), added, removed)


def _key(side: Side) -> str:
    return (side.content_hash or "none").replace("sha256:", "")[:32]


def _cached(folder: Path | None, name: str, compute, to_json, from_json, usable):
    """``compute()``, or what an earlier run kept in ``folder`` under ``name``; a cache that cannot
    be read or written is no error (the value is computed)."""
    if folder is None or not usable:
        return compute()
    path = folder / f"{name}.json"
    try:
        return from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError):
        pass
    value = compute()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.part")
        partial.write_text(json.dumps(to_json(value)), encoding="utf-8")
        partial.replace(path)  # whole or not at all, whatever another process does at the same time
    except OSError:
        pass
    return value


def _aspects_to_json(entities: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {iri: dict(item, values=[[p, a, shown] for (p, a), shown in item["values"].items()])
            for iri, item in entities.items()}


def _aspects_from_json(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {iri: dict(item, values={(p, a): shown for p, a, shown in item["values"]}) for iri, item in data.items()}


def diff(old_ref: str, new_ref: str, settings) -> Diff:
    return diff_sides(open_side(old_ref, settings), open_side(new_ref, settings), settings)


__all__ = ["Diff", "EntityChange", "Side", "describe", "diff", "diff_sides", "open_side"]
