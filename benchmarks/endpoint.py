"""Throughput of the SPARQL endpoint for a simple SELECT under concurrent clients.

    python benchmarks/endpoint.py [--clients 1 4 8] [--requests 200]

Starts `myeloma-kg serve` on a free port (waitress, the embedded store), sends the same small
SELECT from each client thread, and prints requests per second and the median latency.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

QUERY = ("SELECT ?r ?label WHERE { ?r a <https://w3id.org/myeloma-kg/ontology#AntiCD38Regimen> ; "
         "<http://www.w3.org/2000/01/rdf-schema#label> ?label }")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "myeloma_kg.cli.main", "serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/sparql?" + urllib.parse.urlencode({"query": QUERY})
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(url, timeout=1).read()
                break
            except OSError:
                time.sleep(0.2)
        for clients in args.clients:
            latencies: list[float] = []
            lock = threading.Lock()
            per_client = max(1, args.requests // clients)

            def work():
                for _ in range(per_client):
                    t0 = time.perf_counter()
                    request = urllib.request.Request(url, headers={"Accept": "application/sparql-results+json"})
                    urllib.request.urlopen(request, timeout=30).read()
                    with lock:
                        latencies.append(time.perf_counter() - t0)

            threads = [threading.Thread(target=work) for _ in range(clients)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            seconds = time.perf_counter() - t0
            print(f"{clients:2} clients: {len(latencies)} requests in {seconds:.2f} s = {len(latencies) / seconds:.0f} req/s, "
                  f"median latency {statistics.median(latencies) * 1000:.1f} ms")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
