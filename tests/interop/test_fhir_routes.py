"""The read-only ``/fhir`` routes, through the Flask test client: every answer is FHIR JSON that
validates with fhir.resources, errors are OperationOutcomes, and nothing can be written."""

from __future__ import annotations

import pytest

from myeloma_kg.fhir.conformance import model_class, problems
from myeloma_kg.fhir.export import build

R4_ACCEPT = {"Accept": "application/fhir+json; fhirVersion=4.0"}


@pytest.fixture()
def app(make_app):
    return make_app(query_workers=1)


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def export(kg, settings):
    return build(kg, settings.queries_dir, "R5")


def _fhir(response, status=200, version="R5"):
    assert response.status_code == status, response.data[:300]
    assert response.mimetype == "application/fhir+json"
    body = response.get_json(force=True)
    assert problems(body, version) is None
    return body


def test_metadata_lists_the_types_with_read_and_search(client, export):
    statement = _fhir(client.get("/fhir/metadata"))
    assert statement["resourceType"] == "CapabilityStatement" and statement["fhirVersion"] == "5.0.0"
    resources = statement["rest"][0]["resource"]
    assert {r["type"] for r in resources} == set(export.counts())
    for resource in resources:
        assert [i["code"] for i in resource["interaction"]] == ["read", "search-type"]
    r4 = _fhir(client.get("/fhir/metadata", headers=R4_ACCEPT), version="R4")
    assert r4["fhirVersion"] == "4.0.1"
    assert {r["type"] for r in r4["rest"][0]["resource"]} == {"PlanDefinition", "ActivityDefinition"}


@pytest.mark.parametrize("resource_type", ["PlanDefinition", "ActivityDefinition", "ArtifactAssessment", "Evidence", "Citation"])
def test_search_gives_every_resource_of_the_type(client, export, resource_type):
    bundle = _fhir(client.get(f"/fhir/{resource_type}"))
    assert bundle["type"] == "searchset"
    assert bundle["total"] == len(bundle["entry"]) == export.counts()[resource_type]
    for entry in bundle["entry"]:
        assert entry["fullUrl"].endswith(f"/fhir/{resource_type}/{entry['resource']['id']}")
        assert entry["search"] == {"mode": "match"}


def test_plan_definitions_are_the_18_recommendations(client, kg):
    count = kg.select("SELECT (COUNT(?r) AS ?n) WHERE { ?r a mkg:Recommendation }")[0]["n"]
    assert _fhir(client.get("/fhir/PlanDefinition"))["total"] == count == 19


def test_read_one_resource(client, export):
    plan = _fhir(client.get("/fhir/PlanDefinition/R3"))
    assert plan == next(r for r in export.resources("PlanDefinition") if r["id"] == "R3")
    evidence = _fhir(client.get("/fhir/Evidence/ikema-pfs-all-final"))
    assert evidence["statistic"][0]["quantity"]["value"] == 0.58
    model_class("Evidence").model_validate(evidence)


def test_search_by_url_and_id(client):
    by_url = _fhir(client.get("/fhir/PlanDefinition?url=https://w3id.org/myeloma-kg/recommendation/R3"))
    assert [e["resource"]["id"] for e in by_url["entry"]] == ["R3"]
    by_id = _fhir(client.get("/fhir/ActivityDefinition?_id=IsaKd"))
    assert [e["resource"]["url"] for e in by_id["entry"]] == ["https://w3id.org/myeloma-kg/regimen/IsaKd"]
    assert _fhir(client.get("/fhir/Evidence?_id=no-such-outcome"))["total"] == 0


@pytest.mark.parametrize("path,status,words", [
    ("/fhir/PlanDefinition/R99", 404, "no PlanDefinition R99"),
    ("/fhir/Patient", 404, "Patient is not served"),
    ("/fhir/Patient/123", 404, "Patient is not served"),
    ("/fhir/%3Cscript%3E/1", 404, "this type is not served"),
    ("/fhir/PlanDefinition/%3Cb%3E", 404, "no PlanDefinition with this id"),
    ("/fhir/PlanDefinition?title=R3", 400, "'title' is not supported"),
    ("/fhir/PlanDefinition?_id=R1&_id=R2", 400, "only once"),
    ("/fhir/a/b/c", 404, "the FHIR routes are"),
])
def test_errors_are_operation_outcomes(client, path, status, words):
    body = _fhir(client.get(path), status)
    assert body["resourceType"] == "OperationOutcome"
    assert words in body["issue"][0]["diagnostics"]
    assert "<script>" not in body["issue"][0]["diagnostics"] and "<b>" not in body["issue"][0]["diagnostics"]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("path", ["/fhir/metadata", "/fhir/PlanDefinition", "/fhir/PlanDefinition/R3"])
def test_nothing_can_be_written(client, method, path):
    response = getattr(client, method)(path, json={"resourceType": "PlanDefinition", "status": "active"},
                                       content_type="application/fhir+json")
    body = _fhir(response, 405)
    assert response.headers["Allow"] == "GET, HEAD"
    assert "read-only" in body["issue"][0]["diagnostics"]
    assert _fhir(client.get("/fhir/PlanDefinition/R3"))["status"] == "draft"  # unchanged


def test_r4_by_the_media_type_parameter(client):
    response = client.get("/fhir/PlanDefinition/R3", headers=R4_ACCEPT)
    assert response.headers["Content-Type"].endswith("fhirVersion=4.0")
    assert client.get("/fhir/PlanDefinition/R3").headers["Content-Type"].endswith("fhirVersion=5.0")
    plan = _fhir(response, version="R4")
    urls = {e["url"] for e in plan["action"][0]["extension"]}
    assert "http://hl7.org/fhir/StructureDefinition/cqf-strengthOfRecommendation" in urls
    assert problems(plan, "R5") is not None  # really the R4 shape
    assert _fhir(client.get("/fhir/Evidence", headers=R4_ACCEPT), 404, "R4")["issue"][0]["code"] == "not-found"
    unknown = _fhir(client.get("/fhir/metadata", headers={"Accept": "application/fhir+json; fhirVersion=3.0"}), 406)
    assert "3.0 is not served" in unknown["issue"][0]["diagnostics"]


def test_head_and_cors(client):
    response = client.head("/fhir/PlanDefinition/R3")
    assert response.status_code == 200 and response.data == b""
    assert client.get("/fhir/metadata").headers["Access-Control-Allow-Origin"] == "*"


def test_the_export_is_built_once_per_app(app, client):
    client.get("/fhir/PlanDefinition/R1")
    server = app.extensions["fhir"]
    first = server.served("R5")
    client.get("/fhir/Evidence")
    client.get("/fhir/Citation/pmid-40786241")
    assert server.served("R5") is first
    assert client.get("/fhir/Evidence").data == client.get("/fhir/Evidence").data
