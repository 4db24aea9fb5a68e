"""The project's SPARQL endpoint against two peers on the same data: raw Oxigraph and rdflib-endpoint.

    python benchmarks/endpoint_peers.py [--seconds 3] [--clients 1,4] [--rounds 3]
                                        [--only project,project-forked,project-granian,oxigraph,rdflib-endpoint,
                                                waitress-eval,waitress-const]
                                        [--json FILE]

One run:

1. exports the graph with its inferred triples once (``myeloma-kg export --format nquads
   --inferred``) into a temporary folder, with an empty data folder so no imported data rides along;
2. starts three servers on free loopback ports, each with the union of the graphs as its default
   graph: ``myeloma-kg serve`` (waitress, query worker processes), the same with one server
   process per core (``serve --processes 0``, shown as project-forked), the same app under granian
   (a Rust HTTP server, one worker process per core; ``benchmarks/granian_app.py``, an experiment
   that shows what the HTTP server costs, shown as project-granian), ``oxigraph serve-read-only
   --union-default-graph`` over a store made by ``oxigraph load``, and ``rdflib-endpoint serve``
   (an rdflib ``Dataset(default_union=True)`` under uvicorn); and two references that show what
   waitress itself allows (``benchmarks/waitress_floor.py``): ``waitress-eval``, pyoxigraph behind a
   bare WSGI function with no checks or limits, and ``waitress-const``, the answers computed once
   at start and looked up, so that only waitress and the HTTP exchange remain;
3. checks that every query gets the same answer from each server (SELECT: the multiset of rows,
   each a tuple of terms read from SPARQL JSON results; CONSTRUCT: the graphs, compared up to
   blank-node renaming) and stops with exit 1 on a difference, printing it;
4. for each query and client count, measures each server with that many threads, each sending
   the query over its own kept-alive ``http.client.HTTPConnection``.  A cell's time is cut into
   ``--rounds`` slices and the servers take turns slice by slice, in an order that rotates, so a
   burst of noise from the machine falls on all of them alike; each cell starts with a warm-up;
5. prints requests per second, p50 and p99 latency per server, the project's throughput as a
   ratio of each peer's, and the memory (RSS, and PSS where the kernel gives it) of each server's
   process tree, read from /proc after the run (the project's includes its query workers).

Exit status: 0 after a run (failed requests, such as the project's 503 when too many long queries
run at once, are counted and shown, not fatal), 1 when the answers differ, 2 when the export or a
server fails to start, 130 on Ctrl-C or SIGTERM.  Every server started is stopped at the end, on an
error and on Ctrl-C.  Needs the ``bench`` extra (``pip install -e '.[bench]'``) for ``oxigraph``
``rdflib-endpoint`` and ``granian``.  Linux (/proc).  A run with the defaults takes about four minutes on
two cores.

Raw Oxigraph here is the ``oxigraph`` server on its on-disk (RocksDB) store, as it is deployed;
the project's workers hold in-memory pyoxigraph stores, which scale better across concurrent
join-heavy queries, so the project can beat it there with 4 clients.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from _common import KeepAlive, free_port
from _common import memory as memory_of

ROOT = Path(__file__).resolve().parents[1]
QUERIES_DIR = ROOT / "queries"
SERVERS = ("project", "project-forked", "project-granian", "oxigraph", "rdflib-endpoint", "waitress-eval",
           "waitress-const")

PREFIXES = """PREFIX mkg: <https://w3id.org/myeloma-kg/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX drug: <https://w3id.org/myeloma-kg/drug/>
"""

# name -> query text; the named queries of queries/ are added by load_named().
INLINE_QUERIES = {
    "drugs": PREFIXES + "SELECT ?d ?l WHERE { ?d a mkg:Drug ; rdfs:label ?l }",
    "hazard-ratio-ci": PREFIXES + "SELECT ?o ?hr ?lo ?hi WHERE { ?o mkg:hazardRatio ?hr ; mkg:ciLower ?lo ; mkg:ciUpper ?hi }",
    "outcomes-per-trial": PREFIXES + "SELECT ?trial (COUNT(?o) AS ?n) WHERE { ?trial mkg:reportsOutcome ?o } GROUP BY ?trial",
    "construct-daratumumab": PREFIXES + "CONSTRUCT { drug:daratumumab ?p ?o } WHERE { drug:daratumumab ?p ?o }",
}
# Two named queries without parameters that every engine here can run and answers alike.  Not
# anti-cd38-bispecific-combinations: its GROUP_CONCAT of @en labels keeps the common language tag
# in Oxigraph and gives a plain literal in rdflib, so the check reports a difference.
DEFAULT_NAMED = ("mappings", "anti-cd38-evidence-in-asian-patients")

JSON_RESULTS = "application/sparql-results+json"
N_TRIPLES = "application/n-triples"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"

MAX_REQUESTS_PER_SLICE = 1_000_000  # a bound on each client's loop besides its deadline


def load_named(names: list[str]) -> dict[str, str]:
    """The text of queries/NAME.rq for each name, without the ``#+`` header of the catalog."""
    out = {}
    for name in names:
        path = QUERIES_DIR / f"{name}.rq"
        lines = path.read_text(encoding="utf-8").splitlines()
        if any(line.startswith("#+ params:") for line in lines):
            raise SystemExit(f"{path} takes parameters (bound by the project's catalog); pick a query without any")
        text = "\n".join(line for line in lines if not line.startswith("#+"))
        out[name] = text
    return out


