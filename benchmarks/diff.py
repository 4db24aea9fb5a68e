"""The raw triple difference of two releases: rdflib's canonical graphs (the old way) against
ground triples as sets plus blank-node structures canonicalised one by one (content/diff.py).

    python benchmarks/diff.py [--runs 3] [OLD_RELEASE NEW_RELEASE]

Without release folders it writes two into a temporary folder: the checkout's content, and a copy
edited by the worked example of docs/authoring.md (tests/worked_example.py), without reasoning
(a diff reads only the asserted graph).  Both ways get the same two stores; the medians of
``--runs`` runs are printed with their ratio, then the whole ``diff`` (reading both releases,
the clinical comparison and the raw difference) with either raw part.  The answers are compared line by line: the
status is 1 if they differ.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyoxigraph as ox

from myeloma_kg import Settings, load_graph
from myeloma_kg.content import diff as diff_module
from myeloma_kg.content.diff import _raw, diff, open_side
from myeloma_kg.content.release import write_release

ROOT = Path(__file__).resolve().parents[1]


def rdflib_raw(old: ox.Store, new: ox.Store) -> tuple[list[str], list[str]]:
    """What content/diff.py did before: both graphs canonicalised whole by rdflib, then compared."""
    import rdflib
    from rdflib.compare import graph_diff, to_canonical_graph

    def graph(store: ox.Store):
        data = ox.serialize([q.triple for q in store], format=ox.RdfFormat.N_TRIPLES)
        return to_canonical_graph(rdflib.Graph().parse(data=data, format="nt"))

    _both, removed, added = graph_diff(graph(old), graph(new))

    def lines(g) -> list[str]:
        return sorted(f"{s.n3()} {p.n3()} {o.n3()} ." for s, p, o in g)

    return lines(added), lines(removed)


def two_releases(folder: Path) -> tuple[Path, Path]:
    sys.path.insert(0, str(ROOT / "tests"))
    from worked_example import apply_all

    settings = Settings.load({"home": str(ROOT), "data_dir": str(folder / "data"),
                              "releases_dir": str(folder / "releases")}, environ={})
    first = write_release(load_graph(settings, reason=False), settings)
    home = folder / "edited"
    for name in ("ontology", "queries", "shapes"):
        shutil.copytree(ROOT / name, home / name)
    apply_all("worked", home)
    edited = settings.with_overrides({"home": str(home)})
    second = write_release(load_graph(edited, reason=False), edited)
    return first.folder, second.folder


def timed(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def _masked(lines: list[str]) -> list[str]:
    """Blank-node labels differ between the two ways (each names them after its own hashes)."""
    return sorted(re.sub(r"_:\S+", "_:b", line) for line in lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("releases", nargs="*", metavar="RELEASE")
    args = parser.parse_args()
    if len(args.releases) not in (0, 2):
        parser.error("give two release folders, or none")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load({"home": str(ROOT), "data_dir": str(Path(tmp) / "data")}, environ={})
        old_ref, new_ref = args.releases or [str(p) for p in two_releases(Path(tmp))]
        old, new = open_side(old_ref, settings), open_side(new_ref, settings)
        print(f"{old.version} ({len(old.store)} triples) -> {new.version} ({len(new.store)} triples), "
              f"median of {args.runs} runs")
        before_s, before = timed(lambda: rdflib_raw(old.store, new.store), args.runs)
        after_s, after = timed(lambda: _raw(old.store, new.store), args.runs)
        whole_s, _found = timed(lambda: diff(old_ref, new_ref, settings), args.runs)
        diff_module._raw = rdflib_raw  # the whole diff again, its raw part done the old way
        try:
            whole_before_s, _found = timed(lambda: diff(old_ref, new_ref, settings), args.runs)
        finally:
            diff_module._raw = _raw
    print(f"  rdflib canonical graphs      {before_s * 1000:9.1f} ms")
    print(f"  sets + structures (RDFC-1.0) {after_s * 1000:9.1f} ms")
    print(f"  ratio                        {before_s / after_s:9.1f} x")
    print(f"  whole diff, old raw part     {whole_before_s * 1000:9.1f} ms (reading both releases, clinical and raw)")
    print(f"  whole diff, new raw part     {whole_s * 1000:9.1f} ms (ratio {whole_before_s / whole_s:.1f} x)")
    print(f"  triples: {len(after[0])} added, {len(after[1])} removed")
    if before == after:
        print("  answers: identical")
        return 0
    if tuple(map(_masked, before)) == tuple(map(_masked, after)):
        print("  answers: identical but for blank-node labels")
        return 0
    print("  answers DIFFER")
    for name, was, now in (("added", before[0], after[0]), ("removed", before[1], after[1])):
        for line in sorted(set(was) ^ set(now)):
            print(f"    {name} {'rdflib' if line in was else 'new'}: {line}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
