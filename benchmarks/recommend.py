"""Speed of patient validation and recommendation on the embedded store.

    python benchmarks/recommend.py [--patients 1000] [--seed 1]

Generates realistic, valid patient records (one to four lines of common regimens, dates in order,
some with cytogenetics, renal impairment or frailty) and prints, in a warm process:
- the median and 95th percentile of one recommendation (reading, SHACL validation, derivation
  rules and the recommendation queries), and of validation alone;
- batch throughput over all generated patients (patients per second).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import time

from myeloma_kg import Settings, load_graph
from myeloma_kg.recommend import Recommender

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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    texts = [json.dumps(generate(rng, n)) for n in range(args.patients)]

    started = time.perf_counter()
    recommender = Recommender(load_graph(Settings.load()))
    print(f"start-up (graph, vocabulary, shapes): {time.perf_counter() - started:.2f} s")
    for text in texts[:5]:  # warm up: first SHACL-SPARQL parse, query plans
        recommender.recommend(recommender.read(text, as_of=AS_OF))

    single, validation, conforming = [], [], 0
    for text in texts[:200]:
        t0 = time.perf_counter()
        record = recommender.read(text, as_of=AS_OF)
        report = recommender.validate(record)
        t1 = time.perf_counter()
        outcome = recommender.recommend(record, report)
        t2 = time.perf_counter()
        validation.append((t1 - t0) * 1000)
        single.append((t2 - t0) * 1000)
        conforming += outcome.recommendation is not None
    print(f"one recommendation (validation included), {len(single)} patients: "
          f"median {statistics.median(single):.1f} ms, p95 {percentile(single, 0.95):.1f} ms")
    print(f"validation alone: median {statistics.median(validation):.1f} ms, p95 {percentile(validation, 0.95):.1f} ms")
    print(f"records that conformed: {conforming}/{len(single)}")

    t0 = time.perf_counter()
    for text in texts:
        recommender.recommend(recommender.read(text, as_of=AS_OF))
    seconds = time.perf_counter() - t0
    print(f"batch, one record at a time: {len(texts)} patients in {seconds:.1f} s = {len(texts) / seconds:.0f} patients/s")
    for jobs in (1, 2):
        batch_in_workers(texts, jobs)


def batch_in_workers(texts: list[str], jobs: int) -> None:
    from myeloma_kg.batch import recommend_many

    items = [(f"r{i}", text, "application/json") for i, text in enumerate(texts)]
    t0 = time.perf_counter()
    count = sum(1 for _ in recommend_many(items, Settings.load(), as_of=AS_OF, jobs=jobs))
    seconds = time.perf_counter() - t0
    print(f"batch in {jobs} worker process(es), start-up included: {count} patients in {seconds:.1f} s = "
          f"{count / seconds:.0f} patients/s")


if __name__ == "__main__":
    main()
