"""Two reference servers for benchmarks/endpoint_peers.py: how fast can a SPARQL endpoint served by
waitress be at all on this machine?

    python benchmarks/waitress_floor.py --data graph.nq --port P --mode constant|evaluate
                                        [--queries queries.json] [--threads 8]

Both serve ``GET /sparql?query=...`` with waitress, as ``myeloma-kg serve`` does, from an in-memory
pyoxigraph store holding the exported graph (the union of its graphs as the default graph):

- ``evaluate``: each request is evaluated by pyoxigraph and serialized (SPARQL JSON results, or
  N-Triples for CONSTRUCT), with no checks, no time limit, no worker processes: the engine behind a
  bare WSGI function.
- ``constant``: the answers of the texts in ``--queries`` (a JSON object name -> text) are computed
  once at start, and a request is answered by looking its text up; other texts are evaluated.  This
  is the floor for any endpoint on waitress: what remains is waitress and the HTTP exchange.

Neither is safe to expose (no read-only check, no limits); they exist to be measured against.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
from pathlib import Path

import pyoxigraph as ox
import waitress

JSON_RESULTS = "application/sparql-results+json"
N_TRIPLES = "application/n-triples"


def answer(store: ox.Store, text: str) -> tuple[str, bytes]:
    result = store.query(text, use_default_graph_as_union=True)
    if isinstance(result, ox.QuerySolutions):
        return JSON_RESULTS, result.serialize(format=ox.QueryResultsFormat.JSON)
    if isinstance(result, ox.QueryBoolean):
        return JSON_RESULTS, result.serialize(format=ox.QueryResultsFormat.JSON)
    return N_TRIPLES, ox.serialize(result, format=ox.RdfFormat.N_TRIPLES)


def make_app(store: ox.Store, known: dict[str, tuple[str, bytes]]):
    def app(environ, start_response):
        if environ.get("PATH_INFO") != "/sparql" or environ.get("REQUEST_METHOD") != "GET":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        texts = urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).get("query")
        if not texts:
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [b"no query\n"]
        found = known.get(texts[0])
        try:
            kind, body = found if found is not None else answer(store, texts[0])
        except (SyntaxError, ValueError, OSError) as exc:
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [f"{exc}\n".encode()]
        start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(body)))])
        return [body]

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="an N-Quads file")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=("constant", "evaluate"), required=True)
    parser.add_argument("--queries", type=Path, default=None, help="JSON object of name -> query text (constant mode)")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads (default 8, as myeloma-kg serve)")
    args = parser.parse_args(argv)

    store = ox.Store()
    store.bulk_load(path=str(args.data), format=ox.RdfFormat.N_QUADS)
    known: dict[str, tuple[str, bytes]] = {}
    if args.mode == "constant" and args.queries:
        for text in json.loads(args.queries.read_text(encoding="utf-8")).values():
            known[text] = answer(store, text)
    print(f"{args.mode}: {len(store)} quads, {len(known)} answers kept", file=sys.stderr, flush=True)
    waitress.serve(make_app(store, known), host="127.0.0.1", port=args.port, threads=args.threads,
                   ident=None, _quiet=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
