"""Recommendations for many records, in worker processes.

Each worker loads the graph once (the reasoner's result is cached on disk) and takes records in
chunks of ``CHUNK`` (one message each way per chunk).  A chunk is validated in one run of the compiled
shapes (patients/compiled_shapes.py; a record they are not sure of goes to pySHACL alone), then
the records that conform are recommended set-at-a-time (``Recommender.recommend_many``: one
working graph, each rule and output query run once for the chunk), each with the answer it would
get alone.  Should the shapes not compile, pySHACL validates one record a run
(its time per record grows with the records of a run, so one is the cheapest).
Results come back in input order, one dict per record, ready to write as a JSON Lines row; or,
with ``encoded``, already written as one (by the workers, so that the first process, which only
passes the lines on, takes no core from them).
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
from collections.abc import Iterable, Iterator
from typing import Any

from ..config import Settings
from .records import UnreadableRecord

CHUNK = 100
_worker = None


def _init(settings: Settings) -> None:
    global _worker
    from ..graph.load import load_graph
    from .recommend import Recommender

    _worker = Recommender(load_graph(settings), settings)


def _run_chunk(chunk: list[tuple[str, str, str | None]], as_of: dt.date | None,
               jurisdiction: str | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    readable = []
    for name, text, content_type in chunk:
        try:
            readable.append((name, _worker.read(text, content_type=content_type, as_of=as_of)))
        except UnreadableRecord as exc:
            rows.append({"record": name, "error": str(exc)})
    records = [r for _, r in readable]
    reports = _worker.validate_many(records)
    outcomes = _worker.recommend_many(records, reports, jurisdiction=jurisdiction)
    for (name, _record), report, outcome in zip(readable, reports, outcomes):
        if outcome.recommendation is None:
            rows.append({"record": name, "validation": report.as_dict()})
        else:
            rows.append({"record": name, **outcome.recommendation})
    order = {name: i for i, (name, _, _) in enumerate(chunk)}
    return sorted(rows, key=lambda row: order[row["record"]])


def _chunks(items: Iterable[tuple[str, str, str | None]]) -> Iterator[list[tuple[str, str, str | None]]]:
    chunk: list[tuple[str, str, str | None]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def recommend_many(items: Iterable[tuple[str, str, str | None]], settings: Settings,
                   as_of: dt.date | None = None, jobs: int | None = None,
                   jurisdiction: str | None = None, encoded: bool = False) -> Iterator[Any]:
    """(name, text, content type) records in, one result per record out, in order: a dict, or
    with ``encoded`` a pair (kind, JSON text) where kind is "ok", "invalid" (the record does not
    conform) or "error" (it could not be read)."""
    work = _Chunk(as_of, jurisdiction, encoded)
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1:
        _init(settings)
        for chunk in _chunks(items):
            yield from work(chunk)
        return
    context = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    with context.Pool(jobs, initializer=_init, initargs=(settings,)) as pool:
        for rows in pool.imap(work, _chunks(items)):
            yield from rows


def kind_of(row: dict[str, Any]) -> str:
    """"error" for a record that could not be read, "invalid" for one that does not conform, else "ok"."""
    return "error" if "error" in row else "invalid" if "validation" in row else "ok"


class _Chunk:
    def __init__(self, as_of: dt.date | None, jurisdiction: str | None = None, encoded: bool = False) -> None:
        self.as_of = as_of
        self.jurisdiction = jurisdiction
        self.encoded = encoded

    def __call__(self, chunk):
        rows = _run_chunk(chunk, self.as_of, self.jurisdiction)
        if self.encoded:
            return [(kind_of(row), json.dumps(row)) for row in rows]
        return rows
