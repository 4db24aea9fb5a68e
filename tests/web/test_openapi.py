"""The OpenAPI document of the named queries says what the route accepts: IRI parameters are
typed as IRIs with the pattern the route checks, booleans are booleans, and a value given empty
is refused (400) rather than read as absent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from jsonschema import Draft4Validator

BOOLEAN_QUERY = "anti-cd38-overall-survival"  # includeLater: boolean, default false
IRI_QUERY = "hazard-ratios"  # subject: iri, default rec:R8


@pytest.fixture(scope="module")
def spec(app):
    return app.test_client().get("/api/openapi.json").get_json()


def _params(spec):
    for path, item in spec["paths"].items():
        if not path.startswith("/api/queries/"):
            continue
        for param in item.get("get", {}).get("parameters", []):
            yield path.rsplit("/", 1)[-1], param


def test_iri_and_boolean_parameters_are_typed(spec, catalog):
    types = {(q.name, p.name): p.type for q in catalog for p in q.params}
    seen = set()
    for query, param in _params(spec):
        kind, schema = types[(query, param["name"])], param["schema"]
        seen.add(kind)
        if kind == "iri":
            assert schema["type"] == "string" and schema["format"] == "iri" and schema["pattern"]
            assert "prefixed name" in param["description"]
        elif kind == "boolean":
            assert schema["type"] == "boolean"
        assert param["schema"].get("allowEmptyValue") is not True
        if "default" in schema:  # each default is a value of its own schema
            assert not list(Draft4Validator({k: v for k, v in schema.items() if k != "format"}).iter_errors(schema["default"]))
    assert {"iri", "boolean"} <= seen


@pytest.mark.parametrize("value,valid", [
    ("rec:R8", True), ("regimen:IsaPd", True), ("https://w3id.org/myeloma-kg/recommendation/R8", True),
    ("not an iri", False), ("rec:R 8", False), ("R8", False), ('rec:"R8"', False),
])
def test_the_iri_pattern_is_what_the_route_accepts(client, spec, value, valid):
    param = next(p for q, p in _params(spec) if q == IRI_QUERY and p["name"] == "subject")
    assert bool(re.match(param["schema"]["pattern"], value)) is valid
    answer = client.get(f"/api/queries/{IRI_QUERY}", query_string={"subject": value})
    assert (answer.status_code == 200) is valid, answer.get_json()


@pytest.mark.parametrize("query,params,status,words", [
    (BOOLEAN_QUERY, {"includeLater": ""}, 400, "empty"),
    (BOOLEAN_QUERY, {"includeLater": " "}, 400, "empty"),
    (BOOLEAN_QUERY, {"includeLater": "yes"}, 400, "not a valid boolean"),
    (BOOLEAN_QUERY, {"includeLater": "true"}, 200, None),
    (BOOLEAN_QUERY, {"includeLater": "false"}, 200, None),
    (BOOLEAN_QUERY, {}, 200, None),
    (IRI_QUERY, {"subject": ""}, 400, "empty"),
    (IRI_QUERY, [("subject", "rec:R8"), ("subject", "rec:R3")], 400, "given 2 times"),
])
def test_empty_and_repeated_values_are_refused(client, query, params, status, words):
    answer = client.get(f"/api/queries/{query}", query_string=params)
    assert answer.status_code == status, answer.get_json()
    if words:
        assert words in answer.get_json()["error"]


def test_the_document_is_valid_openapi_3_1_and_describes_every_route_a_program_calls(app, spec):
    from openapi_spec_validator import validate

    validate(spec)
    assert spec["openapi"] == "3.1.0"
    documented = {re.sub(r"\{[^}]+\}", "{}", path) for path in spec["paths"]}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(("pages.", "changes.page")) or rule.endpoint in ("fhir.elsewhere", "api.run_query"):
            continue  # pages for people, the FHIR catch-all (it answers 404/405), named queries (one path each)
        path = re.sub(r"<(?:[^:>]+:)?[^>]+>", "{}", rule.rule)
        assert path in documented, f"{rule.rule} ({rule.endpoint}) is not in /api/openapi.json"
    assert any(p.startswith("/api/queries/") for p in spec["paths"])


def test_the_document_carries_the_shipped_json_schemas(spec):
    import json

    import myeloma_kg.patients
    from myeloma_kg.web.openapi import embedded

    folder = Path(myeloma_kg.patients.__file__).parent / "schemas"
    schemas = spec["components"]["schemas"]
    for component, name in (("PatientRecord", "patient-record.json"), ("Recommendation", "recommendation.json")):
        shipped = json.loads((folder / name).read_text())
        assert schemas[component] == embedded(name, component)
        assert schemas[component]["properties"].keys() == shipped["properties"].keys()
        assert "#/$defs/" not in json.dumps(schemas[component])
    recommend = spec["paths"]["/api/recommend"]["post"]
    assert recommend["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/PatientRecord"}
    assert {p["name"] for p in recommend["parameters"]} == {"asOf", "strict"}
