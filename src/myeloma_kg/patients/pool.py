"""Patient work for the web routes, in worker processes bounded in time and in number.

Reading, validating and recommending run in a few worker processes forked from the server after
its ``Recommender`` is built, so each holds a copy of it (copy on write).  A request is sent to a
worker over a pipe.  The server thread waits for the answer, and stops the work by killing the
worker, then forks a fresh one in its place, when:

* the time limit passes (``Settings.patient_timeout_s``, by default the query time limit);
* the client has gone away (``cancelled``: the web layer passes waitress's
  ``waitress.client_disconnected``, which is asked every ``POLL_S``).

At most ``workers`` records are worked on at once, and at most ``max_held`` requests hold a server
thread for patient work (working or waiting for a worker); a request waits at most ``wait_s`` for
a worker.  Beyond either it gets a 503 at once, so patient work never holds every server thread
and the SPARQL endpoint and the pages keep answering.  The workers run at a lower scheduling
priority (``NICENESS``) for the same reason: when the cores are busy, the server's own threads
come first.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import os
import queue
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import MyelomaKGError, PatientWorkError, RecordLimitExceeded, UnreadableRecord
from ..workers import next_job

POLL_S = 0.05  # how often a waiting server thread asks whether the client is still there
NICENESS = 10  # added to the workers' scheduling niceness (lower priority than the server)


@dataclass(frozen=True)
class PatientJob:
    """One patient request: ``action`` "validate" (the report) or "recommend" (an ``Outcome``)."""

    action: str
    text: str
    content_type: str | None = None
    as_of: dt.date | None = None
    jurisdiction: str | None = None  # whose approvals to mark (?jurisdiction=); the record's own otherwise


def read(recommender, job: PatientJob):
    """The job's record, read by the recommender; ``UnreadableRecord`` for any text it cannot read.

    The readers give up on some input with errors of their own: nesting deeper than Python's
    recursion limit, integers longer than its limit on digits.
    """
    try:
        return recommender.read(job.text, content_type=job.content_type, as_of=job.as_of)
    except RecursionError:
        raise UnreadableRecord("the record is nested too deeply to be read") from None
    except UnreadableRecord:
        raise
    except ValueError as exc:
        raise UnreadableRecord(f"the record cannot be read: {str(exc).split(';')[0]}") from None


def work(recommender, job: PatientJob):
    """What a worker does with a job: a ``ValidationReport`` or an ``Outcome``."""
    record = read(recommender, job)
    if job.action == "validate":
        return recommender.validate(record)
    return recommender.recommend(record, jurisdiction=job.jurisdiction)


# -- worker side ---------------------------------------------------------------------------

def _answer(recommender, job: PatientJob) -> tuple:
    try:
        return ("ok", work(recommender, job))
    except RecordLimitExceeded as exc:
        return ("limit", str(exc), exc.status, exc.limit, exc.maximum)
    except UnreadableRecord as exc:
        return ("unreadable", str(exc), exc.status)
    except MyelomaKGError as exc:
        return ("refused", str(exc), getattr(exc, "status", 400))
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the server as a message
        return ("error", f"{type(exc).__name__}: {exc}")


def _drop_inherited_sockets(keep: int) -> None:
    """Point every socket the fork copied from the server (its listening socket, its clients'
    connections, the other workers' pipes) at /dev/null, keeping the descriptor numbers taken.
    Otherwise a connection the server closes would stay open while this worker lives.  Standard
    input, output and error stay (under systemd they may be sockets to the journal).  Linux only
    (/proc); elsewhere nothing is done."""
    try:
        numbers = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in numbers:
            if fd in (0, 1, 2, keep, null):
                continue
            with contextlib.suppress(OSError):
                if stat.S_ISSOCK(os.fstat(fd).st_mode):
                    os.dup2(null, fd)
    finally:
        os.close(null)


def _worker_main(conn, recommender, server: int) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the server, which stops its workers
    _drop_inherited_sockets(conn.fileno())
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    while (job := next_job(conn, server)) is not None:
        conn.send(_answer(recommender, job))


# -- server side ---------------------------------------------------------------------------

class _Worker:
    def __init__(self, context, recommender) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, recommender, os.getpid()), daemon=True)
        self.process.start()
        child.close()

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


WARM_RECORD = ('{"id": "warm-up", "age": 60, "asOf": "2026-01-01", "therapyLines": [{"line": 1, '
               '"drugs": ["lenalidomide", "dexamethasone"], "start": "2024-01-01", "end": "2025-06-01", '
               '"bestResponse": "PR", "progressionDate": "2025-05-20"}]}')


def _warm(recommender) -> None:
    try:
        recommender.recommend(recommender.read(WARM_RECORD))
    except Exception:  # noqa: BLE001 - warming is an optimisation; a real request reports any fault itself
        pass


class PatientPool:
    """Worker processes that read, validate and recommend patient records, each job under a time limit."""

    def __init__(self, recommender, *, workers: int = 2, timeout_s: float = 10.0, wait_s: float = 1.0,
                 max_held: int | None = None) -> None:
        self.recommender = recommender
        self.size = max(1, workers)
        self.timeout_s = timeout_s
        self.wait_s = wait_s
        self.max_held = max(1, max_held if max_held is not None else 2 * self.size)
        self._held = threading.BoundedSemaphore(self.max_held)
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._started = False
        self._context = multiprocessing.get_context("fork")  # the workers inherit the built recommender

    def start(self) -> None:
        """Fork the workers, unless they run already (the first job does this too).  The recommender
        answers one small record first, so that what it builds on first use (the validator, the
        working store) is inherited by every worker, the ones forked later in place of a stopped one
        included, and no worker's first record pays for it."""
        with self._lock:
            if self._started:
                return
            self._started = True
            _warm(self.recommender)
            for _ in range(self.size):
                worker = _Worker(self._context, self.recommender)
                self._all.append(worker)
                self._idle.put(worker)

    def pids(self) -> list[int]:
        with self._lock:
            return [w.pid for w in self._all]

    def close(self) -> None:
        with self._lock:
            workers, self._all = self._all, []
            self._started = False
        for worker in workers:
            worker.kill()
        while not self._idle.empty():
            self._idle.get_nowait()

    def run(self, job: PatientJob, cancelled: Callable[[], bool] | None = None) -> Any:
        """The job's answer (``work``'s), or the error the worker met; ``PatientWorkError`` (503)
        when the job was not done: the pool was busy, the time limit passed, the client went
        away (``cancelled()`` became true) or the worker died."""
        if not self._held.acquire(blocking=False):
            raise self._busy()
        try:
            self.start()
            try:
                worker = self._idle.get(timeout=self.wait_s)
            except queue.Empty:
                raise self._busy() from None
            return self._unpack(self._run_on(worker, job, cancelled))
        finally:
            self._held.release()

    def _busy(self) -> PatientWorkError:
        return PatientWorkError(503, f"The server is busy with other patient records ({self.size} at a time); "
                                     "try again in a moment.")

    def _run_on(self, worker: _Worker, job: PatientJob, cancelled: Callable[[], bool] | None) -> tuple:
        deadline = time.monotonic() + self.timeout_s
        try:
            worker.conn.send(job)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._replace(worker)
                    raise PatientWorkError(
                        503, f"The record was not evaluated within the time limit of {self.timeout_s:g} s "
                             "(MYELOMA_KG_PATIENT_TIMEOUT_S), and the work on it was stopped. A real record takes "
                             "well under a second: look for long lists of unknown entries, or try again later.")
                if worker.conn.poll(min(POLL_S, remaining)):
                    break
                if _gone(cancelled):
                    self._replace(worker)
                    raise PatientWorkError(503, "The client went away, and the work on its record was stopped.")
            answer = worker.conn.recv()
        except (OSError, EOFError):  # the worker died (killed from outside, out of memory, ...)
            self._replace(worker)
            raise PatientWorkError(503, "The patient worker stopped unexpectedly; try again in a moment.") from None
        self._idle.put(worker)
        return answer

    def _replace(self, worker: _Worker) -> None:
        """Kill a worker (stopping its work) and fork a fresh one in its place."""
        worker.kill()
        with self._lock:
            if worker not in self._all:  # the pool was closed meanwhile
                return
            self._all.remove(worker)
            fresh = _Worker(self._context, self.recommender)
            self._all.append(fresh)
        self._idle.put(fresh)

    @staticmethod
    def _unpack(answer: tuple) -> Any:
        kind, payload, *rest = answer
        if kind == "ok":
            return payload
        if kind == "limit":
            status, limit, maximum = rest
            raise RecordLimitExceeded(payload, limit=limit, maximum=maximum, status=status)
        if kind == "unreadable":
            raise UnreadableRecord(payload, rest[0])
        if kind == "refused":
            error = MyelomaKGError(payload)
            error.status = rest[0]  # type: ignore[attr-defined]
            raise error
        raise RuntimeError(f"a patient worker failed: {payload}")


def _gone(cancelled: Callable[[], bool] | None) -> bool:
    if cancelled is None:
        return False
    try:
        return bool(cancelled())
    except Exception:  # noqa: BLE001 - a check that fails says nothing about the client
        return False


__all__ = ["PatientJob", "PatientPool", "read", "work"]
