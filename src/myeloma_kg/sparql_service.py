"""Read-only SPARQL evaluation for the public endpoint, bounded in time, rows and reach.

Queries run in worker processes, each holding its own copy of the graph (a pyoxigraph store of
the exported quads).  A query that runs past the time limit has its worker killed and replaced,
so it is truly stopped while the other workers keep answering.  Before a query reaches a worker
it is parsed and refused if it is an update, uses SERVICE, or names a graph (FROM / FROM NAMED /
default-graph-uri / named-graph-uri) the store does not hold.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import re
import threading
import time
from dataclasses import dataclass

import pyoxigraph as ox

from .errors import MyelomaKGError
from .namespaces import PREFIXES

RESULT_TYPES = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}
GRAPH_TYPES = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/ld+json": ox.RdfFormat.JSON_LD,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
}


class SparqlRequestError(MyelomaKGError):
    """The request is refused: ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 10.0
    max_rows: int = 10000


def query_form(text: str) -> str:
    """SELECT, ASK, CONSTRUCT or DESCRIBE; raises for updates, SERVICE and syntax errors."""
    stripped = re.sub(r"#[^\n]*", "", text)
    if re.search(r"\b(INSERT|DELETE|LOAD|CLEAR|CREATE|DROP|COPY|MOVE|ADD)\b\s", stripped, re.IGNORECASE) and not re.search(
            r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", stripped, re.IGNORECASE):
        raise SparqlRequestError(400, "this endpoint is read-only: SPARQL Update is not accepted")
    try:
        ox.Store().query(text, prefixes=PREFIXES)
    except SyntaxError as exc:
        if re.search(r"\b(INSERT|DELETE|LOAD|CLEAR|DROP)\b", stripped, re.IGNORECASE):
            raise SparqlRequestError(400, "this endpoint is read-only: SPARQL Update is not accepted") from None
        raise SparqlRequestError(400, f"the query does not parse: {exc}") from None
    except (RuntimeError, OSError):
        pass  # evaluation errors on the empty store do not matter here
    if re.search(r"\bSERVICE\b", stripped, re.IGNORECASE):
        raise SparqlRequestError(400, "SERVICE is not allowed: this endpoint never fetches from other servers")
    match = re.search(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", stripped, re.IGNORECASE)
    return match.group(1).upper() if match else "SELECT"


def from_graphs(text: str) -> list[str]:
    stripped = re.sub(r"#[^\n]*", "", text)
    return re.findall(r"\bFROM\s+(?:NAMED\s+)?<([^>]*)>", stripped, re.IGNORECASE)


# -- worker side ---------------------------------------------------------------------------

def _worker_main(conn, nquads: bytes) -> None:
    store = ox.Store()
    store.load(nquads, format=ox.RdfFormat.N_QUADS)
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        try:
            conn.send(("ok", _evaluate(store, *job)))
        except Exception as exc:  # every failure goes back to the server as a message
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


def _evaluate(store, text, media_type, default_graphs, named_graphs, max_rows):
    kwargs = {"prefixes": PREFIXES}
    if default_graphs:
        kwargs["default_graph"] = [ox.NamedNode(g) for g in default_graphs]
    else:
        kwargs["use_default_graph_as_union"] = True
    if named_graphs:
        kwargs["named_graphs"] = [ox.NamedNode(g) for g in named_graphs]
    result = store.query(text, **kwargs)
    if isinstance(result, ox.QuerySolutions):
        variables = result.variables
        rows = []
        for solution in result:
            if len(rows) >= max_rows:
                raise OverflowError(f"the result has more than {max_rows} rows; add a LIMIT")
            rows.append(solution)
        # The rows were counted (stopping as soon as the limit was passed); serialising needs a
        # fresh result, so the query runs a second time, which costs little for bounded results.
        result = store.query(text, **kwargs)
        return result.serialize(format=RESULT_TYPES[media_type]), len(rows), [v.value for v in variables]
    if isinstance(result, ox.QueryBoolean):
        return result.serialize(format=RESULT_TYPES[media_type]), 1, []
    triples = []
    for triple in result:
        if len(triples) >= max_rows:
            raise OverflowError(f"the result has more than {max_rows} triples; add a LIMIT")
        triples.append(triple)
    return ox.serialize(triples, format=GRAPH_TYPES[media_type], prefixes=PREFIXES if media_type != "application/n-triples" else None), len(triples), []


# -- server side ---------------------------------------------------------------------------

class _Worker:
    def __init__(self, context, nquads: bytes) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, nquads), daemon=True)
        self.process.start()
        child.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class SparqlService:
    """A pool of query worker processes over a snapshot of the graph."""

    def __init__(self, nquads: bytes, graphs: list[str], limits: Limits, workers: int = 2, remote=None) -> None:
        self.nquads = nquads
        self.graphs = set(graphs)
        self.limits = limits
        self.remote = remote  # a RemoteStore: queries go to the triple store instead of local workers
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        if remote is not None:
            return
        self._context = multiprocessing.get_context("spawn" if os.name == "nt" else "fork")
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        for _ in range(max(1, workers)):
            self._add_worker()

    def _add_worker(self) -> None:
        worker = _Worker(self._context, self.nquads)
        with self._lock:
            self._all.append(worker)
        self._idle.put(worker)

    def close(self) -> None:
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            worker.kill()

    def run(self, text: str, media_type: str, default_graphs=(), named_graphs=()) -> tuple[bytes, int, list[str]]:
        for graph in list(default_graphs) + list(named_graphs) + from_graphs(text):
            if graph not in self.graphs:
                raise SparqlRequestError(
                    400, f"the graph <{graph}> is not in this store; its graphs are: {', '.join(sorted(self.graphs))}")
        if self.remote is not None:
            return self._run_remote(text, media_type, list(default_graphs), list(named_graphs))
        started = time.monotonic()
        try:
            worker = self._idle.get(timeout=self.limits.timeout_s)
        except queue.Empty:
            raise SparqlRequestError(503, "the server is busy; try again in a moment") from None
        remaining = max(0.1, self.limits.timeout_s - (time.monotonic() - started))
        worker.conn.send((text, media_type, list(default_graphs), list(named_graphs), self.limits.max_rows))
        if not worker.conn.poll(remaining):
            worker.kill()
            with self._lock:
                if worker in self._all:
                    self._all.remove(worker)
            self._add_worker()
            raise SparqlRequestError(
                503, f"the query was stopped after the time limit of {self.limits.timeout_s:g} s; narrow it or add a LIMIT")
        status, payload = worker.conn.recv()
        self._idle.put(worker)
        if status == "error":
            if payload.startswith("OverflowError"):
                raise SparqlRequestError(400, payload.split(": ", 1)[1])
            raise SparqlRequestError(400, payload)
        return payload

    def _run_remote(self, text: str, media_type: str, default_graphs: list[str], named_graphs: list[str]):
        """Send the (already checked) query to the remote store and serialise its answer here."""
        from .errors import StoreError

        if default_graphs or named_graphs:
            raise SparqlRequestError(400, "default-graph-uri and named-graph-uri are not passed on to the remote store; "
                                          "use FROM and FROM NAMED in the query")
        try:
            result = self.remote.query(text)
        except StoreError as exc:
            raise SparqlRequestError(503, str(exc)) from None
        except MyelomaKGError as exc:
            raise SparqlRequestError(400, str(exc)) from None
        if isinstance(result, list):
            if len(result) > self.limits.max_rows:
                raise SparqlRequestError(400, f"the result has more than {self.limits.max_rows} triples; add a LIMIT")
            fmt = GRAPH_TYPES[media_type]
            body = ox.serialize(result, format=fmt, prefixes=None if media_type == "application/n-triples" else PREFIXES)
            return body, len(result), []
        if isinstance(result, ox.QueryBoolean):
            return result.serialize(format=RESULT_TYPES[media_type]), 1, []
        data = result.serialize(format=ox.QueryResultsFormat.JSON)
        rows = sum(1 for _ in ox.parse_query_results(data, format=ox.QueryResultsFormat.JSON))
        if rows > self.limits.max_rows:
            raise SparqlRequestError(400, f"the result has more than {self.limits.max_rows} rows; add a LIMIT")
        again = ox.parse_query_results(data, format=ox.QueryResultsFormat.JSON)
        return again.serialize(format=RESULT_TYPES[media_type]), rows, []
