"""The CDS Hooks endpoints: ``GET /cds-services``, ``POST /cds-services/<id>`` and its feedback.

The service answers from the request's prefetch.  It asks the EHR's FHIR server for what the
prefetch lacks only when the setting ``cds_fhir_server`` names that very server; otherwise, and
by default, it makes no outbound connection and answers 412 (the CDS Hooks status for missing
prefetch data).  Bad requests get 400 with a JSON error.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from collections import Counter
from urllib.parse import quote, urlsplit

from flask import Blueprint, current_app, jsonify, request

from ..fhir.cds import (
    SERVICE_ID,
    CdsRequestError,
    bundle_of,
    cards_for,
    check_feedback,
    check_request,
    discovery,
    missing_prefetch,
    prefetch_template,
)
from ..patients.fhir_bundle import FHIR_JSON
from ..patients.pool import PatientJob
from .common import check_body_size, record_limits, run_patient
from .urls import public_base

cds = Blueprint("cds", __name__)


class FeedbackTally:
    """How often cards were accepted or overridden, by override reason; no patient data is kept.

    Bounded whatever clients send: at most ``max_keys`` (outcome, reason) pairs, and a reason code
    longer than ``max_code`` characters is not kept as given.  Once the pairs are used up, new
    reasons are counted together as ``OTHER``.
    """

    OTHER = "(other)"
    TOO_LONG = "(too long)"

    def __init__(self, max_keys: int = 200, max_code: int = 64) -> None:
        self.max_keys, self.max_code = max_keys, max_code
        self._counts: Counter = Counter()
        self._lock = threading.Lock()

    def add(self, outcome: str, reason: str | None) -> None:
        if reason is not None and len(reason) > self.max_code:
            reason = self.TOO_LONG
        with self._lock:
            key = (outcome, reason)
            if key not in self._counts and len(self._counts) >= self.max_keys - 2:
                key = (outcome, self.OTHER)  # room is kept for one OTHER per outcome
            self._counts[key] += 1

    def counts(self) -> dict[tuple[str, str | None], int]:
        with self._lock:
            return dict(self._counts)


def _tally() -> FeedbackTally:
    return current_app.extensions.setdefault("cds_feedback", FeedbackTally())


@cds.errorhandler(CdsRequestError)
def refused(error: CdsRequestError):
    return jsonify(error=str(error)), error.status


@cds.route("/cds-services", methods=["OPTIONS"])
@cds.route("/cds-services/<service_id>", methods=["OPTIONS"])
@cds.route("/cds-services/<service_id>/feedback", methods=["OPTIONS"])
def preflight(service_id: str | None = None):  # the app adds the CORS headers a preflight asks for
    return "", 204


@cds.get("/cds-services")
def services():
    return jsonify(discovery())


MAX_DEPTH = 64  # levels of nesting in a FHIR server's answer; FHIR resources need far fewer


def _nested_deeper_than(value, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _body(record: bool = True):
    """The request's JSON, within the limits of a patient record (nesting, numbers, and for a
    service call, which carries one, its size; feedback has the general request size limit)."""
    limits, text = record_limits(), request.get_data(as_text=True)
    try:
        if record:
            check_body_size()
            return limits.load_json(text)
        limits.check_depth(text)
        return json.loads(text)
    except ValueError:  # not JSON, or a number Python will not convert
        raise CdsRequestError(400, "the request body is not JSON") from None


@cds.post("/cds-services/<service_id>")
def call(service_id: str):
    wanted = check_request(_body(), service_id)
    prefetch = dict(wanted["prefetch"])
    missing = missing_prefetch(prefetch)
    absent = [key for key in prefetch_template() if prefetch.get(key) is None]
    if absent and _allowed(wanted):  # the allowed server fills in every key the prefetch lacks
        prefetch.update(_fetch(wanted, absent))
    elif missing:
        raise CdsRequestError(412, f"the prefetch lacks {', '.join(missing)}, and {_refusal(wanted)}: send them as prefetch")
    bundle = bundle_of(prefetch, wanted["patientId"])
    # in a patient worker, like /api/recommend; unreadable FHIR, or over a limit: 400, 413 or 422 by the app's handler
    outcome = run_patient(PatientJob("recommend", json.dumps(bundle), content_type=FHIR_JSON, as_of=wanted["asOf"],
                                     jurisdiction=wanted.get("jurisdiction")))
    return jsonify(cards=cards_for(outcome, wanted["hookInstance"], public_base(),
                                   current_app.extensions["graph_version"]))


@cds.post("/cds-services/<service_id>/feedback")
def feedback(service_id: str):
    if service_id != SERVICE_ID:
        raise CdsRequestError(404, f"no CDS service '{service_id}' here")
    items = check_feedback(_body(record=False))
    tally = _tally()
    for item in items:
        tally.add(item["outcome"], item["reason"])
    return jsonify(received=len(items))


def _allowed(wanted: dict) -> bool:
    allowed = (current_app.config["SETTINGS"].cds_fhir_server or "").rstrip("/")
    return bool(allowed) and (wanted["fhirServer"] or "").rstrip("/") == allowed


def _refusal(wanted: dict) -> str:
    allowed = (current_app.config["SETTINGS"].cds_fhir_server or "").rstrip("/")
    if not allowed:
        return "this service does not fetch from FHIR servers (no server is allowed by its settings)"
    return f"this service fetches only from {allowed}"


class _Late(Exception):
    """The fetch's deadline passed."""


