"""The JSON API: named queries (with an OpenAPI description), patient validation and recommendation."""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources

from flask import Blueprint, Response, current_app, jsonify, request

from ..config import program_version
from ..errors import MyelomaKGError, QueryNotFound, RequestError, SparqlRequestError
from ..patients.pool import PatientJob
from ..patients.records import CONTEXT_FILE, UnreadableRecord, iso_date, unknown_keys
from ..queries import QueryCatalog
from ..sparql.guard import check_query
from .common import catalog, check_body_size, record_limits, run_patient
from .openapi import document

api = Blueprint("api", __name__)


def _catalog() -> QueryCatalog:
    return catalog()


@api.get("/api/queries")
def list_queries():
    return jsonify(queries=[{**q.describe(), "href": f"/api/queries/{q.name}"} for q in _catalog()])


# What an IRI parameter accepts (queries.expand_iri): an absolute IRI, or a prefixed name with one
# of the project's prefixes, which has the same shape.
IRI_PATTERN = r'^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>"{}|\\^`]*$'
SCHEMA_TYPES = {"integer": "integer", "decimal": "number", "boolean": "boolean"}


def _refused_values(named) -> str | None:
    """Why the request's parameters cannot be used as they are, or None.  A parameter given but
    empty is refused rather than read as absent (the OpenAPI document allows no empty values)."""
    for key in request.args:
        values = request.args.getlist(key)
        if len(values) > 1:
            return f"parameter {key[:60]!r} is given {len(values)} times; give it once"
        if not values[0].strip() and any(p.name == key for p in named.params):
            return f"parameter {key!r} is empty: give a value or leave it out"
    return None


@api.get("/api/queries/<name>")
def run_query(name: str):
    try:
        named = _catalog().get(name)
    except QueryNotFound as exc:
        return jsonify(error=str(exc)), 404
    refused = _refused_values(named)
    if refused:
        return jsonify(error=refused), 400
    if any(p.name == "patient" for p in named.params):
        return jsonify(error="patient queries run with 'myeloma-kg query --patient'; use POST /api/recommend here"), 400
    try:
        check_query(named.text)  # the same refusals as /sparql: the server never reaches out (SERVICE)
    except SparqlRequestError as exc:
        return jsonify(error=f"{exc}; run this query with 'myeloma-kg query' instead"), 400
    try:
        bindings = named.bind(request.args.to_dict())
        rows = current_app.extensions["kg"].select(named.text, bindings)
    except MyelomaKGError as exc:
        return jsonify(error=str(exc)), 400
    return jsonify(query=named.name, rows=rows)


@api.get("/api/openapi.json")
def openapi():
    paths = {}
    for q in _catalog():
        if any(p.name == "patient" for p in q.params):
            continue
        params = [{
            "name": p.name, "in": "query", "required": p.required and p.default is None,
            "description": _describe(p), "schema": _schema(p),
        } for p in q.params]
        paths[f"/api/queries/{q.name}"] = {"get": {
            "summary": q.summary, "description": q.description, "tags": list(q.tags) or ["queries"],
            "operationId": q.name.replace("-", "_"), "parameters": params,
            "responses": {"200": {"description": "the rows of the query as JSON"},
                          "400": {"description": "a parameter is missing or of the wrong type"}}}}
    return jsonify(document(paths, program_version() or "unknown"))


def _describe(param) -> str:
    text = param.description or f"a value of type {param.type}"
    if param.type == "iri":
        text += " (an IRI, or a prefixed name with one of the project's prefixes, such as drug:daratumumab or rec:R8)"
    elif param.type == "boolean":
        text += " (true or false)"
    return text


