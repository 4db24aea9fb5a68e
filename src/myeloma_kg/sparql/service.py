"""Read-only SPARQL evaluation for the public endpoint, bounded in time, rows and reach.

Queries run in worker processes, each holding its own copy of the graph (a pyoxigraph store of
the exported quads).  A query that runs past the time limit has its worker killed and replaced,
so it is truly stopped while the other workers keep answering.

In the worker, ``guard.check_query`` first parses the query (under the same time limit, as
the parser can be slow on odd text) and refuses updates, SERVICE and text it cannot read; the
graphs it names (FROM / FROM NAMED, default-graph-uri / named-graph-uri) must be graphs this
store holds.  With a remote store, the workers only check, hold no graph, and the checked query
is then sent to the store.  As a second wall, on Linux each worker runs
under a seccomp filter that refuses to create IPv4 and IPv6 sockets, so even a query the checker
misjudged could not open a connection to another server.

The dataset is the one the SPARQL 1.1 Protocol describes: the protocol's default-graph-uri and
named-graph-uri when the request has either (they override the query's own), else the query's
FROM and FROM NAMED, else the endpoint's default: the union of the graphs as the default graph
and every graph as a named graph.  Relative IRIs are resolved against the base IRI the caller
gives (the endpoint's URL).

Runaway queries cannot take every worker: a query still running after ``Limits.short_s`` counts
as long, and at most ``workers - 1`` long queries run at once; one more is stopped at that point
(503), so one worker is always soon free for the short queries most clients send.

Each query is evaluated once: the engine writes a SELECT's rows as TSV into a counter that stops
it once the row limit is passed, and the engine turns that TSV into the format asked for.  The
graph is loaded once, in the server, and the forked workers share that copy.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import re
import sys
import threading
import time
from dataclasses import dataclass, field

import pyoxigraph as ox

from ..errors import MyelomaKGError, SparqlRequestError
from ..formats import RESULT_FORMATS, TRIPLE_FORMATS
from ..namespaces import PREFIXES
from ..workers import next_job
from .guard import CheckedQuery, check_query
from .memo import BoundedMemo, digest, rememberable

RESULT_TYPES = {f.media_type: f.oxigraph for f in RESULT_FORMATS.values()}  # SELECT and ASK answers
GRAPH_TYPES = {f.media_type: f.oxigraph for f in TRIPLE_FORMATS.values()}  # CONSTRUCT and DESCRIBE answers
FAST_MEMORY = 2048  # query texts remembered as fast (at most; see memo.py for the bounds on their size)
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 10.0
    max_rows: int = 10000
    short_s: float = 0.25  # a query still running after this long counts as long
    fast_s: float = 0.01  # a query a worker evaluated within this may run in the server next time



# -- worker side ---------------------------------------------------------------------------

def forbid_network() -> bool:
    """Refuse, for the rest of this process's life, to create IPv4 or IPv6 sockets.

    Uses a seccomp filter (Linux, through libseccomp); returns False where that is not
    available, so the parser check is then the only wall.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        import errno
        import socket

        import pyseccomp as seccomp
    except (ImportError, OSError):  # no libseccomp on this machine
        return False
    try:
        rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        for family in (socket.AF_INET, socket.AF_INET6):
            rules.add_rule(seccomp.ERRNO(errno.EACCES), "socket", seccomp.Arg(0, seccomp.EQ, family))
        rules.load()
    except Exception:  # a kernel or container that refuses filters
        return False
    return True


@dataclass(frozen=True)
class Dataset:
    """The RDF dataset a query runs on: graph IRIs, or None for the endpoint's default."""

    default: tuple[str, ...] | None = None  # merged into the default graph; None: the union of every graph
    named: tuple[str, ...] | None = None  # the named graphs; None: every graph

    @property
    def graphs(self) -> tuple[str, ...]:
        return (self.default or ()) + (self.named or ())


