"""The OpenAPI 3.1 description of every route a program calls: the SPARQL endpoint, the named
queries, the patient routes (with the JSON Schemas of the record and of the answer), the FHIR
routes and the CDS Hooks service.  The pages for people are left out."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from ..fhir.export import RESOURCE_ORDER
from ..fhir.repository import SEARCH_PARAMS

RESULT_TYPES = ("application/sparql-results+json", "application/sparql-results+xml", "text/csv",
                "text/tab-separated-values")
GRAPH_TYPES = ("text/turtle", "application/ld+json", "application/rdf+xml", "application/n-triples")
RECORD_TYPES = ("application/json", "application/ld+json", "text/turtle", "application/fhir+json")


def _schema(name: str) -> dict[str, Any]:
    return json.loads(resources.files("myeloma_kg.patients").joinpath("schemas", name).read_text(encoding="utf-8"))


def embedded(name: str, component: str) -> dict[str, Any]:
    """A shipped JSON Schema as a component of the document: its own ``$id`` and ``$schema`` go (the
    document's dialect is the same), and its local references point into the component."""

    def move(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (v.replace("#/$defs/", f"#/components/schemas/{component}/$defs/", 1) if k == "$ref" else move(v))
                    for k, v in value.items() if k not in ("$id", "$schema")}
        if isinstance(value, list):
            return [move(v) for v in value]
        return value

    return move(_schema(name))


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _text(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}


def document(query_paths: dict[str, Any], version: str) -> dict[str, Any]:
    """The whole document; ``query_paths`` describes the named queries (built by the API)."""
    flag = {"type": "string", "enum": ["true", "false"]}
    patient_params = [
        {"name": "asOf", "in": "query", "required": False, "schema": {"type": "string", "format": "date"},
         "description": "the date the record is read at (YYYY-MM-DD); it wins over the record's own asOf; today when neither"},
        {"name": "strict", "in": "query", "required": False, "schema": flag,
         "description": "true: a record with a key the program does not read is refused (422) instead of named in a warning"},
    ]
    record_body = {"required": True, "description": "a patient record: plain JSON (the schema), JSON-LD, Turtle with the "
                                                    "mkg: terms, or a FHIR R4 Bundle, by Content-Type",
                   "content": {t: {"schema": {"$ref": "#/components/schemas/PatientRecord"}} if t == "application/json"
                               else {"schema": {"type": "object"}} if "json" in t else {"schema": {"type": "string"}}
                               for t in RECORD_TYPES}}
    refusals = {"400": _error("the body is not a record, or a parameter is wrong"),
                "413": _error("the record is larger than the service accepts (error, limit, maximum)"),
                "503": _error("the record was not evaluated: the time limit passed, the client left, or the server is busy")}
    sparql_params = [
        {"name": "query", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "the SPARQL 1.1 query (exactly one per request; none: the service description)"},
        {"name": "default-graph-uri", "in": "query", "required": False,
         "schema": {"type": "array", "items": {"type": "string", "format": "iri"}}, "explode": True,
         "description": "graphs whose merge is the default graph (they override the query's FROM)"},
        {"name": "named-graph-uri", "in": "query", "required": False,
         "schema": {"type": "array", "items": {"type": "string", "format": "iri"}}, "explode": True,
         "description": "the named graphs (they override the query's FROM NAMED)"},
    ]
    answers = {t: {"schema": {"type": "string"}} for t in RESULT_TYPES + GRAPH_TYPES}
    sparql = {
        "get": {"summary": "SPARQL 1.1 query (read-only)", "tags": ["sparql"], "operationId": "sparql_get",
                "parameters": sparql_params,
                "responses": {"200": {"description": "the results (SELECT, ASK) or the graph (CONSTRUCT, DESCRIBE), "
                                                     "as the Accept header asks; without a query, the service description",
                                      "content": answers},
                              "400": _text("the query does not parse, is refused (updates, SERVICE, a graph the store "
                                           "does not hold), or more than one was sent"),
                              "406": _text("no format the query can answer in fits the Accept header"),
                              "503": _text("the query passed the time limit, or the server is busy")}},
        "post": {"summary": "SPARQL 1.1 query by POST", "tags": ["sparql"], "operationId": "sparql_post",
                 "requestBody": {"content": {"application/sparql-query": {"schema": {"type": "string"}},
                                             "application/x-www-form-urlencoded": {"schema": {
                                                 "type": "object", "properties": {"query": {"type": "string"}}}}}},
                 "responses": {"200": {"description": "as for GET", "content": answers},
                               "400": _text("as for GET; SPARQL Update is refused: the endpoint is read-only"),
                               "415": _text("a body of another media type or character set")}},
    }
    paths: dict[str, Any] = {"/sparql": sparql, **query_paths}
    paths["/api/validate"] = {"post": {
        "summary": "Validate a patient record", "tags": ["patients"], "operationId": "validate",
        "parameters": patient_params, "requestBody": record_body,
        "responses": {"200": {"description": "the validation report (violations and warnings in clinical words)",
                              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ValidationReport"}}}},
                      "422": _error("the record is over a limit of the service, or (strict) has keys the program does not read"),
                      **refusals}}}
    paths["/api/recommend"] = {"post": {
        "summary": "Recommendation for a patient", "tags": ["patients"], "operationId": "recommend",
        "parameters": patient_params, "requestBody": record_body,
        "responses": {"200": {"description": "the recommendation (contract section 6)",
                              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Recommendation"}}}},
                      "422": {"description": "the record does not conform (the report), or is over a limit of the "
                                             "service, or (strict) has keys the program does not read (error)",
                              "content": {"application/json": {"schema": {"oneOf": [
                                  {"$ref": "#/components/schemas/ValidationReport"},
                                  {"$ref": "#/components/schemas/Error"}]}}}},
                      **refusals}}}
    paths["/api/schemas/{name}"] = {"get": {
        "summary": "The JSON Schema of the patient record or of the recommendation", "tags": ["patients"],
        "operationId": "schema",
        "parameters": [{"name": "name", "in": "path", "required": True,
                        "schema": {"type": "string", "enum": ["patient-record.json", "recommendation.json"]}}],
        "responses": {"200": {"description": "the schema (JSON Schema draft 2020-12)",
                              "content": {"application/schema+json": {"schema": {"type": "object"}}}},
                      "404": _error("no schema of that name")}}}
    paths["/api/queries"] = {"get": {"summary": "The named queries and their parameters", "tags": ["queries"],
                                     "operationId": "list_queries",
                                     "responses": {"200": {"description": "the catalog",
                                                           "content": {"application/json": {"schema": {"type": "object"}}}}}}}
    paths["/api/openapi.json"] = {"get": {"summary": "This document", "tags": ["api"], "operationId": "openapi",
                                          "responses": {"200": {"description": "the OpenAPI 3.1 document",
                                                                "content": {"application/json": {"schema": {"type": "object"}}}}}}}
    paths["/api/changes"] = {"get": {"summary": "What changed between the known releases and the served graph",
                                     "tags": ["versions"], "operationId": "changes",
                                     "responses": {"200": {"description": "each step, in clinical words",
                                                           "content": {"application/json": {"schema": {"type": "object"}}}}}}}
    paths["/context.jsonld"] = {"get": {"summary": "The JSON-LD context of the plain JSON record", "tags": ["patients"],
                                        "operationId": "context",
                                        "responses": {"200": {"description": "the context",
                                                              "content": {"application/ld+json": {"schema": {"type": "object"}}}}}}}
    fhir_json = {"application/fhir+json": {"schema": {"type": "object"}}}
    fhir_version = {"name": "Accept", "in": "header", "required": False, "schema": {"type": "string"},
                    "description": "application/fhir+json, with fhirVersion=4.0 for the R4 resources (R5 otherwise)"}
    outcome = {"description": "an OperationOutcome", "content": fhir_json}
    paths["/fhir/metadata"] = {"get": {"summary": "The CapabilityStatement", "tags": ["fhir"], "operationId": "fhir_metadata",
                                       "parameters": [fhir_version],
                                       "responses": {"200": {"description": "the CapabilityStatement", "content": fhir_json}}}}
    paths["/fhir/{type}"] = {"get": {
        "summary": "Search the guideline's FHIR resources of one type", "tags": ["fhir"], "operationId": "fhir_search",
        "parameters": [{"name": "type", "in": "path", "required": True, "schema": {"type": "string", "enum": list(RESOURCE_ORDER)}},
                       *({"name": n, "in": "query", "required": False, "schema": {"type": "string"}} for n in SEARCH_PARAMS),
                       fhir_version],
        "responses": {"200": {"description": "a searchset Bundle", "content": fhir_json}, "400": outcome, "404": outcome}}}
    paths["/fhir/{type}/{id}"] = {"get": {
        "summary": "One FHIR resource of the guideline", "tags": ["fhir"], "operationId": "fhir_read",
        "parameters": [{"name": "type", "in": "path", "required": True, "schema": {"type": "string", "enum": list(RESOURCE_ORDER)}},
                       {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}, fhir_version],
        "responses": {"200": {"description": "the resource", "content": fhir_json}, "404": outcome}}}
    paths["/cds-services"] = {"get": {"summary": "CDS Hooks discovery", "tags": ["cds-hooks"], "operationId": "cds_discovery",
                                      "responses": {"200": {"description": "the services",
                                                            "content": {"application/json": {"schema": {"type": "object"}}}}}}}
    paths["/cds-services/{id}"] = {"post": {
        "summary": "CDS Hooks patient-view: cards for the patient in the prefetch", "tags": ["cds-hooks"],
        "operationId": "cds_call",
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
        "responses": {"200": {"description": "the cards", "content": {"application/json": {"schema": {"type": "object"}}}},
                      "400": _error("not a CDS Hooks request"), "404": _error("no such service"),
                      "412": _error("the prefetch lacks what the service needs"),
                      "413": _error("the request is larger than the service accepts"),
                      "422": _error("the request is over a limit of the service"),
                      "503": _error("the time limit passed, or the server is busy")}}}
    paths["/cds-services/{id}/feedback"] = {"post": {
        "summary": "CDS Hooks feedback on cards", "tags": ["cds-hooks"], "operationId": "cds_feedback",
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
        "responses": {"200": {"description": "how many items were received",
                              "content": {"application/json": {"schema": {"type": "object"}}}},
                      "400": _error("not CDS Hooks feedback"), "422": _error("nested too deeply")}}}
    report = {"type": "object", "required": ["patient", "conforms", "violations", "warnings"],
              "properties": {"patient": {"type": "string"}, "asOf": {"type": "string", "format": "date"},
                             "conforms": {"type": "boolean"},
                             "violations": {"type": "array", "items": {"$ref": "#/components/schemas/Issue"}},
                             "warnings": {"type": "array", "items": {"$ref": "#/components/schemas/Issue"}}}}
    issue = {"type": "object", "properties": {"severity": {"type": "string"}, "message": {"type": "string"},
                                              "field": {"type": ["string", "null"]}, "line": {"type": ["integer", "null"]},
                                              "focus": {"type": ["string", "null"]}}}
    error = {"type": "object", "required": ["error"],
             "properties": {"error": {"type": "string", "description": "what is wrong, in words"},
                            "limit": {"type": "string", "description": "the limit a record passed (its setting's name)"},
                            "maximum": {"type": "number"}}}
    return {"openapi": "3.1.0",
            "info": {"title": "myeloma-kg API", "version": version,
                     "description": "The Pan-Pacific anti-CD38 consensus as a knowledge graph: a read-only SPARQL 1.1 "
                                    "endpoint, named queries, patient recommendations, the guideline as FHIR resources "
                                    "and a CDS Hooks service."},
            "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
            "paths": paths,
            "components": {"schemas": {"PatientRecord": embedded("patient-record.json", "PatientRecord"),
                                       "Recommendation": embedded("recommendation.json", "Recommendation"),
                                       "ValidationReport": report, "Issue": issue, "Error": error}}}
