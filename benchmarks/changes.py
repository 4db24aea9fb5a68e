"""How long a user waits for the changelog of ten releases, for ``check`` and for ``serve``.

    python benchmarks/changes.py [--releases 10] [--runs 3]

Writes ``--releases`` releases into a temporary folder (0.1.0 ... 0.N.0; every other one carries the
edits of the worked example of docs/authoring.md, so each step of the changelog has real changes),
then, in a fresh process for each run (nothing cached in memory):

- the first ``GET /changes`` of a new app, and the second (the changelog is kept once built);
- ``myeloma-kg check`` on unchanged content, the reasoner's cache warm;
- ``myeloma-kg serve`` to its first SPARQL answer, warm (benchmarks/cold_start.py measures it cold too).

Medians of ``--runs`` runs are printed beside the targets of issue 23 (each under 1 s).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from cold_start import first_answer

from myeloma_kg import Settings, load_graph
from myeloma_kg.content.release import write_release

ROOT = Path(__file__).resolve().parents[1]

FIRST_PAGE = """
import json, sys, time
from myeloma_kg import Settings, load_graph
from myeloma_kg.web import create_app
settings = Settings.load({"releases_dir": sys.argv[1]})
app = create_app(settings, load_graph(settings))
client = app.test_client()
t0 = time.perf_counter(); first = client.get("/changes"); t1 = time.perf_counter()
second = client.get("/changes"); t2 = time.perf_counter()
api = client.get("/api/changes").get_json()
print(json.dumps({"first": t1 - t0, "second": t2 - t1, "status": first.status_code,
                  "steps": len(api["changes"]), "releases": len(api["releases"])}))
"""


def write_releases(folder: Path, count: int) -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from worked_example import apply_all

    releases = folder / "releases"
    for number in range(1, count + 1):
        home = folder / f"home-{number}"
        for name in ("ontology", "queries", "shapes"):
            shutil.copytree(ROOT / name, home / name)
        if number % 2 == 0:
            apply_all("worked", home, with_version=False)
        tbox = home / "ontology" / "myeloma-kg.ttl"
        text = tbox.read_text(encoding="utf-8")
        old = text.split('owl:versionInfo "', 1)[1].split('"', 1)[0]
        tbox.write_text(text.replace(f'owl:versionInfo "{old}"', f'owl:versionInfo "0.{number}.0"', 1)
                        .replace(f"/ontology/{old}>", f"/ontology/0.{number}.0>"), encoding="utf-8")
        settings = Settings.load({"home": str(home), "data_dir": str(folder / "data"),
                                  "releases_dir": str(releases)}, environ={})
        write_release(load_graph(settings, reason=False), settings)
        print(f"  release 0.{number}.0 written", file=sys.stderr)
    return releases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        releases = write_releases(Path(tmp), args.releases)
        pages = []
        for _ in range(args.runs):
            out = subprocess.run([sys.executable, "-c", FIRST_PAGE, str(releases)], capture_output=True, text=True,
                                 check=True)
            pages.append(json.loads(out.stdout.strip().splitlines()[-1]))
    checks = []
    for _ in range(args.runs):
        started = __import__("time").perf_counter()
        subprocess.run([sys.executable, "-m", "myeloma_kg.cli.main", "check"], capture_output=True, check=True)
        checks.append(__import__("time").perf_counter() - started)
    import os
    serves = [first_answer(dict(os.environ)) for _ in range(args.runs)]
    first = statistics.median(p["first"] for p in pages)
    second = statistics.median(p["second"] for p in pages)
    print(f"{pages[0]['releases']} releases, {pages[0]['steps']} steps in the changelog (status {pages[0]['status']}),"
          f" median of {args.runs} runs, each in a fresh process:")
    rows = [("first GET /changes", first, 1.0), ("second GET /changes", second, 1.0),
            ("myeloma-kg check, unchanged content, warm", statistics.median(checks), 1.0),
            ("myeloma-kg serve to its first answer, warm", statistics.median(serves), 1.0)]
    for what, seconds, target in rows:
        print(f"  {what:45s} {seconds:6.2f} s   target < {target:.0f} s: {'met' if seconds < target else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
