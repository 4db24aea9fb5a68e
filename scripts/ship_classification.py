"""Write the reasoner's result for the content of a tree into its reasoned/ folder, for a wheel to carry.

    python scripts/ship_classification.py                  # this checkout
    python scripts/ship_classification.py --home TREE      # a copy of it (what .ci/smoke-wheel builds from)

HermiT (Java) runs once here, at build time, unless the user cache already holds the result; the
installed program then finds the classification of its own content under myeloma_kg/shipped/reasoned/.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pyoxigraph as ox

from myeloma_kg import Settings, load_graph
from myeloma_kg.graph.reasoning import SHIPPED_FOLDER, cache_key, input_key, reason, reasoner_input

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=ROOT, help="the tree whose content is classified")
    args = parser.parse_args()
    home = args.home.resolve()
    with tempfile.TemporaryDirectory() as empty:  # no import of the user's (RxNorm) is part of shipped content
        return _ship(home, Settings.load({"home": str(home), "data_dir": empty}))


def _ship(home: Path, settings: Settings) -> int:
    kg = load_graph(settings, reason=False)
    result = reason(kg, settings.cache_path)
    if not result.consistent:
        print(f"error: the content is not consistent, so there is no classification to ship: {result.message}",
              file=sys.stderr)
        return 1
    folder = home / SHIPPED_FOLDER
    folder.mkdir(exist_ok=True)
    for old in folder.glob("inferred-*.nt"):
        old.unlink()
    target = folder / f"inferred-{cache_key(kg)}.nt"
    target.write_bytes(ox.serialize(result.inferred, format=ox.RdfFormat.N_TRIPLES))
    # the same under the key of what the reasoner reads, for drafts that change nothing it reads
    (folder / f"inferred-input-{input_key(reasoner_input(kg))}.nt").write_bytes(target.read_bytes())
    print(f"wrote {target.relative_to(home)} ({len(result.inferred)} inferred triples)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
