"""Runaway queries are stopped and cannot take every worker from the short ones."""

from __future__ import annotations

import threading
import time

import pytest

RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
CHEAP = "SELECT (COUNT(*) AS ?n) WHERE { ?d a mkg:AntiCD38Antibody }"
LIMIT = 5.0


@pytest.fixture()
def slow_app(make_app):
    return make_app(query_timeout_s=LIMIT)


def test_a_flood_of_runaways_leaves_a_worker_for_short_queries(slow_app):
    secure_app = slow_app
    service = secure_app.extensions["sparql"]
    service.start()  # as serve does: the pool is full before the flood
    assert service.max_long == len(service._all) - 1 >= 1
    results: list[tuple[int, float, str]] = []

    def runaway():
        started = time.monotonic()
        response = secure_app.test_client().get("/sparql", query_string={"query": RUNAWAY})
        results.append((response.status_code, time.monotonic() - started, response.get_data(as_text=True)))

    threads = [threading.Thread(target=runaway) for _ in range(service.max_long + 2)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    time.sleep(0.3)
    client = secure_app.test_client()
    latencies = []
    for _ in range(20):
        started = time.monotonic()
        assert client.get("/sparql", query_string={"query": CHEAP}).status_code == 200
        latencies.append(time.monotonic() - started)
    for thread in threads:
        thread.join(timeout=30)
    # Two runaways keep both cores busy, so a short query may wait a little (how little is for
    # benchmarks/soak.py to measure), but never for a runaway to reach its limit.
    assert max(latencies) < LIMIT - 2, latencies
    assert all(status == 503 for status, _, _ in results)
    early = [r for r in results if "long queries" in r[2]]
    late = [r for r in results if "time limit" in r[2]]
    assert len(late) == service.max_long and len(early) == 2
    assert all(seconds < LIMIT - 2 for _, seconds, _ in early)  # stopped long before the limit
    assert all(LIMIT - 0.1 < seconds < LIMIT + 2 for _, seconds, _ in late)
    time.sleep(0.5)
    assert secure_app.test_client().get("/sparql", query_string={"query": CHEAP}).status_code == 200