def _get(url: str, headers: dict[str, str], deadline: float, limit: int) -> bytes:
    """GET ``url`` (no redirects followed) and read at most ``limit + 1`` bytes, all before
    ``deadline`` (a ``time.monotonic`` time): at the deadline a watchdog shuts the socket, whatever
    the server is doing (not answering, or answering a byte at a time)."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _Late
    parts = urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname or "", parts.port, timeout=remaining)
    late = threading.Event()

    def watchdog():
        late.set()
        sock = conn.sock  # None before the connection is made, or after it is closed
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(remaining, watchdog)
    timer.daemon = True
    timer.start()
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers)
        answer = conn.getresponse()
        body = answer.read(limit + 1)
        if late.is_set():
            raise _Late
        if answer.status != 200:
            raise OSError(f"HTTP status {answer.status} {answer.reason}".strip())
        return body
    except (OSError, http.client.HTTPException) as exc:
        if late.is_set() or time.monotonic() >= deadline:
            raise _Late from None
        if isinstance(exc, http.client.HTTPException):
            raise OSError("its answer is not a complete HTTP response") from None
        raise OSError(getattr(exc, "strerror", None) or str(exc) or "the connection failed") from None
    finally:
        timer.cancel()
        conn.close()


def _fetch(wanted: dict, missing: list[str]) -> dict:
    """What the prefetch lacks, from the FHIR server (``_allowed`` has said it is the allowed one).

    All the reads together get one deadline, ``query_timeout_s`` from the start of the first."""
    settings = current_app.config["SETTINGS"]
    allowed = settings.cds_fhir_server.rstrip("/")
    token = (wanted.get("fhirAuthorization") or {}).get("access_token") if isinstance(wanted.get("fhirAuthorization"), dict) else None
    deadline = time.monotonic() + settings.query_timeout_s
    found = {}
    for key in missing:
        query = prefetch_template()[key].replace("{{context.patientId}}", quote(wanted["patientId"], safe=""))
        headers = {"Accept": FHIR_JSON}
        if isinstance(token, str):
            headers["Authorization"] = f"Bearer {token}"
        try:
            body = _get(f"{allowed}/{query}", headers, deadline, settings.max_request_bytes)
        except _Late:
            raise CdsRequestError(412, f"the FHIR server did not give {', '.join(missing[missing.index(key):])} "
                                       f"within {settings.query_timeout_s:g} s") from None
        except OSError as exc:
            raise CdsRequestError(412, f"the FHIR server could not give {key}: {exc}") from None
        except ValueError:  # a port that is not a number, a header value that may not be sent
            raise CdsRequestError(412, f"the request for {key} could not be made to {allowed}") from None
        if len(body) > settings.max_request_bytes:
            raise CdsRequestError(412, f"the FHIR server's answer for {key} is larger than {settings.max_request_bytes} bytes")
        try:
            found[key] = json.loads(body)
        except (ValueError, RecursionError):
            raise CdsRequestError(412, f"the FHIR server's answer for {key} is not JSON") from None
        if _nested_deeper_than(found[key], MAX_DEPTH):
            raise CdsRequestError(412, f"the FHIR server's answer for {key} is nested more than {MAX_DEPTH} levels deep")
    return found


__all__ = ["cds"]