def dataset_of(checked: CheckedQuery, default_graphs=(), named_graphs=()) -> Dataset:
    """The dataset of a query: the protocol's parameters if the request has either, else the
    query's FROM / FROM NAMED, else the endpoint's default (SPARQL 1.1 Protocol, 2.1.4)."""
    if default_graphs or named_graphs:
        return Dataset(tuple(dict.fromkeys(default_graphs)), tuple(dict.fromkeys(named_graphs)))
    if checked.own_dataset:
        return Dataset(checked.from_graphs, checked.from_named)
    return Dataset()


@dataclass(frozen=True)
class Job:
    """One request for a worker: check the text, and (``run``) evaluate it."""

    text: str
    results_media: str | None  # the answer's type if it is a SELECT or ASK; None: none fits Accept
    graph_media: str | None  # the same for CONSTRUCT and DESCRIBE
    default_graphs: tuple[str, ...] = ()  # the protocol's default-graph-uri
    named_graphs: tuple[str, ...] = ()  # the protocol's named-graph-uri
    max_rows: int = 10000
    run: bool = True  # False: only check (the query then goes to a remote store)
    base: str | None = None  # the base IRI of relative IRIs


@dataclass(frozen=True)
class Outcome:
    """What a worker sends back: the checked query's form, and its answer (``body`` None for a
    check only)."""

    form: str
    media: str
    body: bytes | None
    rows: int
    variables: list[str] = field(default_factory=list)
    seconds: float = 0.0  # how long the evaluation took
    dataset: Dataset = Dataset()
    own_dataset: bool = False  # the query has FROM or FROM NAMED
    own_base: bool = False  # the query has a BASE declaration


def _worker_main(conn, store: ox.Store, graphs: frozenset[str]) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the server, which stops its workers
    server = os.getppid()
    forbid_network()
    conn.send(("ready", None))
    while (job := next_job(conn, server)) is not None:
        try:
            conn.send(("ok", handle(store, graphs, job)))
        except SparqlRequestError as exc:
            conn.send(("refused", (exc.status, str(exc))))
        except Exception as exc:  # every failure goes back to the server as a message, in words
            conn.send(("refused", (400, f"the query could not be answered: {_words(exc)}")))


def handle(store: ox.Store, graphs: frozenset[str], job: Job) -> Outcome:
    """Check a query (parsing it here, under the worker's time limit) and evaluate it."""
    checked = check_query(job.text, job.base)
    for graph in dict.fromkeys(job.default_graphs + job.named_graphs + checked.graphs):
        if graph not in graphs:
            raise SparqlRequestError(
                400, f"the graph <{graph}> is not in this store; its graphs are: {', '.join(sorted(graphs))}")
    dataset = dataset_of(checked, job.default_graphs, job.named_graphs)
    answers_rows = checked.form in ("SELECT", "ASK")
    media = job.results_media if answers_rows else job.graph_media
    if media is None:
        offered = RESULT_TYPES if answers_rows else GRAPH_TYPES
        raise SparqlRequestError(406, f"no result format fits the Accept header; this query can answer as {', '.join(offered)}")
    own = dict(own_dataset=checked.own_dataset, own_base=checked.own_base)
    if not job.run:
        return Outcome(checked.form, media, None, 0, dataset=dataset, **own)
    started = time.perf_counter()
    body, rows, variables = evaluate(store, job.text, media, dataset, job.max_rows, job.base)
    return Outcome(checked.form, media, body, rows, variables, time.perf_counter() - started, dataset, **own)


