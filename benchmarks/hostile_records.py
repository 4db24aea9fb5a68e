"""Cheap SPARQL queries while hostile patient records arrive: does patient work starve the endpoint?

    python benchmarks/hostile_records.py [--seconds 20] [--clients 8] [--record-kb 80]
                                         [--server-threads N] [--patient-workers N] [--timeout S]

Starts ``myeloma-kg serve`` on a free loopback port (the code on PYTHONPATH, so the same script
measures another checkout), then measures one client sending ``ASK {}`` by GET to /sparql, one
request after another on a kept-alive connection, twice for ``--seconds`` each:

* without other load;
* while ``--clients`` threads post hostile records of about ``--record-kb`` KB to /api/recommend
  in a loop, each on its own connection, taking turns through four kinds: 4,000 and more
  cytogenetic findings, hundreds of therapy lines, JSON nested tens of thousands deep, and a
  record within every limit whose validation takes seconds (hundreds of unknown drugs and
  findings, padded with a long free text).

It prints the ASK rate, latency percentiles and errors of both runs side by side, and what the
hostile posts got (statuses and times).  Every client has a socket timeout and the server is
stopped at the end, so the run is bounded in time even against a server that never answers.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from _common import KeepAlive, free_port, percentile

ROOT = Path(__file__).resolve().parents[1]
ASK = "/sparql?query=ASK%20%7B%7D"
SPARQL_JSON = "application/sparql-results+json"
CLIENT_TIMEOUT_S = 30.0  # a hostile post is given up after this (the server may still be at it)


# -- the hostile records ------------------------------------------------------------------------

def _example() -> dict:
    return json.loads((ROOT / "examples" / "patients" / "after-talquetamab-progression.json").read_text())


def _fill(make, size: int) -> str:
    """The JSON text of ``make(n)`` for the smallest n that reaches ``size`` bytes (doubling, then halving)."""
    n = 1
    while len(json.dumps(make(n))) < size:
        n *= 2
    low, high = n // 2, n
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if len(json.dumps(make(middle))) < size else (low, middle)
    return json.dumps(make(high))


def hostile_records(size: int) -> dict[str, str]:
    base = _example()
    line = base["therapyLines"][0]
    deep_levels = max(1, (size - 20) // 2)
    costly = {"id": "COSTLY", "age": 70, "cytogenetics": [f"finding {i}" for i in range(100)],
              "therapyLines": [{"line": i + 1, "drugs": [f"unknown drug {i}-{j}" for j in range(8)]} for i in range(40)]}
    padding = max(0, size - len(json.dumps(costly)) - 30)
    return {
        "findings": _fill(lambda n: {**base, "cytogenetics": ["del(17p)"] * n}, size),
        "lines": _fill(lambda n: {**base, "therapyLines": [dict(line, line=i + 1) for i in range(n)]}, size),
        "deep": '{"id": "DEEP", "x": ' + "[" * deep_levels + "]" * deep_levels + "}",
        "costly": json.dumps({**costly, "sameTargetReason": "x" * padding}),
    }


# -- the clients -------------------------------------------------------------------------------

def ask_loop(port: int, seconds: float) -> tuple[list[float], Counter]:
    """``ASK {}`` one after another for ``seconds``; the latencies and the errors."""
    client = KeepAlive(port, timeout=CLIENT_TIMEOUT_S)
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            status, body = client.get(ASK, SPARQL_JSON)
        except (OSError, http.client.HTTPException) as exc:
            errors[f"connection: {type(exc).__name__}"] += 1
            time.sleep(0.05)
            continue
        latencies.append(time.perf_counter() - started)
        if status != 200:
            errors[f"{status}: {body.decode(errors='replace').strip()[:80]}"] += 1
    client.close()
    return latencies, errors


def hostile_loop(port: int, records: dict[str, str], offset: int, stop: threading.Event, out: list, lock) -> None:
    kinds = list(records)
    i = offset
    conn: http.client.HTTPConnection | None = None
    while not stop.is_set():
        kind = kinds[i % len(kinds)]
        i += 1
        started = time.perf_counter()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT_S)
            conn.request("POST", "/api/recommend", body=records[kind].encode(), headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            body = response.read()
            status = response.status
            if response.will_close:
                conn.close()
                conn = None
            what = _gist(status, body)
        except (OSError, http.client.HTTPException) as exc:
            status, what = 0, f"connection: {type(exc).__name__}"
            if conn is not None:
                conn.close()
                conn = None
            time.sleep(0.05)
        with lock:
            out.append((kind, status, what, time.perf_counter() - started))
    if conn is not None:
        conn.close()


def _gist(status: int, body: bytes) -> str:
    if status == 200:
        return "recommendation"
    try:
        answer = json.loads(body)
    except ValueError:
        return body.decode(errors="replace")[:40]
    if "error" not in answer:
        return "report (does not conform)"
    text = answer["error"]
    for words, gist in (("time limit", "time limit"), ("busy", "busy"), ("MYELOMA_KG_", "over a limit")):
        if words in text:
            return gist
    return text[:40]


# -- the run -----------------------------------------------------------------------------------

def wait_until_up(port: int, process: subprocess.Popen, tries: int = 300) -> bool:
    for _ in range(tries):
        if process.poll() is not None:
            return False
        try:
            client = KeepAlive(port, timeout=2)
            status, _ = client.get(ASK, SPARQL_JSON)
            client.close()
            return status == 200
        except (OSError, http.client.HTTPException):
            time.sleep(0.2)
    return False


def summary(latencies: list[float], errors: Counter, seconds: float) -> dict[str, str]:
    if not latencies:
        return {"answered": "0", "rate": "0/s", "p50": "-", "p99": "-", "max": "-", "errors": str(sum(errors.values()))}
    ms = [x * 1000 for x in latencies]
    return {"answered": f"{len(ms):,}", "rate": f"{len(ms) / seconds:.1f}/s", "p50": f"{percentile(ms, 0.5):.1f} ms",
            "p99": f"{percentile(ms, 0.99):.1f} ms", "max": f"{max(ms):.1f} ms", "errors": str(sum(errors.values()))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each measurement (default 20)")
    parser.add_argument("--clients", type=int, default=8, help="hostile client threads (default 8)")
    parser.add_argument("--record-kb", type=float, default=80.0, help="size of each hostile record, KB (default 80)")
    parser.add_argument("--server-threads", type=int, default=None, help="MYELOMA_KG_THREADS (default: the server's)")
    parser.add_argument("--patient-workers", type=int, default=None, help="MYELOMA_KG_PATIENT_WORKERS (default: the server's)")
    parser.add_argument("--timeout", type=float, default=None, help="MYELOMA_KG_QUERY_TIMEOUT_S (default: the server's)")
    args = parser.parse_args()

    records = hostile_records(int(args.record_kb * 1000))
    port = free_port()
    env = {**os.environ, "MYELOMA_KG_HOST": "127.0.0.1"}
    env.setdefault("MYELOMA_KG_CACHE_DIR", str(ROOT / ".cache"))
    for value, name in ((args.server_threads, "THREADS"), (args.patient_workers, "PATIENT_WORKERS"),
                        (args.timeout, "QUERY_TIMEOUT_S")):
        if value is not None:
            env["MYELOMA_KG_" + name] = str(value)
    log = tempfile.TemporaryFile()  # a pipe nobody reads would fill up and stall the server
    server = subprocess.Popen([sys.executable, "-m", "myeloma_kg.cli.main", "serve", "--port", str(port)],
                              stdout=log, stderr=subprocess.STDOUT, env=env)
    posts: list[tuple[str, int, str, float]] = []
    try:
        if not wait_until_up(port, server):
            print("the server did not start", file=sys.stderr)
            return 2
        ask_loop(port, 1.0)  # warm: the query is known to the endpoint, as on a server in use
        quiet = ask_loop(port, args.seconds)

        stop, lock = threading.Event(), threading.Lock()
        clients = [threading.Thread(target=hostile_loop, args=(port, records, i, stop, posts, lock), daemon=True)
                   for i in range(args.clients)]
        for thread in clients:
            thread.start()
        time.sleep(1.0)  # the hostile load under way
        loaded = ask_loop(port, args.seconds)
        stop.set()
        give_up = time.monotonic() + CLIENT_TIMEOUT_S + 5  # then the server is stopped under them
        for thread in clients:
            thread.join(timeout=max(0.0, give_up - time.monotonic()))
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

    print(f"hostile records: {args.clients} clients, records of about {args.record_kb:g} KB "
          f"({', '.join(f'{k} {len(v) / 1000:.0f} KB' for k, v in records.items())}); "
          f"{args.seconds:g} s per measurement; PYTHONPATH={os.environ.get('PYTHONPATH', '')}")
    columns = (summary(*quiet, args.seconds), summary(*loaded, args.seconds))
    head = f"with {args.clients} hostile clients"
    print(f"\n{'ASK {} by GET /sparql':24} {'without hostile load':>22} {head:>26}")
    for key in ("answered", "rate", "p50", "p99", "max", "errors"):
        print(f"  {key:22} {columns[0][key]:>22} {columns[1][key]:>26}")
    for name, (_, errors) in (("without", quiet), ("with", loaded)):
        for what, n in errors.most_common(5):
            print(f"    errors {name} load: {n} x {what}")

    print("\nhostile posts to /api/recommend (kind, status, answer: count, median and max seconds)")
    groups: dict[tuple[str, int, str], list[float]] = {}
    for kind, status, what, seconds in posts:
        groups.setdefault((kind, status, what), []).append(seconds)
    for (kind, status, what), seconds in sorted(groups.items()):
        print(f"  {kind:9} {status:3} {what:28} {len(seconds):6,}  {statistics.median(seconds):7.2f} {max(seconds):7.2f}")
    print(f"\nserver log: {output.count('Task queue depth')} 'task queue depth' warnings (every thread busy), "
          f"{output.count('Traceback')} tracebacks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
