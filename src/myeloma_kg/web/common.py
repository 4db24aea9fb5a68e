"""What the blueprints share: the named-query catalog, loaded once per app, and the way to patient work."""

from __future__ import annotations

from typing import Any

from flask import current_app, request

from ..patients.limits import RecordLimits
from ..patients.pool import PatientJob
from ..patients.read import parse_text
from ..queries import QueryCatalog


def catalog() -> QueryCatalog:
    found = current_app.extensions.get("catalog")
    if found is None:
        found = current_app.extensions["catalog"] = QueryCatalog(current_app.config["SETTINGS"].queries_dir)
    return found


def named_rows(name: str, **params) -> list[dict]:
    """Rows of a named query of queries/ with bound parameters."""
    query = catalog().get(name)
    return current_app.extensions["kg"].select(query.text, query.bind(params))


def record_limits() -> RecordLimits:
    return current_app.extensions["recommender"].limits


def check_body_size() -> None:
    """Refuse (413) a request whose declared body is larger than a record may be, before it is read."""
    if request.content_length is not None:
        record_limits().check_size(request.content_length)


def run_patient(job: PatientJob) -> Any:
    """A patient job's answer, from the app's worker pool.

    The record's limits are checked here first, in the request's thread, so a record over one is
    refused at once, without a worker.  Waitress gives a request ``waitress.client_disconnected``
    (it tells the truth when its ``channel_request_lookahead`` is above 0): the work stops when
    the client goes away.
    """
    parse_text(job.text, job.content_type, record_limits())
    cancelled = request.environ.get("waitress.client_disconnected")
    return current_app.extensions["patients"].run(job, cancelled=cancelled if callable(cancelled) else None)
