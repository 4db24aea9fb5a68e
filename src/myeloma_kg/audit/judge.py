"""The status of a decision point, from the same Recommender as ``myeloma-kg recommend``.

Each record is read as of its decision date, validated and recommended on exactly as ``recommend``
does it; the given drugs are then compared with the regimens of the answer (contract section 7):

- ``concordant``: they are the components of a regimen in ``recommended``;
- ``discordant``: they are those of a regimen in ``notRecommended`` (the reasons are its reasons);
- ``not-covered``: they are no regimen the guideline assesses;
- ``not-evaluable``: the record of that date does not validate (the reasons are the messages).

The records go to ``patients/batch.py``'s worker processes (one Recommender each, the graph loaded
once per worker) in chunks; each record is validated alone and the chunk is recommended
set-at-a-time (``Recommender.recommend_many``), as there.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from ..config import Settings
from ..errors import UnreadableRecord
from ..patients import batch
from ..patients.recommend import Outcome, Recommender

Item = tuple[str, str, str, tuple[str, ...]]  # key, record text, as-of date, given drugs


def notation(recommender: Recommender, iri: str) -> str:
    return str(recommender.recommendations.get(iri, {}).get("notation") or iri.rsplit("/", 1)[-1])


def judge(recommender: Recommender, outcome: Outcome | None, given: Iterable[str], error: str | None = None) -> dict[str, Any]:
    """The status, recommendations and reasons of one decision point."""
    wanted = sorted(set(given))
    verdict: dict[str, Any] = {"status": "not-evaluable", "recommendations": [], "reasons": [], "recommended": [],
                               "matched": [], "applicable": [], "high_risk": None, "graph": None}
    if error is not None:
        verdict["reasons"] = [error]
        return verdict
    assert outcome is not None
    result = outcome.recommendation
    if result is None:
        verdict["reasons"] = [i.message for i in outcome.report.issues if i.severity == "violation"]
        return verdict
    verdict["graph"] = result.get("graphVersion")
    verdict["high_risk"] = result["derived"].get("highRiskCytogenetics")
    verdict["recommended"] = sorted({item["label"] for item in result["recommended"]})
    verdict["applicable"] = sorted({notation(recommender, rec) for item in result["recommended"]
                                    for rec in item["recommendations"]})
    matched = [item for item in result["recommended"] if sorted(item["components"]) == wanted]
    if matched:
        verdict["status"] = "concordant"
        verdict["matched"] = sorted({item["label"] for item in matched})
        verdict["recommendations"] = sorted({notation(recommender, rec) for item in matched
                                             for rec in item["recommendations"]})
        return verdict
    rejected = [item for item in result["notRecommended"] if sorted(item["components"]) == wanted]
    if rejected:
        verdict["status"] = "discordant"
        verdict["matched"] = sorted({item["label"] for item in rejected})
        reasons: dict[str, None] = {}
        for item in rejected:
            for reason in item["reasons"]:
                reasons.setdefault(reason, None)
        verdict["reasons"] = list(reasons)
        return verdict
    verdict["status"] = "not-covered"
    return verdict


def _run_chunk(chunk: list[Item]) -> list[tuple[str, dict[str, Any]]]:
    recommender = batch._worker
    assert recommender is not None
    out: dict[str, dict[str, Any]] = {}
    readable = []
    for key, text, as_of, given in chunk:
        try:
            readable.append((key, recommender.read(text, as_of=dt.date.fromisoformat(as_of)), given))
        except UnreadableRecord as exc:
            out[key] = judge(recommender, None, given, error=f"unreadable record: {exc}")
    # a person's decision points share the patient's IRI, and records that share one are validated
    # one by one: so the first point of every person goes first, then the second ..., which keeps
    # each group of records validated together free of repeats
    seen: dict[str, int] = {}
    order = []
    for index, (_, record, _) in enumerate(readable):
        seen[record.iri.value] = seen.get(record.iri.value, -1) + 1
        order.append((seen[record.iri.value], index))
    spread = [readable[index] for _, index in sorted(order)]
    records = [record for _, record, _ in spread]
    reports = recommender.validate_many(records)
    # recommended set-at-a-time (Recommender.recommend_many): the same answers as one by one
    outcomes = recommender.recommend_many(records, reports)
    for (key, _record, given), outcome in zip(spread, outcomes):
        out[key] = judge(recommender, outcome, given)
    return [(key, out[key]) for key, _, _, _ in chunk]


def _chunks(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    chunk: list[Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class Judges:
    """Worker processes with a Recommender each, started before the source is read so that the
    graph loads while the SQL runs; ``jobs`` 1 judges in this process."""

    def __init__(self, settings: Settings, jobs: int | None) -> None:
        self.settings = settings
        self.jobs = jobs or os.cpu_count() or 1
        self.pool = None
        self._stop = False
        if self.jobs > 1:
            context = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
            self.pool = context.Pool(self.jobs, initializer=batch._init, initargs=(settings,))

    def run(self, items: Iterable[Item]) -> Iterator[tuple[str, dict[str, Any]]]:
        """(key, verdict) per item, in the order the items came."""
        chunks = _chunks(items, batch.CHUNK)
        if self.pool is None:
            if batch._worker is None:
                batch._init(self.settings)
            for chunk in chunks:
                yield from _run_chunk(chunk)
            return
        # the pool's feeder thread reads the chunks (and so builds the records) only a few chunks
        # ahead of the results, which keeps memory flat however large the cohort
        slots = threading.Semaphore(self.jobs * 4)

        def feed() -> Iterator[list[Item]]:
            for chunk in chunks:
                while not slots.acquire(timeout=0.5):
                    if self._stop:
                        return
                if self._stop:
                    return
                yield chunk

        for rows in self.pool.imap(_run_chunk, feed()):
            slots.release()
            yield from rows

    def close(self) -> None:
        self._stop = True
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None