def evaluate(store: ox.Store, text: str, media_type: str, dataset: Dataset, max_rows: int | None,
             base: str | None = None):
    """Run a checked query once; (body, rows, variables).  Refuses (400) past ``max_rows``.

    ``max_rows`` None: the text is known to stay within the limit on this store (it ran to the end
    in a worker, and the store is read-only), so a SELECT is written straight in the media type
    asked for, without counting its rows (rows is then -1).
    """
    kwargs: dict = {"prefixes": PREFIXES}
    if base:
        kwargs["base_iri"] = base
    # The dataset is always stated, so the query's own FROM / FROM NAMED never stand beside it.
    if dataset.default is None:
        kwargs["use_default_graph_as_union"] = True
    else:
        kwargs["default_graph"] = [ox.NamedNode(g) for g in dataset.default]
    if dataset.named is not None:
        kwargs["named_graphs"] = [ox.NamedNode(g) for g in dataset.named]
    try:
        result = store.query(text, **kwargs)
    except SyntaxError as exc:
        raise SparqlRequestError(400, engine_refusal(str(exc))) from None
    if isinstance(result, ox.QuerySolutions):
        variables = [v.value for v in result.variables]
        if max_rows is None:
            return _written(lambda: result.serialize(format=RESULT_TYPES[media_type]), media_type), -1, variables
        counter = _RowCounter(max_rows)
        try:
            result.serialize(counter, format=ox.QueryResultsFormat.TSV)
        except _TooManyRows:
            raise SparqlRequestError(400, f"the result has more than {max_rows} rows; add a LIMIT") from None
        except (OSError, ValueError) as exc:  # an error while evaluating (the engine reports it here)
            raise SparqlRequestError(400, f"the query could not be evaluated: {_words(exc)}") from None
        tsv, rows = counter.value(), counter.lines - 1
        if media_type == "text/tab-separated-values":
            return tsv, rows, variables
        body = _written(lambda: ox.parse_query_results(tsv, format=ox.QueryResultsFormat.TSV).serialize(
            format=RESULT_TYPES[media_type]), media_type)
        return body, rows, variables
    if isinstance(result, ox.QueryBoolean):
        return result.serialize(format=RESULT_TYPES[media_type]), 1, []
    triples = []
    try:
        for triple in result:
            if max_rows is not None and len(triples) >= max_rows:
                raise SparqlRequestError(400, f"the result has more than {max_rows} triples; add a LIMIT")
            triples.append(triple)
    except (OSError, ValueError) as exc:
        raise SparqlRequestError(400, f"the query could not be evaluated: {_words(exc)}") from None
    prefixes = None if media_type == "application/n-triples" else PREFIXES
    return _written(lambda: ox.serialize(triples, format=GRAPH_TYPES[media_type], prefixes=prefixes),
                    media_type), len(triples), []


def _written(write, media_type: str) -> bytes:
    try:
        return write()
    except (OSError, ValueError, SyntaxError) as exc:
        raise SparqlRequestError(
            406, f"the answer cannot be written as {media_type}: {_words(exc)}; ask for another format") from None


# -- messages -------------------------------------------------------------------------------

_ENGINE_ERROR = re.compile(r"^error at (\d+):(\d+): expected (?:one of )?(.*)$", re.DOTALL)


def engine_refusal(message: str) -> str:
    """The engine's parse error in words: where it is, and what the engine says is wrong there.

    The engine lists what it expected at that point: grammar tokens, character classes and a
    few sentences of its own ("The SELECT contains a variable that is unbound"); the sentences
    and the plain tokens are kept, the character classes left out.
    """
    match = _ENGINE_ERROR.match(message.strip())
    if match is None:
        return f"the query engine cannot run the query: {_first_line(message)}"
    line, column, expected = match.groups()
    where = f"the query engine cannot read the query at line {line}, column {column}"
    items = [item.strip() for item in re.split(r",\s*(?![^\[]*\])", expected.replace("\n", " ")) if item.strip()]
    reasons = [item for item in items if " " in item and not item.startswith(("[", "'", '"'))]
    if reasons:
        return f"{where}: {'; '.join(r[0].lower() + r[1:] for r in reasons)}"
    tokens = [item for item in items if not item.startswith("[")]
    if tokens and len(", ".join(tokens)) <= 120:
        return f"{where}: it expected {' or '.join(tokens) if len(tokens) < 3 else 'one of ' + ', '.join(tokens)} there"
    return where


def _words(exc: BaseException) -> str:
    """An exception's message without its class name (and without a class name some libraries
    put in front of the message)."""
    text = _first_line(str(exc)) or "no detail"
    return re.sub(r"^[A-Z][A-Za-z]*(?:Error|Exception|Warning)\s*:\s*", "", text)


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0][:500] if lines else ""


class _TooManyRows(Exception):
    pass


