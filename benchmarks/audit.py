"""How fast ``myeloma-kg audit`` judges a generated cohort, and how much memory it takes.

    python benchmarks/audit.py                          # 10,000 persons, DuckDB, --jobs 2
    python benchmarks/audit.py --persons 100000         # the large run
    python benchmarks/audit.py --engines duckdb,spark   # Spark local[2] too (pip install -e '.[spark]')

It writes a synthetic cohort (``myeloma-kg audit-sample``, seed 1) into a temporary folder, then runs
the real command on it once per engine, watching the command's process tree in /proc (the
workers and, for Spark, the JVM included).  It prints the decision points per second over the
whole run and over the judging phase alone, the time of every phase as the command reports it,
and the peak memory: RSS summed over the processes and PSS (shared pages counted once).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import kib, process_tree

PHASE = re.compile(r"^audit \[\s*([0-9.]+) s\] (.*)$")


class Watch(threading.Thread):
    def __init__(self, pid: int, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak_rss = self.peak_pss = self.processes = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every):
            pids = process_tree(self.pid)
            self.processes = max(self.processes, len(pids))
            self.peak_rss = max(self.peak_rss, sum(kib(f"/proc/{p}/status", "VmRSS") or 0 for p in pids))
            self.peak_pss = max(self.peak_pss, sum(kib(f"/proc/{p}/smaps_rollup", "Pss") or 0 for p in pids))


def run(source: Path, out: Path, engine: str, jobs: int) -> dict:
    command = [sys.executable, "-m", "myeloma_kg.cli", "audit", str(source), "--output", str(out),
               "--engine", engine, "--jobs", str(jobs)]
    t0 = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watch = Watch(process.pid)
    watch.start()
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - t0
    watch.done.set()
    watch.join()
    if process.returncode != 0:
        raise SystemExit(f"{engine}: exit {process.returncode}\n{stderr[-3000:]}")
    phases = [(float(m.group(1)), m.group(2)) for m in map(PHASE.match, stderr.splitlines()) if m]
    points = int(stdout.split()[0])
    judging = next((t for t, text in phases if text.startswith("judging")), 0.0)
    written = next((t for t, text in phases if text.startswith("writing decision_points")), seconds)
    return {"engine": engine, "seconds": seconds, "points": points, "phases": phases, "judge_seconds": written - judging,
            "peak_rss_mib": watch.peak_rss / 1024, "peak_pss_mib": watch.peak_pss / 1024, "processes": watch.processes,
            "summary": stdout.strip()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--engines", default="duckdb", help="comma-separated: duckdb, spark")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (and Spark's local[N])")
    parser.add_argument("--keep", type=Path, default=None, help="write the cohort and outputs here and keep them")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        source = root / f"cohort-{args.persons}"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "myeloma_kg.cli", "audit-sample", str(source), "--persons",
                        str(args.persons), "--seed", "1"], check=True, stderr=subprocess.DEVNULL)
        print(f"cohort: {args.persons:,} persons written in {time.perf_counter() - t0:.1f} s "
              f"({sum(p.stat().st_size for p in source.iterdir()) / 2**20:.0f} MiB of CSV)")
        results = []
        for engine in args.engines.split(","):
            result = run(source, root / f"out-{engine}", engine.strip(), args.jobs)
            results.append(result)
            print(f"\n{engine} (--jobs {args.jobs}): {result['points']:,} decision points in {result['seconds']:.1f} s: "
                  f"{result['points'] / result['seconds']:.1f} per second overall, "
                  f"{result['points'] / max(result['judge_seconds'], 1e-9):.1f} per second while judging")
            print(f"  peak memory: RSS {result['peak_rss_mib']:.0f} MiB summed over {result['processes']} processes, "
                  f"PSS {result['peak_pss_mib']:.0f} MiB")
            print(f"  {result['summary']}")
            for start, text in result["phases"]:
                print(f"  {start:7.1f} s  {text[:100]}")
        if len(results) == 2:
            a, b = (root / f"out-{r['engine']}" / "decision_points.csv" for r in results)
            same = a.read_bytes() == b.read_bytes()
            print("\nidentical decision_points.csv:", same)
            if not same:  # the rows that differ, so that a difference is seen, not only counted
                rows_a = a.read_text(encoding="utf-8").splitlines()
                rows_b = b.read_text(encoding="utf-8").splitlines()
                only_a, only_b = sorted(set(rows_a) - set(rows_b)), sorted(set(rows_b) - set(rows_a))
                print(f"  rows: {len(rows_a)} and {len(rows_b)}; {len(only_a)} only from {results[0]['engine']}, "
                      f"{len(only_b)} only from {results[1]['engine']}")
                for label, rows in ((results[0]["engine"], only_a), (results[1]["engine"], only_b)):
                    for row in rows[:5]:
                        print(f"  only {label}: {row[:400]}")


if __name__ == "__main__":
    main()
