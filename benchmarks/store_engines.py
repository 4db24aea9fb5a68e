"""Compare the embedded engines on the shipped graph and our own queries: pyoxigraph against rdflib.

    python benchmarks/store_engines.py [--copies N] [--repeat R]

Loads the shipped graph (ontology, guideline content and the reasoner's inferred triples) into
an rdflib Dataset and a pyoxigraph Store, then runs every named query of queries/ with its
default parameters on both: rdflib with prepareQuery + initBindings, pyoxigraph with
substitutions.  --copies N adds N-1 renamed copies of the guideline content to see how each
engine grows.  Prints medians in milliseconds and the ratio rdflib / pyoxigraph (the machines
here are noisy, so read the ratios rather than the absolute figures).  Also checks that both
engines return the same number of rows.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import pyoxigraph as ox
import rdflib
from rdflib.plugins.sparql import prepareQuery

from myeloma_kg import Settings, load_graph
from myeloma_kg.graph.store import to_rdflib_term
from myeloma_kg.namespaces import GRAPH_GUIDELINE, PREFIXES
from myeloma_kg.queries import QueryCatalog


def quads_of(kg, copies: int) -> list[ox.Quad]:
    quads = list(kg.store.quads_for_pattern(None, None, None, None))
    base = list(kg.store.quads_for_pattern(None, None, None, ox.NamedNode(str(GRAPH_GUIDELINE))))
    for n in range(1, copies):
        suffix = f"-copy{n}"

        def rename(term):
            if isinstance(term, ox.NamedNode) and "/myeloma-kg/" in term.value and "ontology#" not in term.value:
                return ox.NamedNode(term.value + suffix)
            return term

        quads += [ox.Quad(rename(q.subject), q.predicate, rename(q.object), q.graph_name) for q in base]
    return quads


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    settings = Settings.load()
    kg = load_graph(settings)
    quads = quads_of(kg, args.copies)
    nquads = ox.serialize(quads, format=ox.RdfFormat.N_QUADS)
    print(f"graph: {len(quads)} quads ({args.copies} cop{'y' if args.copies == 1 else 'ies'} of the content)")

    tracemalloc.start()
    t0 = time.perf_counter()
    ox_store = ox.Store()
    ox_store.load(nquads, format=ox.RdfFormat.N_QUADS)
    ox_load = time.perf_counter() - t0
    tracemalloc.stop()

    tracemalloc.start()
    t0 = time.perf_counter()
    ds = rdflib.Dataset(default_union=True)
    ds.parse(data=nquads, format="nquads")
    rd_load = time.perf_counter() - t0
    _, rd_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"load  pyoxigraph {ox_load * 1000:8.1f} ms   rdflib {rd_load * 1000:8.1f} ms   "
          f"ratio {rd_load / ox_load:5.1f}x   (rdflib peak Python memory {rd_peak / 1e6:.0f} MB)")
    print()
    print(f"{'query':52} {'rows':>5} {'oxigraph ms':>12} {'rdflib ms':>10} {'ratio':>7}")
    catalog = QueryCatalog(settings.queries_dir)
    ratios = []
    for named in catalog:
        try:
            bindings = named.bind({"text": "dara"} if any(p.name == "text" for p in named.params) else {})
        except Exception as exc:  # a query that needs a parameter we cannot guess
            print(f"{named.name:52} skipped: {exc}")
            continue

        def run_ox():
            res = ox_store.query(named.text, prefixes=PREFIXES, use_default_graph_as_union=True,
                                 substitutions={ox.Variable(k): v for k, v in bindings.items()})
            return len(list(res))

        prepared = prepareQuery(named.text, initNs=PREFIXES)
        init = {k: to_rdflib_term(v) for k, v in bindings.items()}

        def run_rd():
            return len(list(ds.query(prepared, initBindings=init)))

        ox_ms, ox_rows = timed(run_ox, args.repeat)
        try:
            rd_ms, rd_rows = timed(run_rd, max(1, args.repeat // 2))
        except Exception as exc:
            print(f"{named.name:52} {ox_rows:5} {ox_ms:12.2f}   rdflib failed: {type(exc).__name__}")
            continue
        ratio = rd_ms / ox_ms if ox_ms else float("inf")
        ratios.append(ratio)
        flag = "" if ox_rows == rd_rows else f"  (rdflib {rd_rows} rows)"
        print(f"{named.name:52} {ox_rows:5} {ox_ms:12.2f} {rd_ms:10.2f} {ratio:6.1f}x{flag}")
    if ratios:
        print()
        print(f"median ratio rdflib / pyoxigraph over {len(ratios)} queries: {statistics.median(ratios):.1f}x "
              f"(min {min(ratios):.1f}x, max {max(ratios):.1f}x)")


if __name__ == "__main__":
    main()
