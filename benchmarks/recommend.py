"""Speed of patient validation and recommendation: one record warm, the stages, and batches.

    python benchmarks/recommend.py [--records 1000] [--seed 1] [--latency 200]
                                   [--batch 1000 10000] [--jobs 1 2] [--no-loop] [--cprofile N]

Generates realistic, valid patient records (one to four lines of common regimens, dates in order,
some with cytogenetics, renal impairment or frailty) and prints:

- start-up (graph, vocabulary, shapes) and, in a warm process, the median and 95th percentile of
  one recommendation (reading, SHACL validation, derivation rules, the recommendation queries and
  the JSON), and of reading and validation alone, over ``--latency`` records;
- the fixed cost of one record: the queries its path runs, timed on an empty store (parsing,
  planning and set-up only), the floor under one record's time;
- where that time goes: the mean milliseconds per record of every stage the recommender reports
  (validation, each rule in each round of the fixpoint, each output query, the JSON), and how
  many rounds the fixpoint took; with ``--cprofile N`` also the N functions with the most
  cumulative time under cProfile;
- batch throughput of ``--records`` records in this process, one at a time and set-at-a-time
  (``Recommender.recommend_many`` in chunks of ``batch.CHUNK``, validation in groups as the batch
  does it), with the time of reading, validation and recommendation apart, and a check that the
  two give every record byte-identical JSON (``--no-loop`` skips it);
- at the end, each target of issue 23 beside the figure measured for it;
- for each size of ``--batch`` and each ``--jobs``: the real command, ``myeloma-kg recommend
  FILE.jsonl --jobs J``, on a JSON Lines file of that many generated records, with patients per
  second (start-up included, and from the first row on), the CPU time per record of the command
  and its workers (on a shared machine it moves less than the wall time), and memory read from
  /proc while it runs: the peak RSS summed over the command and its worker processes, the peak PSS (pages shared
  after fork counted once), the largest single process, and the summed RSS when a quarter, half,
  three quarters and all of the rows were out (flat memory means these stay close).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import pstats
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from myeloma_kg import Settings, load_graph
from myeloma_kg.patients import batch
from myeloma_kg.patients.recommend import Recommender

from _common import kib, percentile, process_tree

AS_OF = dt.date(2026, 11, 24)
LINES = [
    ["bortezomib", "lenalidomide", "dexamethasone"],
    ["daratumumab", "lenalidomide", "dexamethasone"],
    ["daratumumab", "bortezomib", "dexamethasone"],
    ["carfilzomib", "dexamethasone"],
    ["isatuximab", "pomalidomide", "dexamethasone"],
    ["daratumumab", "pomalidomide", "dexamethasone"],
    ["isatuximab", "carfilzomib", "dexamethasone"],
    ["teclistamab"],
    ["selinexor", "bortezomib", "dexamethasone"],
]
CYTO = ["del(17p)", "t(4;14)", "gain(1q21)", "amp(1q21)", "t(11;14)", "t(14;16)"]


def generate(rng: random.Random, n: int) -> dict:
    start = dt.date(2016, 1, 1) + dt.timedelta(days=rng.randrange(0, 1500))
    lines = []
    for number in range(1, rng.randint(1, 4) + 1):
        length = dt.timedelta(days=rng.randrange(90, 700))
        end = start + length
        if end >= AS_OF:
            break
        line = {"line": number, "drugs": rng.choice(LINES), "start": start.isoformat(), "end": end.isoformat(),
                "bestResponse": rng.choice(["CR", "VGPR", "PR", "SD"])}
        if rng.random() < 0.8:
            line["progressionDate"] = (end - dt.timedelta(days=rng.randrange(0, 30))).isoformat()
            line["stopReason"] = "progression"
        lines.append(line)
        start = end + dt.timedelta(days=rng.randrange(7, 60))
    if not lines:
        lines = [{"line": 1, "drugs": LINES[0], "start": "2020-01-01", "end": "2021-01-01", "bestResponse": "PR",
                  "progressionDate": "2020-12-20"}]
    record = {"id": f"B{n:05d}", "age": rng.randint(45, 88), "ecog": rng.randint(0, 2), "therapyLines": lines}
    if rng.random() < 0.7:
        record["cytogenetics"] = rng.sample(CYTO, rng.randint(0, 2))
    if rng.random() < 0.3:
        record["creatinineClearance"] = rng.randint(25, 110)
    if rng.random() < 0.3:
        record["frailty"] = rng.choice(["fit", "intermediate", "frail"])
    return record


def generated_texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return [json.dumps(generate(rng, n)) for n in range(count)]


# -- one record, warm ------------------------------------------------------------------------


TARGETS: dict[str, tuple[str, float | None, str]] = {}  # what -> (target, measured, unit)


def set_at_a_time(recommender: Recommender, texts: list[str]) -> None:
    """The in-process loop both ways: one record at a time, and the batch's way (validation in
    groups, recommendations set-at-a-time); the JSON of every record compared."""
    t0 = time.perf_counter()
    one = []
    for text in texts:
        outcome = recommender.recommend(recommender.read(text, as_of=AS_OF))
        one.append(json.dumps(outcome.recommendation or outcome.report.as_dict()))
    alone_s = time.perf_counter() - t0
    read_s = validate_s = recommend_s = 0.0
    together = []
    for start in range(0, len(texts), batch.CHUNK):
        t0 = time.perf_counter()
        records = [recommender.read(text, as_of=AS_OF) for text in texts[start:start + batch.CHUNK]]
        t1 = time.perf_counter()
        reports = recommender.validate_many(records)
        t2 = time.perf_counter()
        outcomes = recommender.recommend_many(records, reports)
        together += [json.dumps(o.recommendation or o.report.as_dict()) for o in outcomes]
        t3 = time.perf_counter()
        read_s, validate_s, recommend_s = read_s + t1 - t0, validate_s + t2 - t1, recommend_s + t3 - t2
    n = len(texts)
    total = read_s + validate_s + recommend_s
    same = sum(a == b for a, b in zip(one, together))
    print(f"\nin this process, {n} records one at a time: {alone_s:.1f} s = {n / alone_s:.0f} records/s"
          f" ({1000 * alone_s / n:.1f} ms a record)")
    print(f"in this process, {n} records set-at-a-time (chunks of {batch.CHUNK}): {total:.1f} s = {n / total:.0f} records/s"
          f" ({1000 * total / n:.1f} ms a record: reading {1000 * read_s / n:.2f}, validation {1000 * validate_s / n:.1f},"
          f" rules and queries together {1000 * recommend_s / n:.1f}); {alone_s / total:.2f}x one at a time")
    print(f"byte-identical JSON, set-at-a-time and one at a time: {same} of {n} records")
    TARGETS["one process, set-at-a-time"] = ("(no target; x2 is the ceiling on 2 cores)", n / total, "records/s")
    if same != n:
        raise SystemExit("set-at-a-time answers differ from one at a time")


def single_records(recommender: Recommender, texts: list[str], cprofile: int) -> None:
    for text in texts[:10]:  # warm up: first SHACL-SPARQL parse, query plans
        recommender.recommend(recommender.read(text, as_of=AS_OF))
    stages: dict[str, list[float]] = {}
    recommender.stage_times = stages
    single, validation, reading, conforming = [], [], [], 0
    cpu0 = time.process_time()
    try:
        for text in texts:
            t0 = time.perf_counter()
            record = recommender.read(text, as_of=AS_OF)
            t1 = time.perf_counter()
            report = recommender.validate(record)
            t2 = time.perf_counter()
            outcome = recommender.recommend(record, report)
            t3 = time.perf_counter()
            reading.append((t1 - t0) * 1000)
            validation.append((t2 - t0) * 1000)
            single.append((t3 - t0) * 1000)
            conforming += outcome.recommendation is not None
    finally:
        recommender.stage_times = None
    cpu_ms = (time.process_time() - cpu0) * 1000 / max(1, len(texts))
    print(f"one recommendation (validation included), {len(single)} patients: "
          f"median {statistics.median(single):.1f} ms, p95 {percentile(single, 0.95):.1f} ms"
          f" (CPU time {cpu_ms:.1f} ms a record)")
    print(f"reading and validation: median {statistics.median(validation):.1f} ms, "
          f"p95 {percentile(validation, 0.95):.1f} ms (reading alone: median {statistics.median(reading):.2f} ms)")
    print(f"records that conformed: {conforming}/{len(single)}")
    TARGETS["one record, median warm"] = ("<= 10 ms", statistics.median(single), "ms")
    print_stages(stages, len(single), statistics.mean(reading))
    if cprofile:
        profile = cProfile.Profile()
        profile.enable()
        for text in texts:
            recommender.recommend(recommender.read(text, as_of=AS_OF))
        profile.disable()
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(cprofile)
        print("\ncProfile, the same records (times inflated by the profiler), by cumulative time:")
        print("\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip()))


def fixed_cost(recommender: Recommender) -> None:
    """What one record pays before any data: every query its path runs (each rule, a rule marked
    ``repeat`` once a round, each output query), run on an empty store, so that only parsing,
    planning and the engine's set-up remain.  This is the floor under one record's time."""
    import pyoxigraph as ox

    from myeloma_kg.namespaces import PREFIXES
    from myeloma_kg.patients.recommend import OUTPUTS

    empty = ox.Store()

    def cost(text: str, rounds: bool) -> float:
        options: dict = {"prefixes": PREFIXES}
        if rounds:
            options["substitutions"] = {ox.Variable("round"): ox.Literal(0)}
        best = float("inf")
        for _ in range(20):
            t0 = time.perf_counter()
            list(empty.query(text, **options))
            best = min(best, time.perf_counter() - t0)
        return best * 1000

    rounds = recommender.last_round + 1
    rules = sum(cost(rule.text, bool(rule.extra.get("rounds"))) for rule in recommender.rules)
    repeats = sum(cost(rule.text, bool(rule.extra.get("rounds"))) for rule in recommender.repeated) * (rounds - 1)
    outputs = sum(cost(recommender.q[name], False) for name, _ in OUTPUTS)
    runs = len(recommender.rules) + len(recommender.repeated) * (rounds - 1) + len(OUTPUTS)
    print(f"\nfixed cost of one record, its {runs} query runs on an empty store (parsing, planning, set-up;"
          f" best of 20 each): rules {rules:.2f} ms, the repeated rules of {rounds - 1} later rounds {repeats:.2f} ms,"
          f" output queries {outputs:.2f} ms; {rules + repeats + outputs:.2f} ms in all")


def print_stages(stages: dict[str, list[float]], records: int, reading_ms: float) -> None:
    """Mean milliseconds per record of each stage (a stage that ran on fewer records, such as a
    late round of the fixpoint, is averaged over all records so that the column adds up)."""
    rounds = [int(m.group(1)) for name in stages if (m := re.match(r"round (\d+) ", name))]
    print(f"\nwhere the time goes, mean ms per record over {records} records"
          f" (rounds of the rule fixpoint: up to {max(rounds) + 1 if rounds else 0}):")
    rows = [("read record", reading_ms, records)]
    rows += [(name, sum(values) * 1000 / records, len(values)) for name, values in stages.items()]
    total = sum(ms for _, ms, _ in rows)
    for name, ms, runs in rows:
        print(f"  {name:48s} {ms:7.2f} ms  ({runs} runs)")
    print(f"  {'sum of the stages':48s} {total:7.2f} ms")


# -- batches through the real command ----------------------------------------------------------


class MemoryWatch(threading.Thread):
    """Samples the command's process tree every ``every`` seconds: summed RSS and PSS, the
    largest process, and the summed RSS at each quarter of the rows written."""

    def __init__(self, pid: int, total_rows: int, every: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.total, self.every = pid, total_rows, every
        self.rows = 0
        self.peak_rss = self.peak_pss = self.peak_one = 0
        self.at_quarter: dict[int, int] = {}
        self.done = threading.Event()

    def sample(self) -> None:
        pids = process_tree(self.pid)
        rss = [kib(f"/proc/{p}/status", "VmRSS") or 0 for p in pids]
        pss = sum(kib(f"/proc/{p}/smaps_rollup", "Pss") or 0 for p in pids)
        self.peak_rss = max(self.peak_rss, sum(rss))
        self.peak_pss = max(self.peak_pss, pss)
        self.peak_one = max([self.peak_one, *rss])
        for quarter in (1, 2, 3, 4):
            if quarter not in self.at_quarter and self.rows >= self.total * quarter / 4:
                self.at_quarter[quarter] = sum(rss)

    def run(self) -> None:
        while not self.done.wait(self.every):
            self.sample()


def batch_command(texts: list[str], jobs: int) -> dict:
    """``myeloma-kg recommend FILE.jsonl --jobs J``, timed, its memory watched from /proc."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "patients.jsonl"
        path.write_text("\n".join(texts) + "\n", encoding="utf-8")
        command = [sys.executable, "-m", "myeloma_kg.cli.main", "recommend", str(path),
                   "--as-of", AS_OF.isoformat(), "--jobs", str(jobs)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        watch = MemoryWatch(process.pid, len(texts))
        watch.start()
        first = None
        rows = recommended = 0
        for line in process.stdout:
            if first is None:
                first = time.perf_counter()
            rows += 1
            watch.rows = rows
            recommended += '"recommended"' in line
            if rows % 50 == 0:
                watch.sample()
        watch.sample()
        process.wait()
        seconds = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        watch.done.set()
        watch.join()
    steady = time.perf_counter() if first is None else first
    return {"jobs": jobs, "records": len(texts), "rows": rows, "recommended": recommended,
            "seconds": seconds, "per_s": rows / seconds,
            "steady_per_s": (rows - 1) / max(1e-9, t0 + seconds - steady) if rows > 1 else 0.0,
            "peak_rss_mib": watch.peak_rss / 1024, "peak_pss_mib": watch.peak_pss / 1024,
            "largest_mib": watch.peak_one / 1024,
            "rss_by_quarter_mib": [round(watch.at_quarter.get(q, 0) / 1024) for q in (1, 2, 3, 4)],
            "cpu_ms": 1000 * (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / max(1, rows),
            "exit": process.returncode}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", "--patients", dest="records", type=int, default=1000,
                        help="records for the in-process loop (default 1000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency", type=int, default=200, help="records timed one by one (default 200)")
    parser.add_argument("--batch", type=int, nargs="*", default=[1000, 10000],
                        help="sizes of the JSON Lines files run through the command (default 1000 10000)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-loop", action="store_true", help="skip the in-process loop over --records")
    parser.add_argument("--cprofile", type=int, default=0, metavar="N",
                        help="also print the N functions with the most cumulative time")
    args = parser.parse_args()
    texts = generated_texts(args.seed, max([args.records, args.latency, *args.batch]))

    started = time.perf_counter()
    recommender = Recommender(load_graph(Settings.load()))
    print(f"start-up (graph, vocabulary, shapes): {time.perf_counter() - started:.2f} s")
    single_records(recommender, texts[:args.latency], args.cprofile)
    fixed_cost(recommender)

    if not args.no_loop:
        set_at_a_time(recommender, texts[:args.records])
    del recommender

    for size in args.batch:
        for jobs in args.jobs:
            r = batch_command(texts[:size], jobs)
            print(f"\nmyeloma-kg recommend FILE.jsonl --jobs {jobs}, {size} records: {r['rows']} rows"
                  f" ({r['recommended']} with a recommendation, exit {r['exit']}) in {r['seconds']:.1f} s ="
                  f" {r['per_s']:.0f} patients/s (start-up included; {r['steady_per_s']:.0f}/s from the first row)")
            print(f"  CPU: {r['cpu_ms']:.1f} ms per record, user and system time of the command and its workers"
                  " (start-up included; on a shared machine it varies less than the wall time)")
            print(f"  memory: peak RSS {r['peak_rss_mib']:.0f} MiB summed over the processes"
                  f" (PSS {r['peak_pss_mib']:.0f} MiB, largest process {r['largest_mib']:.0f} MiB);"
                  f" summed RSS at 1/4, 1/2, 3/4, all rows: {', '.join(map(str, r['rss_by_quarter_mib']))} MiB")
            if jobs == 2:
                TARGETS[f"batch of {size}, --jobs 2"] = (">= 500 records/s", r["per_s"], "records/s")
                # (from a quarter to three quarters of the rows: at the end the workers may be gone already)
                TARGETS[f"batch of {size}, --jobs 2, memory"] = (
                    "flat", r["rss_by_quarter_mib"][2] - r["rss_by_quarter_mib"][0], "MiB grown from 1/4 to 3/4 of the rows")
    print("\ntargets (issue 23) and what was measured:")
    for what, (target, measured, unit) in TARGETS.items():
        shown = "not measured" if measured is None else f"{measured:.1f} {unit}"
        print(f"  {what:40s} target {target:12s} measured {shown}")


if __name__ == "__main__":
    main()
