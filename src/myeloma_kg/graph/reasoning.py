"""OWL 2 DL reasoning with owlready2 and HermiT.

The reasoner checks the ontology and content for consistency and classifies them; what it adds
(class memberships such as ``mkg:AntiCD38Regimen``, inferred subclass links and property values)
becomes the ``inferred`` named graph.  The result, consistent or not, is cached on disk, keyed by
a hash of the source files (and ``REASONER_VERSION``), so it is computed once per change of the
files, never per request.

HermiT does not accept ``xsd:date`` (it is not in the OWL 2 datatype map), so triples with dates
are left out of what it reads; they carry no logic.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from ..config import shipped_home
from ..errors import ReasonerError
from ..namespaces import ONTOLOGY_IRI
from ..queries import catalog_of
from .store import KnowledgeGraph

XSD_DATE = "http://www.w3.org/2001/XMLSchema#date"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
RDFS_SUBCLASS = RDFS + "subClassOf"
OWL = "http://www.w3.org/2002/07/owl#"
_OWL_SYNTAX = ("http://www.w3.org/1999/02/22-rdf-syntax-ns#", RDFS, OWL)  # the predicates of class expressions
_IGNORED_TYPES = {OWL + "Thing", OWL + "NamedIndividual", OWL + "Nothing"}
REASONER_VERSION = "hermit-3"
# Where a wheel keeps the reasoner's result for the content it ships (scripts/ship_classification.py
# writes it before the wheel is built), so that an installed program needs no Java for that content.
SHIPPED_FOLDER = "reasoned"


@dataclass
class ReasoningResult:
    consistent: bool
    unsatisfiable: list[str] = field(default_factory=list)
    inferred: list[ox.Triple] = field(default_factory=list)
    seconds: float = 0.0
    cached: bool = False
    message: str = ""
    how: str = "ran"  # "ran" HermiT, "cached" (these files), or "reused" (other files, the same logical content)

    def describe(self) -> str:
        """How the classification was had, in words (``check`` prints it)."""
        return {"cached": "the cached classification of these files",
                "reused": "the classification of the same content: what changed is nothing the reasoner reads "
                          "(labels, notes, figures), so it was not run again"}.get(self.how, f"HermiT ran ({self.seconds:.1f} s)")


def reasoner_input(kg: KnowledgeGraph) -> bytes:
    """The asserted triples as N-Triples, without what HermiT cannot read or does not need.

    Dates go (HermiT rejects ``xsd:date``), and so do annotation assertions (labels, definitions,
    notes), which carry no logic, and property values of blank nodes outside class expressions.
    Literal values of individuals go too, except for the datatype
    properties that a class definition of the ontology uses (such as ``mkg:randomized`` for
    ``mkg:RandomizedTrial``): HermiT's datatype reasoning over the few thousand reported figures
    took about ten times as long as everything else, and the datatypes of those values are
    checked by ``queries/checks/datatype-range-violation.rq`` instead.
    """
    used_in_definitions = {
        row["p"]
        for row in kg.select(catalog_of(shipped_home() / "queries").program_query(
            "graph", "datatype-properties-in-definitions").text)
    }
    annotation = {
        t.subject.value
        for t in kg.triples()
        if t.predicate.value == RDF_TYPE and t.object.value == OWL + "AnnotationProperty"
    } | {RDFS + "label", RDFS + "comment"}
    keep = []
    for triple in kg.triples():
        if triple.predicate.value in annotation:
            continue
        obj = triple.object
        if isinstance(obj, ox.Literal) and obj.datatype.value == XSD_DATE:
            continue
        if (
            isinstance(obj, ox.Literal)
            and not triple.subject.value.startswith(ONTOLOGY_IRI)
            and triple.predicate.value not in used_in_definitions
        ):
            continue
        if isinstance(obj, ox.NamedNode) and obj.value == XSD_DATE:
            continue
        touches_blank = isinstance(obj, ox.BlankNode) or isinstance(triple.subject, ox.BlankNode)
        if touches_blank and not triple.predicate.value.startswith(_OWL_SYNTAX):
            continue  # a property value of an anonymous node (a GRADE domain judgement): no logic, and owlready2 fails on it
        keep.append(triple)
    return ox.serialize(keep, format=ox.RdfFormat.N_TRIPLES)


def shipped_dir() -> Path:
    """The folder of the reasoner's results that came with the program (empty in a checkout)."""
    return shipped_home() / SHIPPED_FOLDER


