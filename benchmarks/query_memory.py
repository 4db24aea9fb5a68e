"""How much memory the SPARQL endpoint keeps after many distinct large query texts.

Builds the web app in this process (with its query workers), sends ``--texts`` distinct query
texts of about ``--size`` bytes each (a cheap ASK padded with a comment, so each is fast and
would be remembered) as POST application/sparql-query, and prints the memory of the process tree
(this process and the workers: summed RSS and PSS) before and after, and again once this process
has handed freed heap back to the system (glibc's malloc_trim), which tells memory kept from
memory freed but not yet returned.

    python benchmarks/query_memory.py [--texts 300] [--size 900000] [--workers 2]
"""

from __future__ import annotations

import argparse
import gc
import os
import time

from _common import memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=300)
    parser.add_argument("--size", type=int, default=900_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from myeloma_kg import Settings, load_graph
    from myeloma_kg.web import create_app

    settings = Settings.load()
    app = create_app(settings, load_graph(settings), query_workers=args.workers)
    service = app.extensions["sparql"]
    service.start()
    client = app.test_client()
    for i in range(20):  # warm up: imports, first queries, caches of fixed size
        client.post("/sparql", data=f"ASK {{ }} # warm {i}", content_type="application/sparql-query")
    gc.collect()
    time.sleep(0.5)
    before = memory(os.getpid())
    started = time.monotonic()
    statuses: dict[int, int] = {}
    for i in range(args.texts):
        text = f"ASK {{ }} # {i}\n#" + "x" * args.size + "\n"
        status = client.post("/sparql", data=text, content_type="application/sparql-query").status_code
        statuses[status] = statuses.get(status, 0) + 1
    elapsed = time.monotonic() - started
    gc.collect()
    time.sleep(0.5)
    after = memory(os.getpid())
    trimmed = None
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
        trimmed = memory(os.getpid())
    except (OSError, AttributeError):  # not glibc
        pass
    service.close()
    mib = 1024
    print(f"{args.texts} texts of {args.size / 1e6:.1f} MB in {elapsed:.0f} s, statuses {statuses}")
    for name in ("rss_kib", "pss_kib"):
        if before.get(name) is not None and after.get(name) is not None:
            line = (f"{name[:3].upper()} of {after['processes']} processes: {before[name] / mib:.0f} MiB before, "
                    f"{after[name] / mib:.0f} MiB after ({(after[name] - before[name]) / mib:+.0f} MiB)")
            if trimmed and trimmed.get(name) is not None:
                line += f", {trimmed[name] / mib:.0f} MiB after malloc_trim ({(trimmed[name] - before[name]) / mib:+.0f} MiB)"
            print(line)


if __name__ == "__main__":
    main()
