"""With ``public_url`` set, absolute URLs in answers use it and never the client's Host header;
without it, they follow the address the request was made to, as before."""

from __future__ import annotations

import json

import pytest

from myeloma_kg.errors import SettingsError
from myeloma_kg.fhir.cds import SERVICE_ID
from myeloma_kg.web.urls import check_public_url

from conftest import ROOT

PUBLIC = "https://kg.example.org"
EVIL = "evil.example"
HOSTILE = {"Host": EVIL, "X-Forwarded-Host": EVIL, "X-Forwarded-Proto": "http", "Forwarded": f"host={EVIL}"}
R4 = {"Accept": "application/fhir+json; fhirVersion=4.0"}
KEY_OF = {"Condition": "conditions", "MedicationAdministration": "administrations", "MedicationStatement": "statements",
          "MedicationRequest": "requests", "Observation": "observations", "CarePlan": "carePlans"}


def _cds_request() -> dict:
    found = [e["resource"] for e in json.loads((ROOT / "examples/fhir/dara-refractory-recent.json").read_text())["entry"]]
    patient = next(r for r in found if r["resourceType"] == "Patient")
    prefetch = {"patient": patient, **{key: {"resourceType": "Bundle", "type": "searchset",
                                            "entry": [{"resource": r} for r in found if r["resourceType"] == kind]}
                                       for kind, key in KEY_OF.items()}}
    return {"hook": "patient-view", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "context": {"patientId": patient["id"]}, "prefetch": prefetch}


# (method, path, extra headers, body): every route that writes an absolute URL, and redirects
ROUTES = [
    ("GET", "/fhir/metadata", {}, None),
    ("GET", "/fhir/metadata", R4, None),
    ("GET", "/fhir/PlanDefinition", {}, None),
    ("GET", "/fhir/PlanDefinition", R4, None),
    ("GET", "/fhir/ActivityDefinition?_id=nope", {}, None),
    ("GET", "/fhir/Evidence", {}, None),
    ("GET", "/cds-services", {}, None),
    ("POST", f"/cds-services/{SERVICE_ID}", {}, _cds_request()),
    ("GET", "/api//queries", {}, None),  # Werkzeug redirects a doubled slash, with an absolute Location
    ("GET", "/recommendation//R1", {}, None),
    ("GET", "/api/openapi.json", {}, None),
    ("GET", "/", {}, None),
]


@pytest.fixture(scope="module")
def public_client(make_app):
    return make_app(query_workers=1, public_url=PUBLIC + "/").test_client()


def _send(client, method, path, headers, body):
    return client.open(path, method=method, headers={**HOSTILE, **headers},
                       data=None if body is None else json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("method,path,headers,body", ROUTES, ids=[f"{m} {p}{' R4' if h else ''}" for m, p, h, _ in ROUTES])
def test_with_public_url_no_answer_names_the_host_header(public_client, method, path, headers, body):
    answer = _send(public_client, method, path, headers, body)
    assert answer.status_code < 400, answer.data[:300]
    assert EVIL not in answer.get_data(as_text=True)
    assert all(EVIL not in value for _, value in answer.headers.items())


def test_with_public_url_the_absolute_urls_are_the_public_ones(public_client):
    metadata = _send(public_client, "GET", "/fhir/metadata", {}, None).get_json()
    assert metadata["url"] == f"{PUBLIC}/fhir/metadata" and metadata["implementation"]["url"] == f"{PUBLIC}/fhir"
    bundle = _send(public_client, "GET", "/fhir/PlanDefinition", {}, None).get_json()
    assert bundle["link"][0]["url"] == f"{PUBLIC}/fhir/PlanDefinition"
    assert all(e["fullUrl"].startswith(f"{PUBLIC}/fhir/PlanDefinition/") for e in bundle["entry"])
    cards = _send(public_client, "POST", f"/cds-services/{SERVICE_ID}", {}, _cds_request()).get_json()["cards"]
    urls = [c["source"]["url"] for c in cards if "url" in c["source"]] + [link["url"] for c in cards for link in c.get("links", [])]
    assert urls and all(url.startswith(PUBLIC + "/") for url in urls)
    redirect = _send(public_client, "GET", "/api//queries", {}, None)
    assert redirect.status_code in (301, 308) and redirect.headers["Location"] == f"{PUBLIC}/api/queries"


def test_with_public_url_the_sparql_service_description_names_it(public_client):
    answer = _send(public_client, "GET", "/sparql", {}, None)
    text = answer.get_data(as_text=True)
    assert f"<{PUBLIC}/sparql>" in text and EVIL not in text


def test_without_public_url_the_urls_follow_the_request(make_app):
    client = make_app(query_workers=1).test_client()
    metadata = client.get("/fhir/metadata", base_url="http://kg.internal:8080").get_json()
    assert metadata["url"] == "http://kg.internal:8080/fhir/metadata"


@pytest.mark.parametrize("url", ["kg.example.org", "ftp://kg.example.org/", "https://", "https://kg.example.org/?a=b"])
def test_a_public_url_that_is_not_an_address_is_refused(url):
    with pytest.raises(SettingsError):
        check_public_url(url)
    check_public_url("https://kg.example.org/base/")