def _schema(param) -> dict:
    """The OpenAPI schema of a named query's parameter."""
    schema: dict = {"type": SCHEMA_TYPES.get(param.type, "string")}
    if param.type == "iri":
        schema |= {"format": "iri", "pattern": IRI_PATTERN}
    elif param.type == "date":
        schema["format"] = "date"
    elif param.type == "string":
        schema["minLength"] = 1
    if param.default is not None:
        schema["default"] = str(param.default).strip().lower() == "true" if param.type == "boolean" else param.default
    if param.enum:
        schema["enum"] = list(param.enum)
    return schema


def _patient(action: str):
    """A patient request's answer.  ``?asOf=YYYY-MM-DD`` sets the date the record is read at (it wins
    over the record's own ``asOf``); ``?strict=true`` refuses (422) a record with a key the program
    does not read, which is otherwise named in a warning."""
    check_body_size()
    text = request.get_data(as_text=True)
    if not text.strip():
        raise UnreadableRecord("the request has no body: send a patient record")
    as_of = _as_of_parameter()
    jurisdiction = _jurisdiction_parameter()
    if _flag("strict"):
        _refuse_unknown_keys(text)
    # an unreadable body, or one over a limit, is answered by the app's error handler (400, 413, 422)
    return run_patient(PatientJob(action, text, content_type=request.mimetype, as_of=as_of, jurisdiction=jurisdiction))


def _flag(name: str) -> bool:
    values = request.args.getlist(name)
    if not values:
        return False
    if len(values) > 1 or values[0].strip().lower() not in ("true", "false"):
        raise RequestError(400, f"'{name}' is true or false, given once")
    return values[0].strip().lower() == "true"


def _as_of_parameter() -> dt.date | None:
    values = request.args.getlist("asOf")
    if not values:
        return None
    found = iso_date(values[0]) if len(values) == 1 else None
    if found is None:
        raise RequestError(400, "'asOf' is the date the record is read at, written YYYY-MM-DD and given once")
    return found


def _jurisdiction_parameter() -> str | None:
    """``?jurisdiction=JP``: whose approvals the answer marks for each option (a code the graph records)."""
    values = request.args.getlist("jurisdiction")
    if not values:
        return None
    code = values[0].strip().upper() if len(values) == 1 else ""
    codes = current_app.extensions["recommender"].jurisdictions
    if code not in codes:
        raise RequestError(400, "'jurisdiction' is the code of one jurisdiction the graph records, given once: "
                                + ", ".join(sorted(codes)))
    return code


def _refuse_unknown_keys(text: str) -> None:
    """With ?strict=true, a plain JSON record naming a key the program does not read is refused."""
    try:
        data = record_limits().load_json(text)
    except json.JSONDecodeError:
        return  # not JSON: Turtle, or unreadable (the reader says which)
    if not isinstance(data, dict) or data.get("resourceType") is not None or "@graph" in data or "@id" in data:
        return  # FHIR and explicit JSON-LD have readers of their own
    unknown = unknown_keys(data)
    if unknown:
        raise RequestError(422, "strict: the record has keys the program does not read: " + "; ".join(unknown))


@api.post("/api/validate")
def validate():
    return jsonify(_patient("validate").as_dict())


@api.post("/api/recommend")
def recommend():
    outcome = _patient("recommend")
    if outcome.recommendation is None:
        return jsonify(outcome.report.as_dict()), 422
    return jsonify(outcome.recommendation)


@api.get("/context.jsonld")
def context():
    return Response(CONTEXT_FILE.read_text(encoding="utf-8"), mimetype="application/ld+json")


SCHEMAS = ("patient-record.json", "recommendation.json")


@api.get("/api/schemas/<name>")
def schema(name: str):
    """The JSON Schemas (draft 2020-12) of the patient record and of the recommendation."""
    if name not in SCHEMAS:
        return jsonify(error=f"no schema named {name!r}; the schemas are {', '.join(SCHEMAS)}"), 404
    text = resources.files("myeloma_kg.patients").joinpath("schemas", name).read_text(encoding="utf-8")
    return Response(text, mimetype="application/schema+json")


__all__ = ["api"]