def cache_key(kg: KnowledgeGraph) -> str:
    """The name under which the reasoner's result for this graph's files is kept."""
    return hashlib.sha256((REASONER_VERSION + kg.digest).encode()).hexdigest()[:32]


def input_key(ntriples: bytes) -> str:
    """A key for what the reasoner reads, whatever files it came from: the reasoner's input with
    canonical blank-node names (RDFC-1.0), hashed.  Two graphs that differ only in what the reasoner
    does not read (labels, notes, reported figures) have the same key."""
    dataset = ox.Dataset([ox.Quad(q.subject, q.predicate, q.object)
                          for q in ox.parse(ntriples, format=ox.RdfFormat.N_TRIPLES)])
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    lines = sorted(str(quad) for quad in dataset)
    return hashlib.sha256((REASONER_VERSION + "\n" + "\n".join(lines)).encode()).hexdigest()[:32]


def _cached(path: Path | None, how: str) -> ReasoningResult | None:
    if path is None or not path.is_file():
        return None
    return ReasoningResult(consistent=True, inferred=list(ox.parse(path=str(path), format=ox.RdfFormat.N_TRIPLES)),
                           cached=True, how=how)


def reason(kg: KnowledgeGraph, cache_dir: Path | None = None) -> ReasoningResult:
    """Classify the graph (or read the cached classification) and return what the reasoner adds."""
    # The key is the hash of the source files (blank-node labels make the serialised input
    # differ from one load to the next, so it cannot be hashed itself).
    # An inconsistent or unsatisfiable result is kept too (in ``failed-<key>.json``), so checking
    # the same broken content again does not start HermiT again.
    # Then, for other files, the key of what the reasoner reads: a draft that changes only labels,
    # notes or figures gets the classification it already has, without HermiT.
    key = cache_key(kg)
    cache_file = cache_dir / f"inferred-{key}.nt" if cache_dir is not None and kg.digest else None
    failed_file = cache_dir / f"failed-{key}.json" if cache_file is not None else None
    shipped = shipped_dir() / f"inferred-{key}.nt" if kg.digest else None  # a wheel's own content
    found = _cached(cache_file, "cached") or _cached(shipped, "cached")
    if found is not None:
        return found
    if failed_file is not None and failed_file.is_file():
        known = _read_failure(failed_file)
        if known is not None:
            return known
    ntriples = reasoner_input(kg)
    same = f"inferred-input-{input_key(ntriples)}.nt"
    same_file = cache_dir / same if cache_dir is not None else None
    found = _cached(same_file, "reused") or _cached(shipped_dir() / same, "reused")
    if found is not None:
        if cache_file is not None:
            _write_atomically(cache_file, ox.serialize(found.inferred, format=ox.RdfFormat.N_TRIPLES))
        return found
    result = run_hermit(ntriples)
    if result.consistent and same_file is not None:
        _write_atomically(same_file, ox.serialize(result.inferred, format=ox.RdfFormat.N_TRIPLES))
    if cache_file is not None:
        if result.consistent:
            _write_atomically(cache_file, ox.serialize(result.inferred, format=ox.RdfFormat.N_TRIPLES))
        else:
            failure = {"message": result.message, "unsatisfiable": result.unsatisfiable,
                       "inferred": ox.serialize(result.inferred, format=ox.RdfFormat.N_TRIPLES).decode()}
            _write_atomically(failed_file, json.dumps(failure, indent=1).encode())
    return result


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _read_failure(path: Path) -> ReasoningResult | None:
    """A cached failed result, as the reasoner gave it; None when the file cannot be read (then the
    reasoner runs again and the file is written anew)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        inferred = [q.triple for q in ox.parse(data["inferred"].encode(), format=ox.RdfFormat.N_TRIPLES)]
        unsatisfiable = [str(iri) for iri in data["unsatisfiable"]]
        message = str(data["message"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, SyntaxError):
        return None
    return ReasoningResult(consistent=False, unsatisfiable=unsatisfiable, inferred=inferred, cached=True,
                           message=message)


def materialise(kg: KnowledgeGraph, cache_dir: Path | None = None) -> ReasoningResult:
    """Reason and write the result into the store's ``inferred`` graph."""
    result = reason(kg, cache_dir)
    if not result.consistent:
        raise ReasonerError(result.message)
    kg.set_inferred(result.inferred)
    return result