class _RowCounter:
    """A file for the engine's TSV writer that counts rows (one a line: TSV escapes line breaks
    inside terms) and stops the writing as soon as there are more than ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit, self.lines, self.parts = limit, 0, []

    def write(self, data) -> int:
        self.lines += data.count(b"\n")
        if self.lines > self.limit + 1:  # the header is a line too
            raise _TooManyRows
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def value(self) -> bytes:
        return b"".join(self.parts)


def serialize_solutions(variables: list[str], rows: list, media_type: str) -> bytes:
    """Rows already read, in a SPARQL results format.

    The JSON form (SPARQL 1.1 Query Results JSON) is written here; the engine turns it into the
    other formats, so each is written by the engine's own serialiser from the same rows.
    """
    bindings = []
    for solution in rows:
        row = {}
        for name in variables:
            term = solution[name]
            if term is not None:
                row[name] = _json_term(term)
        bindings.append(row)
    body = json.dumps({"head": {"vars": variables}, "results": {"bindings": bindings}},
                      ensure_ascii=False, separators=(",", ":")).encode()
    if media_type == "application/sparql-results+json":
        return body
    parsed = ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)
    return parsed.serialize(format=RESULT_TYPES[media_type])


def _json_term(term) -> dict:
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        out = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value not in (XSD_STRING, RDF_LANG_STRING):
            out["datatype"] = term.datatype.value
        return out
    if isinstance(term, ox.Triple):
        return {"type": "triple", "value": {"subject": _json_term(term.subject),
                                            "predicate": _json_term(term.predicate),
                                            "object": _json_term(term.object)}}
    raise TypeError(f"not an RDF term: {term!r}")


# -- server side ---------------------------------------------------------------------------

class _Worker:
    def __init__(self, context, store: ox.Store, graphs: frozenset[str]) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, store, graphs), daemon=True)
        self.process.start()
        child.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


def _fast_key(text: str, base: str | None, default_graphs: tuple, named_graphs: tuple) -> bytes | None:
    """The key a query is remembered under, or None for a text too long to remember."""
    if not rememberable(text):
        return None
    return digest(text, base, default_graphs, named_graphs)


class SparqlService:
    """A pool of query worker processes over a snapshot of the graph."""

    def __init__(self, nquads: bytes, graphs: list[str], limits: Limits, workers: int = 2, remote=None) -> None:
        # One copy of the graph, loaded here and shared with every forked worker (copy on write:
        # the workers only read it).
        self.store = ox.Store()
        if nquads:
            self.store.load(nquads, format=ox.RdfFormat.N_QUADS)
        self.graphs = set(graphs)
        self.limits = limits
        self.remote = remote  # a RemoteStore: queries go to the triple store instead of local workers
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._long = 0  # queries running past limits.short_s now
        # digest of (text, base, protocol dataset) -> (form, rows, dataset), see _run_here
        self._fast: BoundedMemo[tuple[str, int, Dataset]] = BoundedMemo(
            max_entries=FAST_MEMORY, max_bytes=2 * 1024 * 1024, max_entry_bytes=16 * 1024)
        self._here = threading.Lock()  # held while a query runs in the server
        self.max_long = max(1, workers - 1)
        # Load and warm the parser here, once: forked workers inherit it, so a fresh worker's first
        # query is not slowed by imports (which would make it count as long).
        check_query("SELECT * WHERE { ?s ?p ?o FILTER(?o > 1) OPTIONAL { ?s a ?t } } ORDER BY ?s LIMIT 1")
        self._context = multiprocessing.get_context("fork")  # the workers inherit the loaded store
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._size = max(1, workers)
        self._started = False  # the workers start with the first query, or with start()

    def start(self) -> None:
        """Start the worker processes, unless they run already (``serve`` calls this before it
        listens, so the first query does not wait for them)."""
        with self._lock:
            if self._started:
                return
            self._started = True
            started = [self._start_worker_locked() for _ in range(self._size)]
        for worker in started:
            self._admit(worker)

    def _start_worker(self) -> _Worker:
        with self._lock:
            return self._start_worker_locked()

    def _start_worker_locked(self) -> _Worker:
        worker = _Worker(self._context, self.store, frozenset(self.graphs))
        self._all.append(worker)
        return worker

    def _admit(self, worker: _Worker) -> None:
        """Put a started worker into the pool once it has loaded the graph."""
        try:
            ready = worker.conn.poll(60) and worker.conn.recv()[0] == "ready"
        except (EOFError, OSError):
            ready = False
        if ready:
            self._idle.put(worker)
        else:  # pragma: no cover - a worker that cannot load the graph
            worker.kill()

    def _add_worker(self) -> None:
        """Start a worker in the background: it joins the pool when it is ready."""
        worker = self._start_worker()
        threading.Thread(target=self._admit, args=(worker,), daemon=True).start()

    def _replace(self, worker: _Worker) -> None:
        """Kill a worker (stopping its query) and start a fresh one in its place."""
        worker.kill()
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
        self._add_worker()

    def close(self) -> None:
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            worker.kill()

    def run(self, text: str, results_media: str | None, graph_media: str | None,
            default_graphs=(), named_graphs=(), base: str | None = None) -> tuple[str, bytes, int, list[str]]:
        """Check and evaluate a query in a worker; (media type, body, rows, variables).

        ``results_media`` and ``graph_media`` are the answer's media type for each kind of query
        (None: nothing fits the client's Accept), since the kind is known only once it is parsed.
        ``default_graphs`` and ``named_graphs`` are the protocol's dataset parameters; ``base`` is
        the IRI relative IRIs are resolved against.
        """
        default_graphs, named_graphs = tuple(default_graphs), tuple(named_graphs)
        if base is not None:
            try:
                ox.NamedNode(base)
            except ValueError:
                raise SparqlRequestError(400, f"the base IRI {base!r} is not a valid IRI") from None
        key = _fast_key(text, base, default_graphs, named_graphs)
        known = self._fast.get(key) if key is not None else None
        # One query at a time runs here (the engine holds the interpreter while it runs); when
        # another thread is already at it, the worker processes answer in parallel instead.
        if known is not None and self._here.acquire(blocking=False):
            try:
                return self._run_here(known, results_media, graph_media, text, base)
            finally:
                self._here.release()
        job = Job(text, results_media, graph_media, default_graphs, named_graphs, self.limits.max_rows,
                  run=self.remote is None, base=base)
        self.start()
        started = time.monotonic()
        try:
            worker = self._idle.get(timeout=self.limits.timeout_s)
        except queue.Empty:
            raise SparqlRequestError(503, "the server is busy; try again in a moment") from None
        try:
            outcome: Outcome = self._run_on(worker, started, job)
        except (OSError, EOFError):  # the worker died (killed from outside, out of memory, ...)
            self._replace(worker)
            raise SparqlRequestError(503, "the query worker stopped unexpectedly; try again in a moment") from None
        if self.remote is not None:
            body, rows, variables = self._run_remote(text, outcome, base, protocol=bool(default_graphs or named_graphs))
            return outcome.media, body, rows, variables
        if key is not None and outcome.seconds < self.limits.fast_s:
            size = 120 + sum(60 + len(g) for g in outcome.dataset.graphs)
            self._fast.put(key, (outcome.form, outcome.rows, outcome.dataset), size)
        return outcome.media, outcome.body or b"", outcome.rows, outcome.variables

    # A query that a sandboxed worker has already checked and answered quickly may run here, in
    # the server, without the round trip: the graph is read-only, so the same text on it costs
    # the same again, and a text only gets here after it ran to completion in a worker, where
    # the network filter holds (a SERVICE there fails, so it is never remembered as fast).

    def known_form(self, text: str, base: str | None = None) -> str | None:
        """The form of a query text known to be fast, asked without dataset parameters."""
        key = _fast_key(text, base, (), ())
        known = self._fast.get(key) if key is not None else None
        return known[0] if known else None

    def _run_here(self, known: tuple[str, int, Dataset], results_media, graph_media, text: str,
                  base: str | None) -> tuple[str, bytes, int, list[str]]:
        form, rows, dataset = known
        media = results_media if form in ("SELECT", "ASK") else graph_media
        if media is None:
            offered = RESULT_TYPES if form in ("SELECT", "ASK") else GRAPH_TYPES
            raise SparqlRequestError(406, f"no result format fits the Accept header; this query can answer as {', '.join(offered)}")
        # within the row limit: it ran to the end in a worker on this same read-only store
        body, _uncounted, variables = evaluate(self.store, text, media, dataset, None, base)
        return media, body, rows, variables

    def _run_on(self, worker: _Worker, started: float, job: Job) -> tuple:
        worker.conn.send(job)
        if not worker.conn.poll(min(self.limits.short_s, self.limits.timeout_s)):
            with self._lock:
                admitted = self._long < self.max_long
                if admitted:
                    self._long += 1
            if not admitted:
                self._replace(worker)
                raise SparqlRequestError(
                    503, f"the server is already running {self.max_long} long queries; this one was stopped so that "
                         "short queries stay fast: try again in a moment, or narrow it")
            try:
                remaining = max(0.0, self.limits.timeout_s - (time.monotonic() - started))
                finished = worker.conn.poll(remaining)
            finally:
                with self._lock:
                    self._long -= 1
            if not finished:
                self._replace(worker)
                raise SparqlRequestError(
                    503, f"the query was stopped after the time limit of {self.limits.timeout_s:g} s; narrow it or add a LIMIT")
        status, payload = worker.conn.recv()
        self._idle.put(worker)
        if status == "refused":
            raise SparqlRequestError(*payload)
        return payload

    def _run_remote(self, text: str, outcome: Outcome, base: str | None, protocol: bool):
        """Send the (already checked) query to the remote store and serialise its answer here.

        The dataset goes as the protocol's parameters.  Some stores merge those with the query's
        own FROM clauses instead of letting them override, so when the request names a dataset
        and the query names another, the query is sent without its FROM clauses; the shortened
        text is checked to be the same query otherwise.  A relative IRI is resolved against the
        endpoint's own base, sent as a BASE declaration; a query that declares a BASE of its own
        has its declarations made absolute instead (some stores refuse a second BASE, or a
        relative one), again checked to be the same query.
        """
        from ..errors import StoreError
        from .rewrite import with_absolute_prologue, without_dataset

        media_type = outcome.media
        if protocol and outcome.own_dataset:
            shortened = without_dataset(text, base)
            if shortened is None:
                raise SparqlRequestError(
                    400, "this query names its own dataset (FROM / FROM NAMED) and the request names another "
                         "(default-graph-uri / named-graph-uri); the triple store behind this endpoint cannot be "
                         "given both: send only one of them")
            text = shortened
        if outcome.own_base and base:
            resolved = with_absolute_prologue(text, base)
            if resolved is None:
                raise SparqlRequestError(
                    400, "this query's BASE or PREFIX declarations could not be made absolute for the triple store "
                         "behind this endpoint; write them as absolute IRIs")
            text = resolved
        try:
            result = self.remote.query_dataset(text, outcome.form, outcome.dataset.default, outcome.dataset.named,
                                               base=None if outcome.own_base else base)
        except StoreError as exc:
            raise SparqlRequestError(503, str(exc)) from None
        except MyelomaKGError as exc:
            raise SparqlRequestError(400, str(exc)) from None
        limit = self.limits.max_rows
        if isinstance(result, list):
            if len(result) > limit:
                raise SparqlRequestError(400, f"the result has more than {limit} triples; add a LIMIT")
            prefixes = None if media_type == "application/n-triples" else PREFIXES
            return ox.serialize(result, format=GRAPH_TYPES[media_type], prefixes=prefixes), len(result), []
        if isinstance(result, ox.QueryBoolean):
            return result.serialize(format=RESULT_TYPES[media_type]), 1, []
        variables = [v.value for v in result.variables]
        rows = []
        for solution in result:
            if len(rows) >= limit:
                raise SparqlRequestError(400, f"the result has more than {limit} rows; add a LIMIT")
            rows.append(solution)
        return serialize_solutions(variables, rows, media_type), len(rows), variables