def is_construct(text: str) -> bool:
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().upper().startswith(("PREFIX", "#")))
    return body.lstrip().upper().startswith("CONSTRUCT")


# -- the servers ------------------------------------------------------------------------------

def tool(name: str) -> str | None:
    """A console script of this virtualenv (beside the running Python), else one on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


@dataclass
class Server:
    name: str
    command: list[str]
    port: int
    path: str  # the query endpoint's path
    log: Path
    env: dict[str, str] | None = None
    process: subprocess.Popen | None = None
    started_s: float = 0.0

    def start(self) -> None:
        with open(self.log, "wb") as log:
            # a session of its own, so the server and any process it forks are stopped together
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=self.env, start_new_session=True)

    def wait_ready(self, limit_s: float) -> None:
        """Until the server answers a query, the process has died, or ``limit_s`` has passed."""
        began = time.monotonic()
        query = urllib.parse.urlencode({"query": "ASK { ?s ?p ?o }"})
        while time.monotonic() - began < limit_s:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                conn.request("GET", f"{self.path}?{query}", headers={"Accept": JSON_RESULTS})
                response = conn.getresponse()
                body = response.read()
                if response.status == 200 and b"true" in body:
                    self.started_s = time.monotonic() - began
                    return
            except (OSError, http.client.HTTPException):
                pass
            finally:
                conn.close()
            time.sleep(0.25)
        raise RuntimeError(f"{self.name} did not answer within {limit_s:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        group = self.process.pid  # the session leader's id is its process group's id
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
        # workers left behind in the group (the server went first) get the same end
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass


def make_servers(names: list[str], data: Path, work: Path) -> list[Server]:
    servers = []
    for name in names:
        port = free_port()
        log = work / f"{name}.log"
        if name in ("project", "project-forked"):
            env = dict(os.environ, MYELOMA_KG_DATA_DIR=str(work / "data"))
            env.setdefault("MYELOMA_KG_QUERY_TIMEOUT_S", "30")
            # project-forked: one server process per core (serve --processes 0), the graph shared
            extra = ["--processes", "0"] if name == "project-forked" else []
            servers.append(Server(name, [sys.executable, "-m", "myeloma_kg.cli.main", "serve", "--port", str(port),
                                         *extra], port, "/sparql", log, env))
        elif name == "project-granian":
            binary = tool("granian")
            if binary is None:
                raise SystemExit("no granian command: pip install -e '.[bench]'")
            env = dict(os.environ, MYELOMA_KG_DATA_DIR=str(work / "data"),
                       PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
            env.setdefault("MYELOMA_KG_QUERY_TIMEOUT_S", "30")
            servers.append(Server(name, [binary, "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port),
                                         "--workers", str(os.cpu_count() or 1), "granian_app:app"],
                                  port, "/sparql", log, env))
        elif name == "oxigraph":
            binary = tool("oxigraph")
            if binary is None:
                raise SystemExit("no oxigraph command: pip install -e '.[bench]'")
            location = work / "oxigraph-store"
            loaded = subprocess.run([binary, "load", "--location", str(location), "--file", str(data)],
                                    capture_output=True, text=True, timeout=300)
            if loaded.returncode != 0:
                raise SystemExit(f"oxigraph load failed:\n{loaded.stderr[-2000:]}")
            servers.append(Server(name, [binary, "serve-read-only", "--location", str(location),
                                         "--bind", f"127.0.0.1:{port}", "--union-default-graph"],
                                  port, "/query", log))
        elif name in ("waitress-eval", "waitress-const"):
            mode = "evaluate" if name == "waitress-eval" else "constant"
            servers.append(Server(name, [sys.executable, str(Path(__file__).with_name("waitress_floor.py")), "--data", str(data),
                                         "--port", str(port), "--mode", mode, "--queries", str(work / "queries.json")],
                                  port, "/sparql", log))
        elif name == "rdflib-endpoint":
            binary = tool("rdflib-endpoint")
            if binary is None:
                raise SystemExit("no rdflib-endpoint command: pip install -e '.[bench]'")
            servers.append(Server(name, [binary, "serve", str(data), "--host", "127.0.0.1", "--port", str(port)],
                                  port, "/", log))
    return servers


# -- one request --------------------------------------------------------------------------------

class Connection(KeepAlive):
    """A kept-alive connection to one server."""

    def __init__(self, server: Server, timeout: float = 120.0) -> None:
        super().__init__(server.port, timeout)
        self.server = server


def target_of(server: Server, text: str) -> str:
    return f"{server.path}?{urllib.parse.urlencode({'query': text})}"


# -- answers compared ---------------------------------------------------------------------------

def term_key(term: dict) -> str:
    """A term of SPARQL JSON results as one string; blank nodes all read alike (their labels are
    the engine's own), a plain literal and an xsd:string one alike, language tags in lower case."""
    kind = term.get("type")
    value = term.get("value")
    if kind == "uri":
        return f"<{value}>"
    if kind == "bnode":
        return "_:"
    if kind == "triple":
        inner = value
        return "<< " + " ".join(term_key(inner[k]) for k in ("subject", "predicate", "object")) + " >>"
    lang = term.get("xml:lang")
    if lang:
        return f"{json.dumps(value, ensure_ascii=False)}@{lang.lower()}"
    datatype = term.get("datatype")
    if datatype and datatype not in (XSD_STRING, RDF_LANG_STRING):
        return f"{json.dumps(value, ensure_ascii=False)}^^<{datatype}>"
    return json.dumps(value, ensure_ascii=False)


def select_answer(body: bytes) -> Counter:
    data = json.loads(body)
    variables = data["head"].get("vars", [])
    rows = Counter()
    for binding in data["results"]["bindings"]:
        rows[tuple(term_key(binding[v]) if v in binding else "UNBOUND" for v in variables)] += 1
    return rows


def graph_answer(body: bytes):
    import rdflib
    from rdflib.compare import to_isomorphic

    graph = rdflib.Graph()
    graph.parse(data=body.decode("utf-8"), format="nt")
    plain = rdflib.Graph()
    for s, p, o in graph:
        if isinstance(o, rdflib.Literal) and o.datatype is not None and str(o.datatype) == XSD_STRING:
            o = rdflib.Literal(str(o))
        plain.add((s, p, o))
    return to_isomorphic(plain)


def describe_difference(name: str, a: str, answer_a, b: str, answer_b, limit: int = 8) -> str:
    lines = [f"{name}: {a} and {b} differ"]
    if isinstance(answer_a, Counter):
        only_a, only_b = answer_a - answer_b, answer_b - answer_a
        lines.append(f"  rows: {sum(answer_a.values())} from {a}, {sum(answer_b.values())} from {b}")
        for label, rows in ((a, only_a), (b, only_b)):
            for row, times in list(rows.items())[:limit]:
                lines.append(f"  only {label}{'' if times == 1 else f' (x{times})'}: " + " | ".join(row))
            if len(rows) > limit:
                lines.append(f"  ... and {len(rows) - limit} more only from {label}")
    else:
        from rdflib.compare import graph_diff

        _both, only_a, only_b = graph_diff(answer_a, answer_b)
        lines.append(f"  triples: {len(answer_a)} from {a}, {len(answer_b)} from {b}")
        for label, graph in ((a, only_a), (b, only_b)):
            for i, triple in enumerate(sorted(graph)):
                if i == limit:
                    lines.append(f"  ... and {len(graph) - limit} more only from {label}")
                    break
                lines.append(f"  only {label}: " + " ".join(t.n3() for t in triple))
    return "\n".join(lines)


def check_answers(servers: list[Server], queries: dict[str, str]) -> tuple[list[str], dict[str, int]]:
    """Differences between the servers' answers (empty when all agree), and each query's size."""
    problems, sizes = [], {}
    for name, text in queries.items():
        construct = is_construct(text)
        answers = {}
        for server in servers:
            conn = Connection(server)
            try:
                status, body = conn.get(target_of(server, text), N_TRIPLES if construct else JSON_RESULTS)
            except (OSError, http.client.HTTPException) as exc:
                problems.append(f"{name}: {server.name} failed: {type(exc).__name__}: {exc}")
                continue
            finally:
                conn.close()
            if status != 200:
                problems.append(f"{name}: {server.name} answered {status}: {body.decode(errors='replace')[:300]}")
                continue
            try:
                answers[server.name] = graph_answer(body) if construct else select_answer(body)
            except Exception as exc:  # an answer that is not what was asked for
                problems.append(f"{name}: {server.name} sent an answer that does not parse: {exc}")
        if not answers:
            continue
        first = next(iter(answers))
        sizes[name] = sum(answers[first].values()) if not construct else len(answers[first])
        for other in list(answers)[1:]:
            if answers[other] != answers[first]:
                problems.append(describe_difference(name, first, answers[first], other, answers[other]))
    return problems, sizes


# -- the measure ----------------------------------------------------------------------------------

@dataclass
class Cell:
    """The figures of one server for one query and client count, summed over the slices."""

    latencies: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def figures(self) -> dict:
        ordered = sorted(self.latencies)

        def pct(q: float) -> float | None:
            if not ordered:
                return None
            rank = max(1, -(-len(ordered) * q // 100))  # nearest rank
            return round(ordered[int(rank) - 1] * 1000, 3)

        return {"requests": len(ordered), "errors": sum(self.errors.values()), "error_kinds": dict(self.errors),
                "seconds": round(self.seconds, 3),
                "rps": round(len(ordered) / self.seconds, 2) if self.seconds else None,
                "p50_ms": pct(50), "p99_ms": pct(99)}


def run_slice(server: Server, target: str, accept: str, clients: int, seconds: float, interrupted: threading.Event,
              cell: Cell | None) -> None:
    """``clients`` threads send the query for ``seconds``; into ``cell`` unless it is None (warm-up)."""
    connections = [Connection(server) for _ in range(clients)]
    results: list[tuple[list[float], Counter, float]] = [([], Counter(), 0.0)] * clients
    timing: dict[str, float] = {}
    # the barrier's action runs once, before any thread is let through: one start for all
    gate = threading.Barrier(clients + 1, action=lambda: timing.__setitem__("start", time.perf_counter()))

    def client(i: int) -> None:
        conn, latencies, errors = connections[i], [], Counter()
        try:
            conn.open()
        except OSError as exc:
            errors[f"connect: {type(exc).__name__}"] += 1
        try:
            gate.wait(timeout=30)
        except threading.BrokenBarrierError:
            return
        deadline = timing["start"] + seconds
        for _ in range(MAX_REQUESTS_PER_SLICE):
            if interrupted.is_set() or time.perf_counter() >= deadline:
                break
            began = time.perf_counter()
            try:
                status, _body = conn.get(target, accept)
            except (OSError, http.client.HTTPException) as exc:
                errors[f"connection: {type(exc).__name__}"] += 1
                time.sleep(0.01)
                continue
            if status == 200:
                latencies.append(time.perf_counter() - began)
            else:
                errors[f"HTTP {status}"] += 1
        results[i] = (latencies, errors, time.perf_counter())
        conn.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    try:
        gate.wait(timeout=30)
    except threading.BrokenBarrierError:
        timing.setdefault("start", time.perf_counter())
    for thread in threads:
        while thread.is_alive():  # joined in short waits so Ctrl-C reaches the main thread
            thread.join(timeout=0.2)
    if cell is None:
        return
    ends = [end for _lat, _err, end in results if end]
    cell.seconds += (max(ends) if ends else time.perf_counter()) - timing["start"]
    for latencies, errors, _end in results:
        cell.latencies.extend(latencies)
        cell.errors.update(errors)


def measure(servers: list[Server], queries: dict[str, str], client_counts: list[int], seconds: float, rounds: int,
            warmup: float, interrupted: threading.Event) -> dict[tuple[str, int, str], Cell]:
    cells: dict[tuple[str, int, str], Cell] = {}
    slice_s = seconds / rounds
    turn = 0
    for name, text in queries.items():
        accept = N_TRIPLES if is_construct(text) else JSON_RESULTS
        for clients in client_counts:
            print(f"  {name}, {clients} client{'s' if clients > 1 else ''} ...", file=sys.stderr, flush=True)
            for server in servers:
                cells[(name, clients, server.name)] = Cell()
                if warmup > 0:
                    run_slice(server, target_of(server, text), accept, clients, warmup, interrupted, None)
            for _round in range(rounds):
                order = servers[turn % len(servers):] + servers[:turn % len(servers)]
                turn += 1
                for server in order:
                    if interrupted.is_set():
                        raise KeyboardInterrupt
                    run_slice(server, target_of(server, text), accept, clients, slice_s, interrupted,
                              cells[(name, clients, server.name)])
    return cells


# -- the report -----------------------------------------------------------------------------------

def _num(value, width: int, digits: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def table(cells: dict[tuple[str, int, str], dict], servers: list[str], queries: list[str], client_counts: list[int],
          sizes: dict[str, int]) -> str:
    short = {"project": "project", "project-forked": "proj-fork", "project-granian": "proj-gran", "oxigraph": "oxigraph",
             "rdflib-endpoint": "rdflib-ep",
             "waitress-eval": "w-eval", "waitress-const": "w-const"}
    labels = {name: f"{name} ({sizes[name]})" if name in sizes else name for name in queries}
    width = max(12, *(len(label) for label in labels.values()))
    head = f"{'query':<{width}} {'cl':>2} "
    head += " ".join(f"{short[s] + ' req/s':>17} {'p50':>7} {'p99':>7}" for s in servers)
    peers = [s for s in ("oxigraph", "rdflib-endpoint", "waitress-eval", "waitress-const") if s in servers and "project" in servers]
    head += "".join(f" {'proj/' + short[p][:3]:>9}" for p in peers)
    alternatives = [s for s in ("project-forked", "project-granian") if s in servers and "oxigraph" in servers]
    for s in alternatives:
        head += f" {short[s][5:9] + '/oxi':>9}"
    lines = [head, "-" * len(head)]
    for name in queries:
        for clients in client_counts:
            line = f"{labels[name]:<{width}} {clients:>2} "
            parts = []
            for s in servers:
                f = cells[(name, clients, s)]
                errors = f" !{f['errors']}" if f["errors"] else ""
                parts.append(f"{_num(f['rps'], 17 - len(errors), 1)}{errors} {_num(f['p50_ms'], 7, 2)} {_num(f['p99_ms'], 7, 2)}")
            line += " ".join(parts)
            for p in peers:
                mine, theirs = cells[(name, clients, "project")]["rps"], cells[(name, clients, p)]["rps"]
                line += f" {_num(mine / theirs if mine and theirs else None, 9, 2)}"
            for s in alternatives:
                mine, theirs = cells[(name, clients, s)]["rps"], cells[(name, clients, "oxigraph")]["rps"]
                line += f" {_num(mine / theirs if mine and theirs else None, 9, 2)}"
            lines.append(line)
    lines.append("req/s: answered requests per second (200 only); p50/p99: latency in ms; "
                 "!N: N failed requests; (N): rows or triples of the answer;")
    if peers:
        lines.append("proj/X: the project's req/s divided by that peer's (oxi: raw Oxigraph, rdf: rdflib-endpoint, "
                     "w-e / w-c: waitress with bare pyoxigraph / with the answers precomputed); fork/oxi: the "
                     "project with one server process per core (serve --processes 0) against raw Oxigraph; "
                     "gran/oxi: the same app under granian, one worker process per core (an experiment); "
                     "the target of issue 23 is 0.8 (within 1.25x) for each query, with 1 and 4 clients.")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measured time per server, query and client count (default 3)")
    parser.add_argument("--clients", default="1,4", help="client counts, comma-separated (default 1,4)")
    parser.add_argument("--rounds", type=int, default=3, help="slices each cell's time is cut into, servers taking turns (default 3)")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds of warm-up per server before each cell (default 0.5)")
    parser.add_argument("--only", default=",".join(SERVERS), help=f"servers to run, comma-separated, of {', '.join(SERVERS)}")
    parser.add_argument("--named", default=",".join(DEFAULT_NAMED),
                        help=f"named queries of queries/ (file names without .rq) to add (default {','.join(DEFAULT_NAMED)})")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file as JSON")
    parser.add_argument("--start-timeout", type=float, default=180.0, help="seconds a server may take to start (default 180)")
    args = parser.parse_args(argv)
    try:
        args.clients = [int(c) for c in args.clients.split(",") if c.strip()]
    except ValueError:
        parser.error("--clients takes integers such as 1,4")
    if not args.clients or any(not 1 <= c <= 64 for c in args.clients):
        parser.error("--clients: each between 1 and 64")
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in args.only if s not in SERVERS]
    if unknown or not args.only:
        parser.error(f"--only: choose from {', '.join(SERVERS)}")
    args.only = [s for s in SERVERS if s in args.only]  # a fixed column order
    if not 0 < args.seconds <= 600 or not 1 <= args.rounds <= 100 or not 0 <= args.warmup <= 60:
        parser.error("--seconds in (0, 600], --rounds in [1, 100], --warmup in [0, 60]")
    args.named = [n.strip() for n in args.named.split(",") if n.strip()]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    queries = dict(INLINE_QUERIES)
    queries.update(load_named(args.named))
    interrupted = threading.Event()

    def on_term(_signum, _frame):  # a kill ends the run as Ctrl-C does, servers stopped
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="endpoint-peers-") as tmp:
        work = Path(tmp)
        try:
            data = work / "graph.nq"
            env = dict(os.environ, MYELOMA_KG_DATA_DIR=str(work / "data"))
            began = time.monotonic()
            exported = subprocess.run([sys.executable, "-m", "myeloma_kg.cli.main", "export", "--format", "nquads",
                                       "--inferred", "--output", str(data)], env=env, capture_output=True, text=True,
                                      timeout=600)
            if exported.returncode != 0:
                print(f"export failed:\n{exported.stderr[-2000:]}", file=sys.stderr)
                return 2
            quads = sum(1 for line in data.read_bytes().splitlines() if line.strip())
            print(f"exported {quads} quads with inferred triples in {time.monotonic() - began:.1f} s", file=sys.stderr)

            (work / "queries.json").write_text(json.dumps(queries), encoding="utf-8")  # for waitress-const
            servers = make_servers(args.only, data, work)
            for server in servers:
                server.start()
            for server in servers:
                server.wait_ready(args.start_timeout)
                print(f"{server.name} up on 127.0.0.1:{server.port}{server.path} after {server.started_s:.1f} s",
                      file=sys.stderr)

            problems, sizes = check_answers(servers, queries)
            if problems:
                print("answers differ between the servers:\n" + "\n".join(problems))
                return 1
            print(f"answers agree on all {len(queries)} queries across {', '.join(s.name for s in servers)}",
                  file=sys.stderr)

            started = time.monotonic()
            cells = measure(servers, queries, args.clients, args.seconds, args.rounds, args.warmup, interrupted)
            figures = {key: cell.figures() for key, cell in cells.items()}
            memory = {server.name: memory_of(server.process.pid) for server in servers}

            names = [s.name for s in servers]
            print()
            print(table(figures, names, list(queries), args.clients, sizes))
            print()
            print(f"{'server':<16} {'processes':>9} {'RSS MiB':>9} {'PSS MiB':>9}  (after the run, the whole process tree)")
            for name, m in memory.items():
                pss = "-" if m["pss_kib"] is None else f"{m['pss_kib'] / 1024:.1f}"
                print(f"{name:<16} {m['processes']:>9} {m['rss_kib'] / 1024:>9.1f} {pss:>9}")
            failed = {k: f for k, f in figures.items() if f["errors"]}
            for (q, c, s), f in failed.items():
                print(f"failures: {s}, {q}, {c} clients: {f['error_kinds']}")
            print(f"\nmeasured in {time.monotonic() - started:.0f} s: {args.seconds:g} s per cell in {args.rounds} rounds, "
                  f"{args.warmup:g} s warm-up, clients {','.join(map(str, args.clients))}; {os.cpu_count()} CPUs")

            if args.json:
                report = {
                    "settings": {"seconds": args.seconds, "rounds": args.rounds, "warmup": args.warmup,
                                 "clients": args.clients, "servers": names, "cpus": os.cpu_count(), "quads": quads},
                    "queries": queries,
                    "answer_sizes": sizes,
                    "cells": [{"query": q, "clients": c, "server": s, **f} for (q, c, s), f in figures.items()],
                    "ratios": [{"query": q, "clients": c,
                                **{f"project/{p}": (round(figures[(q, c, "project")]["rps"] / figures[(q, c, p)]["rps"], 3)
                                                    if figures[(q, c, "project")]["rps"] and figures[(q, c, p)]["rps"] else None)
                                   for p in ("oxigraph", "rdflib-endpoint", "waitress-eval", "waitress-const")
                                   if p in names and "project" in names}}
                               for q in queries for c in args.clients],
                    "memory": memory,
                    "startup_s": {s.name: round(s.started_s, 2) for s in servers},
                }
                args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
                print(f"wrote {args.json}", file=sys.stderr)
            return 0  # failed requests (a 503 from load shedding, say) are figures, shown above
        except KeyboardInterrupt:
            interrupted.set()
            print("\ninterrupted; stopping the servers", file=sys.stderr)
            return 130
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        finally:
            interrupted.set()
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the stopping short
            for server in servers:
                server.stop()
            signal.signal(signal.SIGINT, signal.default_int_handler)


if __name__ == "__main__":
    sys.exit(main())
