"""Soak test of the SPARQL endpoint: cheap queries and runaways at once, against the real server.

    python benchmarks/soak.py [--seconds 60] [--cheap-threads 4] [--runaway-threads 2]
                              [--timeout 1] [--workers N] [--server-threads N]

Starts ``myeloma-kg serve`` (waitress) on a free loopback port with a low query time limit
(MYELOMA_KG_QUERY_TIMEOUT_S), then for ``--seconds`` runs, concurrently:

* cheap-query threads, each on one kept-alive HTTP connection, sending small SELECT/ASK queries
  one after another;
* runaway threads, each sending a query that would run for a very long time (a three-way cross
  product counted), again and again.

It prints the cheap queries' count, latency percentiles and errors; how long each runaway took
to be answered (the server stops it) against the limit, and the statuses; and the server's
process count (the server and its query workers, read from /proc) and memory (RSS summed over
the processes, and PSS where the kernel gives it, which counts pages shared after fork once) at
the start, the peak during the run, and after the run has settled.

Exits 1 if a target is missed: cheap p99 < 100 ms, no cheap query failed, every runaway answered
by limit + 1 s, process count and RSS back to within 10 % of the start.  Linux only (/proc).
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path

from _common import KeepAlive, free_port, memory, percentile

ROOT = Path(__file__).resolve().parents[1]

CHEAP = [
    "SELECT (COUNT(*) AS ?n) WHERE { ?d a mkg:AntiCD38Antibody }",
    "ASK { drug:daratumumab ?p ?o }",
    "SELECT ?r ?label WHERE { ?r a mkg:AntiCD38Regimen ; rdfs:label ?label }",
    "SELECT ?p ?o WHERE { regimen:DPd ?p ?o } LIMIT 20",
]
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


# -- the server's processes, from /proc ---------------------------------------------------------

def resources(root: int) -> dict[str, int]:
    found = memory(root)
    return {**found, "pss_kib": found["pss_kib"] or 0}


class Sampler(threading.Thread):
    """Samples the server's processes and memory every ``every`` seconds; keeps the peaks."""

    def __init__(self, root: int, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.root, self.every = root, every
        self.peak = {"processes": 0, "rss_kib": 0, "pss_kib": 0}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.every):
            now = resources(self.root)
            for key, value in now.items():
                self.peak[key] = max(self.peak[key], value)


# -- the clients -------------------------------------------------------------------------------

class Client(KeepAlive):
    """A kept-alive connection that sends SPARQL queries by GET."""

    def get(self, query: str) -> tuple[int, bytes]:  # type: ignore[override]
        path = "/sparql?" + urllib.parse.urlencode({"query": query})
        return super().get(path, "application/sparql-results+json")


def cheap_loop(port: int, deadline: float, out: list, errors: Counter, lock: threading.Lock, offset: int) -> None:
    client = Client(port, timeout=30)
    i = offset
    while time.monotonic() < deadline:
        query = CHEAP[i % len(CHEAP)]
        i += 1
        started = time.perf_counter()
        try:
            status, body = client.get(query)
        except (OSError, http.client.HTTPException) as exc:
            with lock:
                errors[f"connection: {type(exc).__name__}"] += 1
            time.sleep(0.05)
            continue
        elapsed = time.perf_counter() - started
        with lock:
            out.append(elapsed)
            if status != 200:
                errors[f"{status}: {body.decode(errors='replace').strip()[:90]}"] += 1
    client.close()


def runaway_loop(port: int, deadline: float, limit: float, out: list, lock: threading.Lock) -> None:
    client = Client(port, timeout=limit + 30)
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            status, body = client.get(RUNAWAY)
            text = body.decode(errors="replace")
            kind = "time limit" if "time limit" in text else "refused: long queries" if "long queries" in text else text.strip()[:60]
        except (OSError, http.client.HTTPException) as exc:
            status, kind = 0, f"connection: {type(exc).__name__}"
        with lock:
            out.append((time.perf_counter() - started, status, kind))


# -- the run -----------------------------------------------------------------------------------

def wait_until_up(port: int, process: subprocess.Popen, tries: int = 150) -> bool:
    for _ in range(tries):
        if process.poll() is not None:
            return False
        try:
            client = Client(port, timeout=2)
            status, _ = client.get("ASK {}")
            client.close()
            return status == 200
        except OSError:
            time.sleep(0.2)
    return False


def mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the mixed load (default 60)")
    parser.add_argument("--cheap-threads", type=int, default=4)
    parser.add_argument("--runaway-threads", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=1.0, help="the server's query time limit, s (default 1)")
    parser.add_argument("--workers", type=int, default=None, help="MYELOMA_KG_QUERY_WORKERS (default: the server's)")
    parser.add_argument("--server-threads", type=int, default=None, help="MYELOMA_KG_THREADS, waitress's threads "
                                                                         "(default: the server's)")
    parser.add_argument("--settle", type=float, default=20.0, help="at most this long to wait for the server to "
                                                                   "settle after the run, s (default 20)")
    parser.add_argument("--p99-ms", type=float, default=100.0, help="the target for cheap queries' p99 (default 100)")
    args = parser.parse_args()
    if not Path("/proc/self/stat").exists():
        print("this benchmark reads /proc (Linux)", file=sys.stderr)
        return 2

    port = free_port()
    env = {**os.environ, "MYELOMA_KG_QUERY_TIMEOUT_S": str(args.timeout)}
    env.setdefault("MYELOMA_KG_CACHE_DIR", str(ROOT / ".cache"))
    if args.workers is not None:
        env["MYELOMA_KG_QUERY_WORKERS"] = str(args.workers)
    if args.server_threads is not None:
        env["MYELOMA_KG_THREADS"] = str(args.server_threads)
    # The server's output goes to a file: a pipe nobody reads fills up (waitress logs a line each
    # time its task queue grows) and would then stall the server.
    log = tempfile.TemporaryFile()
    server = subprocess.Popen([sys.executable, "-m", "myeloma_kg.cli.main", "serve", "--port", str(port)],
                              stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        if not wait_until_up(port, server):
            print("the server did not start", file=sys.stderr)
            return 2
        warm = Client(port, timeout=10)
        for query in CHEAP * 3:  # the checker's cache and the workers warmed, as in steady use
            warm.get(query)
        warm.close()
        time.sleep(1.0)
        start = resources(server.pid)
        sampler = Sampler(server.pid)
        sampler.peak = dict(start)
        sampler.start()

        lock = threading.Lock()
        cheap: list[float] = []
        cheap_errors: Counter[str] = Counter()
        runaways: list[tuple[float, int, str]] = []
        began = time.monotonic()
        deadline = began + args.seconds
        threads = [threading.Thread(target=cheap_loop, args=(port, deadline, cheap, cheap_errors, lock, i), daemon=True)
                   for i in range(args.cheap_threads)]
        threads += [threading.Thread(target=runaway_loop, args=(port, deadline, args.timeout, runaways, lock), daemon=True)
                    for _ in range(args.runaway_threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(1.0, deadline - time.monotonic()) + args.timeout + 35)
        ran = time.monotonic() - began
        stragglers = sum(thread.is_alive() for thread in threads)

        settle_began = time.monotonic()
        steady = 0
        after = resources(server.pid)
        while time.monotonic() - settle_began < args.settle:  # until the worker count is back and steady
            time.sleep(0.5)
            after = resources(server.pid)
            steady = steady + 1 if after["processes"] == start["processes"] else 0
            if steady >= 4:
                break
        settled_in = time.monotonic() - settle_began
        sampler.stop.set()
        sampler.join(timeout=5)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)

    log.seek(0)
    output = log.read().decode(errors="replace")
    log.close()
    workers = args.workers if args.workers is not None else "default"
    threads_setting = args.server_threads if args.server_threads is not None else "default"
    print(f"soak: {ran:.1f} s, {args.cheap_threads} cheap-query threads, {args.runaway_threads} runaway threads, "
          f"time limit {args.timeout:g} s, query workers {workers}, waitress threads {threads_setting}")
    misses: list[str] = []

    print("\ncheap queries")
    if cheap:
        p50, p95, p99 = (percentile(cheap, q / 100) * 1000 for q in (50, 95, 99))
        print(f"  count {len(cheap)} ({len(cheap) / ran:.0f}/s), latency p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
              f"p99 {p99:.1f} ms, max {max(cheap) * 1000:.1f} ms")
        if p99 >= args.p99_ms:
            misses.append(f"cheap p99 {p99:.1f} ms >= {args.p99_ms:g} ms")
    else:
        print("  none answered")
        misses.append("no cheap query was answered")
    errors = sum(cheap_errors.values())
    print(f"  errors {errors}" + "".join(f"\n    {n} x {what}" for what, n in cheap_errors.most_common()))
    if errors:
        misses.append(f"{errors} cheap queries failed")

    print("\nrunaway queries")
    if runaways:
        seconds = [s for s, _, _ in runaways]
        print(f"  count {len(runaways)}, answered after min {min(seconds):.2f} s, median {statistics.median(seconds):.2f} s, "
              f"max {max(seconds):.2f} s (limit {args.timeout:g} s, target <= {args.timeout + 1:g} s)")
        kinds = Counter((status, kind) for _, status, kind in runaways)
        for (status, kind), n in sorted(kinds.items()):
            in_kind = [s for s, st, k in runaways if (st, k) == (status, kind)]
            print(f"    {n} x {status} {kind}: {min(in_kind):.2f}-{max(in_kind):.2f} s")
        late = [s for s in seconds if s > args.timeout + 1]
        if late:
            misses.append(f"{len(late)} runaways took longer than limit + 1 s (max {max(late):.2f} s)")
        if any(status != 503 for _, status, _ in runaways):
            misses.append("a runaway was not answered 503")
    elif args.runaway_threads:
        misses.append("no runaway was answered")
    if stragglers:
        misses.append(f"{stragglers} client threads were still waiting after the run")

    peak = sampler.peak
    print("\nserver (processes: the server and its query workers)")
    print(f"  start  {start['processes']} processes, RSS {mib(start['rss_kib'])}, PSS {mib(start['pss_kib'])}")
    print(f"  peak   {peak['processes']} processes, RSS {mib(peak['rss_kib'])}, PSS {mib(peak['pss_kib'])}")
    print(f"  after  {after['processes']} processes, RSS {mib(after['rss_kib'])}, PSS {mib(after['pss_kib'])} "
          f"(settled {settled_in:.1f} s after the run)")
    if abs(after["processes"] - start["processes"]) > 0.1 * start["processes"]:
        misses.append(f"process count {after['processes']} after, {start['processes']} at the start")
    if abs(after["rss_kib"] - start["rss_kib"]) > 0.1 * start["rss_kib"]:
        misses.append(f"RSS {mib(after['rss_kib'])} after, {mib(start['rss_kib'])} at the start (more than 10 %)")

    queue_warnings = output.count("Task queue depth")
    print(f"  server log: {queue_warnings} 'task queue depth' warnings from waitress (every thread busy), "
          f"{output.count('Traceback')} tracebacks")
    if "Traceback" in output:
        misses.append("the server's output holds a traceback")

    print("\ntargets: " + ("all met" if not misses else "MISSED:\n  " + "\n  ".join(misses)))
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
