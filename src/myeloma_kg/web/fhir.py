"""``/fhir``: the guideline's FHIR export, read-only (``read`` and ``search-type``), in FHIR JSON.

R5 by default; an ``Accept`` of ``application/fhir+json; fhirVersion=4.0`` asks for the R4 variant
(PlanDefinitions and ActivityDefinitions only).  Errors are OperationOutcomes: an unknown type or
id is 404, a method other than GET or HEAD is 405, an unsupported search parameter is 400.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, current_app, request

from ..fhir.repository import FHIR_RELEASES, MEDIA_TYPE, MIME_VERSIONS, SEARCH_PARAMS, FhirRepository, dumps, outcome
from .urls import public_base

fhir = Blueprint("fhir", __name__)
ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
_TYPE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")


def _server() -> FhirRepository:
    server = current_app.extensions.get("fhir")
    if server is None:  # one per app, built on first use
        server = current_app.extensions.setdefault(
            "fhir", FhirRepository(current_app.extensions["kg"], current_app.config["SETTINGS"].queries_dir))
    return server


def _answer(body: bytes | dict, status: int = 200, version: str | None = None) -> Response:
    """FHIR JSON; with ``version``, the media type names it (``fhirVersion=5.0`` or ``4.0``)."""
    data = body if isinstance(body, bytes) else dumps(body)
    parameter = f"; fhirVersion={FHIR_RELEASES[version][:3]}" if version else ""
    return Response(data, status=status, content_type=f"{MEDIA_TYPE}; charset=utf-8{parameter}")


def _problem(status: int, code: str, text: str) -> Response:
    response = _answer(outcome("error", code, text), status)
    if status == 405:
        response.headers["Allow"] = "GET, HEAD"
    return response


def _version() -> str | Response:
    """The FHIR version the client asks for through the media type's fhirVersion parameter."""
    for part in request.headers.get("Accept", "").split(","):
        match = re.search(r"fhirVersion\s*=\s*\"?([0-9.]+)", part)
        if match:
            wanted = MIME_VERSIONS.get(match.group(1))
            if wanted is None:
                return _problem(406, "not-supported", f"FHIR version {match.group(1)} is not served; "
                                "ask for fhirVersion=5.0 (the default) or fhirVersion=4.0")
            return wanted
    return "R5"


def _base() -> str:
    return public_base() + "/fhir"


def _refuse_writes() -> Response | None:
    if request.method not in ("GET", "HEAD"):
        return _problem(405, "not-supported", f"{request.method} is not allowed: this FHIR server is read-only "
                        "(read and search-type only)")
    return None


def _known_type(version: str, resource_type: str) -> Response | None:
    types = _server().served(version).types()
    if resource_type not in types:
        shown = resource_type if _TYPE.match(resource_type) else "this type"
        return _problem(404, "not-found", f"{shown} is not served here (FHIR {version}); "
                        f"the types are {', '.join(types)}")
    return None


def _preflight(resource_type: str | None = None) -> tuple[str | None, Response | None]:
    """The FHIR version asked for, or the refusal to answer with: a write, a bad version, an unknown type."""
    refused = _refuse_writes()
    if refused:
        return None, refused
    version = _version()
    if isinstance(version, Response):
        return None, version
    if resource_type is not None:
        unknown = _known_type(version, resource_type)
        if unknown:
            return None, unknown
    return version, None


@fhir.route("/fhir/metadata", methods=ANY_METHOD)
def metadata():
    version, refused = _preflight()
    if refused:
        return refused
    return _answer(_server().capability_statement(version, _base()), version=version)


@fhir.route("/fhir/<resource_type>", methods=ANY_METHOD)
def search(resource_type: str):
    version, refused = _preflight(resource_type)
    if refused:
        return refused
    filters = {}
    for name, value in request.args.items(multi=True):
        if name == "_format" and value in ("json", MEDIA_TYPE, "application/json"):
            continue
        if name not in SEARCH_PARAMS:
            return _problem(400, "not-supported", f"the search parameter {name[:40]!r} is not supported; "
                            f"the parameters are {', '.join(SEARCH_PARAMS)}")
        if name in filters:
            return _problem(400, "not-supported", f"the search parameter {name!r} may be given only once")
        filters[name] = value
    return _answer(_server().search(version, resource_type, _base(), filters), version=version)


@fhir.route("/fhir/<resource_type>/<resource_id>", methods=ANY_METHOD)
def read(resource_type: str, resource_id: str):
    version, refused = _preflight(resource_type)
    if refused:
        return refused
    body = _server().read(version, resource_type, resource_id)
    if body is None:
        shown = resource_id if re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", resource_id) else "with this id"
        return _problem(404, "not-found", f"no {resource_type} {shown} in the export (FHIR {version})")
    return _answer(body, version=version)


@fhir.route("/fhir", methods=ANY_METHOD)
@fhir.route("/fhir/<path:rest>", methods=ANY_METHOD)
def elsewhere(rest: str = ""):
    refused = _refuse_writes()
    if refused:
        return refused
    return _problem(404, "not-found", "nothing here: the FHIR routes are /fhir/metadata, /fhir/<type> and /fhir/<type>/<id>")
