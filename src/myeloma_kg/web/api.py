"""The JSON API: named queries (with an OpenAPI description), patient validation and recommendation."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from ..errors import MyelomaKGError, QueryNotFound, SparqlRequestError
from ..patients.pool import PatientJob
from ..patients.records import CONTEXT_FILE, UnreadableRecord
from ..queries import QueryCatalog
from ..sparql.guard import check_query
from .common import catalog, check_body_size, run_patient

api = Blueprint("api", __name__)


def _catalog() -> QueryCatalog:
    return catalog()


@api.get("/api/queries")
def list_queries():
    return jsonify(queries=[{**q.describe(), "href": f"/api/queries/{q.name}"} for q in _catalog()])


@api.get("/api/queries/<name>")
def run_query(name: str):
    try:
        named = _catalog().get(name)
    except QueryNotFound as exc:
        return jsonify(error=str(exc)), 404
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
            "description": p.description or f"a value of type {p.type}",
            "schema": {"type": {"integer": "integer", "decimal": "number", "boolean": "boolean"}.get(p.type, "string"),
                       **({"default": p.default} if p.default is not None else {}),
                       **({"enum": list(p.enum)} if p.enum else {}),
                       **({"format": "date"} if p.type == "date" else {})},
        } for p in q.params]
        paths[f"/api/queries/{q.name}"] = {"get": {
            "summary": q.summary, "description": q.description, "tags": list(q.tags) or ["queries"],
            "operationId": q.name.replace("-", "_"), "parameters": params,
            "responses": {"200": {"description": "the rows of the query as JSON"},
                          "400": {"description": "a parameter is missing or of the wrong type"}}}}
    record = {"description": "a patient record: JSON, JSON-LD or Turtle (contract section 5), or a FHIR R4 Bundle",
              "content": {t: {"schema": {"type": "object" if "json" in t else "string"}}
                          for t in ("application/json", "application/ld+json", "text/turtle", "application/fhir+json")}}
    refusals = {"400": {"description": "the body is not a record"},
                "413": {"description": "the record is larger than the service accepts ('error', 'limit', 'maximum')"},
                "503": {"description": "the record was not evaluated: the time limit passed, or the server is busy"}}
    paths["/api/validate"] = {"post": {"summary": "Validate a patient record", "requestBody": record,
                                       "responses": {"200": {"description": "the validation report"},
                                                     "422": {"description": "the record is over a limit of the service "
                                                                            "(too many items, too deep)"},
                                                     **refusals}}}
    paths["/api/recommend"] = {"post": {"summary": "Recommendation for a patient", "requestBody": record,
                                        "responses": {"200": {"description": "the recommendation (contract section 6)"},
                                                      "422": {"description": "the record does not conform (the report), "
                                                                             "or is over a limit of the service ('error')"},
                                                      **refusals}}}
    return jsonify({"openapi": "3.0.3",
                    "info": {"title": "myeloma-kg API", "version": "0.1.0",
                             "description": "Named SPARQL queries over the Pan-Pacific anti-CD38 consensus graph, "
                                            "and patient recommendations."},
                    "paths": paths})


def _patient(action: str):
    check_body_size()
    text = request.get_data(as_text=True)
    if not text.strip():
        raise UnreadableRecord("the request has no body: send a patient record")
    # an unreadable body, or one over a limit, is answered by the app's error handler (400, 413, 422)
    return run_patient(PatientJob(action, text, content_type=request.mimetype))


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


__all__ = ["api"]