def run_hermit(ntriples: bytes) -> ReasoningResult:
    """Run HermiT through owlready2 on N-Triples and collect the entailed named-class facts."""
    try:
        import owlready2
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise ReasonerError(f"owlready2 is not installed: {exc}") from exc
    if shutil.which(getattr(owlready2, "JAVA_EXE", None) or "java") is None:
        raise ReasonerError("the OWL reasoner needs Java (a JRE 11 or newer) on the PATH: the content differs "
                            "from the classification shipped with the program (edited or added files), so it must "
                            "be classified again")
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="myeloma-kg-reason-"))
    try:
        source = workdir / "input.nt"
        source.write_bytes(ntriples)
        world = owlready2.World()
        try:
            world.get_ontology(source.as_uri()).load(format="ntriples")
        except Exception as exc:  # owlready2 raises many kinds of parse errors
            raise ReasonerError(f"the reasoner could not read the graph: {exc}") from exc
        asserted = {
            (t.subject.value, t.predicate.value, t.object.value)
            for t in ox.parse(ntriples, format=ox.RdfFormat.N_TRIPLES)
            if isinstance(t.object, ox.NamedNode) and isinstance(t.subject, ox.NamedNode)
        }
        try:
            with _quiet():
                owlready2.sync_reasoner_hermit(world, infer_property_values=True, debug=0)
        except owlready2.OwlReadyInconsistentOntologyError as exc:
            return ReasoningResult(
                consistent=False,
                seconds=time.perf_counter() - started,
                message=f"the ontology and content are inconsistent: {_first_line(exc)}",
            )
        except Exception as exc:
            raise ReasonerError(f"HermiT failed: {_first_line(exc)}") from exc
        unsatisfiable = sorted(c.iri for c in world.inconsistent_classes() if hasattr(c, "iri"))
        subjects = {t[0] for t in asserted if t[1] == RDF_TYPE}
        after = _named_facts(world, subjects)
        added = sorted(after - asserted)
        triples = [
            ox.Triple(ox.NamedNode(s), ox.NamedNode(p), ox.NamedNode(o)) for s, p, o in added
        ]
        return ReasoningResult(
            consistent=not unsatisfiable,
            unsatisfiable=unsatisfiable,
            inferred=triples,
            seconds=time.perf_counter() - started,
            message="unsatisfiable classes: " + ", ".join(unsatisfiable) if unsatisfiable else "",
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _named_facts(world, subjects: set[str]) -> set[tuple[str, str, str]]:
    """Type closure of individuals, subclass closure of classes, object property values.

    ``world.individuals()`` lists only individuals declared owl:NamedIndividual, so the
    individuals are found among the typed subjects of the input instead.
    """
    import owlready2

    facts: set[tuple[str, str, str]] = set()
    for iri in sorted(subjects):
        ind = world[iri]
        if not isinstance(ind, owlready2.Thing):
            continue
        for cls in ind.INDIRECT_is_a:
            iri = getattr(cls, "iri", None)
            if isinstance(cls, owlready2.ThingClass) and iri and iri not in _IGNORED_TYPES:
                facts.add((ind.iri, RDF_TYPE, iri))
    for cls in world.classes():
        for sup in cls.INDIRECT_is_a:
            iri = getattr(sup, "iri", None)
            if isinstance(sup, owlready2.ThingClass) and iri and sup is not cls and iri not in _IGNORED_TYPES:
                facts.add((cls.iri, RDFS_SUBCLASS, iri))
    for prop in world.object_properties():
        for subj, obj in prop.get_relations():
            s_iri, o_iri = getattr(subj, "iri", None), getattr(obj, "iri", None)
            if s_iri and o_iri:
                facts.add((s_iri, prop.iri, o_iri))
    return facts


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class _quiet:
    """Silence owlready2's prints to stdout/stderr while the reasoner runs."""

    def __enter__(self):
        import contextlib
        import io

        self._stack = contextlib.ExitStack()
        self._stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
        self._stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
        return self

    def __exit__(self, *exc):
        self._stack.close()
        return False
