"""How long `myeloma-kg serve` takes to answer its first SPARQL query.

Starts the real server (a subprocess on a free loopback port) and polls /sparql with a small query
until it answers 200; prints the seconds from the start of the process. Two cases: with the
reasoner's cache warm (the default cache folder, filled first if needed) and cold (an empty cache
folder, so HermiT runs). Several runs of each; the median and the range are printed.

    python benchmarks/cold_start.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from _common import free_port

QUERY = "SELECT (COUNT(*) AS ?n) WHERE { ?d a mkg:AntiCD38Antibody }"


def first_answer(env: dict[str, str], limit_s: float = 120.0) -> float:
    port = free_port()
    url = f"http://127.0.0.1:{port}/sparql?" + urllib.parse.urlencode({"query": QUERY})
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "myeloma_kg.cli.main", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - started < limit_s:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.02)
        raise SystemExit(f"the server did not answer within {limit_s:g} s")
    finally:
        server.terminate()
        server.wait(timeout=15)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if not k.startswith("MYELOMA_KG_")}
    first_answer(base)  # fills the default cache if it is empty
    warm = [first_answer(base) for _ in range(args.runs)]
    cold = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as empty:
            cold.append(first_answer({**base, "MYELOMA_KG_CACHE_DIR": empty}))
    for name, values in (("warm cache", warm), ("cold cache", cold)):
        print(f"{name}: first answer after {statistics.median(values):.2f} s (median of {len(values)}; "
              f"{min(values):.2f}-{max(values):.2f} s)")
    print(f"target: warm <= 3 s: {'met' if statistics.median(warm) <= 3 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
