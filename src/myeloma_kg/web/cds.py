"""The CDS Hooks endpoints: ``GET /cds-services``, ``POST /cds-services/<id>`` and its feedback.

The service answers from the request's prefetch.  It asks the EHR's FHIR server for what the
prefetch lacks only when the setting ``cds_fhir_server`` names that very server; otherwise, and
by default, it makes no outbound connection and answers 412 (the CDS Hooks status for missing
prefetch data).  Bad requests get 400 with a JSON error.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from urllib.parse import quote

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

cds = Blueprint("cds", __name__)

_feedback = Counter()  # (outcome, override reason) -> count; no patient data is kept
_feedback_lock = threading.Lock()


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


def _body():
    """The request's JSON, within the limits of a patient record (size, nesting, numbers)."""
    check_body_size()
    try:
        return record_limits().load_json(request.get_data(as_text=True))
    except json.JSONDecodeError:
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
    outcome = run_patient(PatientJob("recommend", json.dumps(bundle), content_type=FHIR_JSON))
    return jsonify(cards=cards_for(outcome, wanted["hookInstance"], request.host_url,
                                   current_app.extensions["graph_version"]))


@cds.post("/cds-services/<service_id>/feedback")
def feedback(service_id: str):
    if service_id != SERVICE_ID:
        raise CdsRequestError(404, f"no CDS service '{service_id}' here")
    items = check_feedback(_body())
    with _feedback_lock:
        for item in items:
            if len(_feedback) < 1000 or (item["outcome"], item["reason"]) in _feedback:
                _feedback[(item["outcome"], item["reason"])] += 1
    return jsonify(received=len(items))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect could lead to another server
        return None


def _allowed(wanted: dict) -> bool:
    allowed = (current_app.config["SETTINGS"].cds_fhir_server or "").rstrip("/")
    return bool(allowed) and (wanted["fhirServer"] or "").rstrip("/") == allowed


def _refusal(wanted: dict) -> str:
    allowed = (current_app.config["SETTINGS"].cds_fhir_server or "").rstrip("/")
    if not allowed:
        return "this service does not fetch from FHIR servers (no server is allowed by its settings)"
    return f"this service fetches only from {allowed}"


def _fetch(wanted: dict, missing: list[str]) -> dict:
    """What the prefetch lacks, from the FHIR server (``_allowed`` has said it is the allowed one)."""
    settings = current_app.config["SETTINGS"]
    allowed = settings.cds_fhir_server.rstrip("/")
    token = (wanted.get("fhirAuthorization") or {}).get("access_token") if isinstance(wanted.get("fhirAuthorization"), dict) else None
    opener = urllib.request.build_opener(_NoRedirect)
    found = {}
    for key in missing:
        query = prefetch_template()[key].replace("{{context.patientId}}", quote(wanted["patientId"], safe=""))
        headers = {"Accept": FHIR_JSON}
        if isinstance(token, str):
            headers["Authorization"] = f"Bearer {token}"
        try:
            with opener.open(urllib.request.Request(f"{allowed}/{query}", headers=headers),
                             timeout=settings.query_timeout_s) as answer:
                body = answer.read(settings.max_request_bytes + 1)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise CdsRequestError(412, f"the FHIR server could not give {key}: {getattr(exc, 'reason', exc)}") from None
        if len(body) > settings.max_request_bytes:
            raise CdsRequestError(412, f"the FHIR server's answer for {key} is larger than {settings.max_request_bytes} bytes")
        try:
            found[key] = json.loads(body)
        except ValueError:
            raise CdsRequestError(412, f"the FHIR server's answer for {key} is not JSON") from None
    return found


__all__ = ["cds"]
