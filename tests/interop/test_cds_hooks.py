"""The CDS Hooks service, tested as a CDS client uses it: real HTTP requests to a running server
(``myeloma-kg serve``, waitress, its own process), checking the JSON shapes of the CDS Hooks
specification (discovery, cards, feedback), the answers from prefetch alone, and that the service
never connects to the request's fhirServer unless its settings name that server."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from conftest import ROOT, _free_port, _wait_for

FHIR = ROOT / "examples" / "fhir"
JSON = ROOT / "examples" / "patients"
SERVICE = "myeloma-kg-anti-cd38"
KEY_OF = {"Condition": "conditions", "MedicationAdministration": "administrations", "MedicationStatement": "statements",
          "MedicationRequest": "requests", "Observation": "observations", "CarePlan": "carePlans"}


# -- a CDS client's view ----------------------------------------------------------------------------

def call(url: str, body=None, method: str | None = None, raw: bytes | None = None, headers=None) -> tuple[int, object]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method or ("POST" if data is not None else "GET"),
                                     headers={"Content-Type": "application/json", "Accept": "application/json",
                                              **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        text = exc.read()
        return exc.code, json.loads(text) if text.startswith(b"{") else text.decode(errors="replace")


def resources(name: str) -> list[dict]:
    return [e["resource"] for e in json.loads((FHIR / name).read_text())["entry"]]


def prefetch_of(name: str) -> dict:
    found = resources(name)
    prefetch = {"patient": next(r for r in found if r["resourceType"] == "Patient")}
    for kind, key in KEY_OF.items():
        prefetch[key] = {"resourceType": "Bundle", "type": "searchset",
                         "entry": [{"resource": r, "search": {"mode": "match"}} for r in found if r["resourceType"] == kind]}
    return prefetch


def hook_request(name: str, **changes) -> dict:
    patient = next(r for r in resources(name) if r["resourceType"] == "Patient")
    body = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/example", "patientId": patient["id"]}, "prefetch": prefetch_of(name)}
    body.update(changes)
    return body


def no_empty_values(value, where="response") -> None:
    """CDS Hooks forbids empty JSON values: optional fields are left out instead."""
    assert value not in (None, "", [], {}), f"empty value at {where}"
    if isinstance(value, dict):
        for key, item in value.items():
            no_empty_values(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            no_empty_values(item, f"{where}[{index}]")


def check_card(card: dict) -> None:
    assert isinstance(card["summary"], str) and 0 < len(card["summary"]) < 140, card["summary"]  # CDS Hooks: <140
    assert card["indicator"] in ("info", "warning", "critical")
    assert isinstance(card["source"]["label"], str) and card["source"]["label"]
    assert set(card) <= {"uuid", "summary", "detail", "indicator", "source", "suggestions", "selectionBehavior",
                         "overrideReasons", "links", "extension"}
    uuid.UUID(card["uuid"])
    if "suggestions" in card:
        assert card.get("selectionBehavior") in ("at-most-one", "any")
    for reason in card.get("overrideReasons", []):
        assert reason["code"] and reason["system"] and reason["display"]
    for link in card.get("links", []):
        assert link["label"] and link["url"].startswith("http") and link["type"] in ("absolute", "smart")
    topic = card["source"].get("topic")
    if topic is not None:
        assert topic["code"] and topic["system"]


def check_cards(answer: dict) -> list[dict]:
    assert set(answer) <= {"cards", "systemActions"} and isinstance(answer["cards"], list)
    no_empty_values(answer)
    for card in answer["cards"]:
        check_card(card)
    assert len({c["uuid"] for c in answer["cards"]}) == len(answer["cards"])
    return answer["cards"]


# -- servers ---------------------------------------------------------------------------------------

class Trap:
    """A listening loopback socket that nothing should connect to."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/fhir"

    def connections(self, wait: float = 0.3) -> int:
        count = 0
        while select.select([self.sock], [], [], wait)[0]:
            conn, _ = self.sock.accept()
            conn.close()
            count += 1
        return count


@pytest.fixture()
def trap():
    t = Trap()
    yield t
    t.sock.close()


class FakeFhirRepository:
    """A FHIR server answering the prefetch queries for one example patient, and noting each request."""

    def __init__(self, name: str) -> None:
        found = resources(name)
        self.requests: list[tuple[str, str | None]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                owner.requests.append((self.path, self.headers.get("Authorization")))
                path = urlsplit(self.path)
                kind = unquote(path.path.rsplit("/", 2)[-1] if "?" not in self.path else path.path.rsplit("/", 1)[-1])
                if path.path.count("/") >= 3 and not path.query:  # /fhir/Patient/<id>
                    kind, rid = path.path.split("/")[-2:]
                    body = next((r for r in found if r["resourceType"] == kind and r["id"] == unquote(rid)), None)
                else:
                    patient = parse_qs(path.query).get("patient", [""])[0]
                    body = {"resourceType": "Bundle", "type": "searchset", "entry": [
                        {"resource": r} for r in found if r["resourceType"] == kind
                        and r.get("subject", {}).get("reference") == f"Patient/{patient}"]}
                data = json.dumps(body).encode()
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/fhir"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def fake_fhir():
    server = FakeFhirRepository("dara-refractory-recent.json")
    yield server
    server.close()


@pytest.fixture(scope="module")
def allowing_server(fake_fhir):
    """A server whose settings allow the fake FHIR server, and that one only."""
    port = _free_port()
    env = {**os.environ, "MYELOMA_KG_CDS_FHIR_SERVER": fake_fhir.url}
    process = subprocess.Popen([sys.executable, "-m", "myeloma_kg.cli.main", "serve", "--port", str(port)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    if not _wait_for(url + "/cds-services"):
        process.kill()
        pytest.fail("the server did not start: " + process.stdout.read().decode(errors="replace")[-2000:])
    yield url
    process.terminate()
    process.wait(timeout=10)


# -- discovery -------------------------------------------------------------------------------------

def test_discovery_lists_the_patient_view_service_with_its_prefetch(live_server):
    status, answer = call(live_server + "/cds-services")
    assert status == 200
    no_empty_values(answer)
    (service,) = answer["services"]
    assert service["hook"] == "patient-view" and service["id"] == SERVICE
    assert service["description"] and service["title"]
    prefetch = service["prefetch"]
    assert prefetch["patient"] == "Patient/{{context.patientId}}"
    assert all("{{context.patientId}}" in query for query in prefetch.values())
    assert "http://loinc.org|89247-1" in prefetch["observations"] and "http://loinc.org|97509-4" in prefetch["observations"]
    assert {"administrations", "statements", "requests", "carePlans"} <= set(prefetch)


# -- patient-view from prefetch --------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(p.name for p in FHIR.glob("*.json")))
def test_patient_view_cards_name_the_regimens_the_api_recommends(live_server, name):
    """One card per group of options (the regimens recommended under the same recommendations), so
    no regimen is on two cards; each card holds every reason and caution of its options."""
    status, answer = call(f"{live_server}/cds-services/{SERVICE}", hook_request(name))
    assert status == 200, answer
    cards = check_cards(answer)
    twin = {k: v for k, v in json.loads((JSON / name).read_text()).items() if k != "asOf"}  # as of today, as the hook
    _, expected = call(live_server + "/api/recommend", raw=json.dumps(twin).encode())
    info = [c for c in cards if c["indicator"] == "info"]
    groups: dict[tuple, list] = {}
    for item in expected["recommended"]:
        groups.setdefault(tuple(r.rsplit("/", 1)[1] for r in item["recommendations"]), []).append(item)
    assert len(info) == len(groups)
    shown = [link["url"].rsplit("/", 1)[1] for card in info for link in card["links"] if "/regimen/" in link["url"]]
    assert len(shown) == len(set(shown)), "a regimen is on two cards"
    for card, (notations, items) in zip(info, groups.items()):
        assert card["summary"].startswith(", ".join(notations))
        assert card["source"]["topic"]["code"] == notations[0]
        assert card["source"]["url"] == f"{live_server}/recommendation/{notations[0]}"
        for item in items:
            assert f"**{item['label']}**" in card["detail"]
            for reason in item["because"]:
                assert f"because: {reason}" in card["detail"]
            for caution in item["cautions"]:
                assert f"caution: {caution}" in card["detail"]
        regimens = {link["url"].rsplit("/", 1)[1] for link in card["links"] if "/regimen/" in link["url"]}
        assert regimens == {i["regimen"].rsplit("/", 1)[1] for i in items}


def test_a_card_source_is_the_recommendation_page_of_the_server(live_server):
    _, answer = call(f"{live_server}/cds-services/{SERVICE}", hook_request("len-refractory-first-relapse.json"))
    card = next(c for c in answer["cards"] if c["indicator"] == "info")
    with urllib.request.urlopen(urllib.request.Request(card["source"]["url"], headers={"Accept": "text/html"}), timeout=30) as page:
        assert page.status == 200 and "https://w3id.org/myeloma-kg/recommendation/" in page.read().decode()


def test_every_card_names_the_graph_version_that_answered(live_server):
    """The version the service description and /api/recommend give is on each card, in the source
    label a clinician sees and whole in the card's extension, and on the HTTP answer."""
    status, api = call(f"{live_server}/api/recommend", raw=(JSON / "len-refractory-first-relapse.json").read_bytes())
    assert status == 200, api
    expected = api["graphVersion"]
    request = urllib.request.Request(f"{live_server}/cds-services/{SERVICE}", method="POST",
                                     data=json.dumps(hook_request("len-refractory-first-relapse.json")).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        header = answer.headers["X-Myeloma-KG-Version"]
        cards = check_cards(json.loads(answer.read()))
    assert cards and expected["version"] in header and expected["contentHash"][:19] in header
    for card in cards:
        assert card["extension"]["org.w3id.myeloma-kg.graphVersion"] == expected
        assert f"[graph {expected['version']} ({expected['contentHash'][:19]})]" in card["source"]["label"]
    body = hook_request("len-refractory-first-relapse.json")
    del body["prefetch"]["patient"]["birthDate"]
    _, answer = call(f"{live_server}/cds-services/{SERVICE}", body)
    (card,) = check_cards(answer)  # a record that cannot be evaluated: still the version that said so
    assert card["extension"]["org.w3id.myeloma-kg.graphVersion"] == expected


def test_a_record_that_cannot_be_evaluated_gets_a_card_saying_what_is_missing(live_server):
    body = hook_request("len-refractory-first-relapse.json")
    del body["prefetch"]["patient"]["birthDate"]
    body["prefetch"]["statements"]["entry"] = [e for e in body["prefetch"]["statements"]["entry"]
                                               if e["resource"]["id"] != "ex-len-refr-01-l1-d4"]
    status, answer = call(f"{live_server}/cds-services/{SERVICE}", body)
    assert status == 200, answer
    (card,) = check_cards(answer)
    assert card["indicator"] == "warning" and card["summary"].startswith("Cannot evaluate the record")
    assert "Patient/EX-LEN-REFR-01: The patient's age is required." in card["detail"]
    assert "CarePlan/ex-len-refr-01-line-1" in card["detail"]  # its activity names a statement not sent


def test_what_the_record_leaves_unknown_is_a_warning_card(live_server):
    body = hook_request("dara-refractory-recent.json")
    body["prefetch"]["observations"]["entry"] = [e for e in body["prefetch"]["observations"]["entry"]
                                                 if "69548-6" not in json.dumps(e["resource"]["code"])]
    status, answer = call(f"{live_server}/cds-services/{SERVICE}", body)
    cards = check_cards(answer)
    warning = next(c for c in cards if c["indicator"] == "warning")
    assert warning["summary"].startswith("Record incomplete: No cytogenetics given")
    assert any(c["indicator"] == "info" for c in cards)


# -- no outbound connection ------------------------------------------------------------------------

def test_missing_prefetch_is_412_and_the_fhir_server_is_never_contacted(live_server, trap):
    body = hook_request("dara-refractory-recent.json", fhirServer=trap.url,
                        fhirAuthorization={"access_token": "secret", "token_type": "Bearer", "expires_in": 300,
                                           "scope": "patient/*.read", "subject": "myeloma-kg"})
    del body["prefetch"]
    status, answer = call(f"{live_server}/cds-services/{SERVICE}", body)
    assert status == 412 and "prefetch lacks patient" in answer["error"]
    assert trap.connections() == 0
    body["prefetch"] = {"patient": prefetch_of("dara-refractory-recent.json")["patient"]}  # medications missing
    status, answer = call(f"{live_server}/cds-services/{SERVICE}", body)
    assert status == 412 and "administrations" in answer["error"]
    assert trap.connections() == 0


def test_with_prefetch_the_fhir_server_is_not_contacted_either(live_server, trap):
    status, _ = call(f"{live_server}/cds-services/{SERVICE}", hook_request("renal-impairment.json", fhirServer=trap.url))
    assert status == 200
    assert trap.connections() == 0


def test_a_server_allowed_by_the_settings_is_asked_for_what_the_prefetch_lacks(allowing_server, fake_fhir, trap):
    full = hook_request("dara-refractory-recent.json")
    _, from_prefetch = call(f"{allowing_server}/cds-services/{SERVICE}", full)
    body = hook_request("dara-refractory-recent.json", fhirServer=fake_fhir.url,
                        fhirAuthorization={"access_token": "t0ken", "token_type": "Bearer", "expires_in": 300,
                                           "scope": "patient/*.read", "subject": "myeloma-kg"})
    del body["prefetch"]
    status, fetched = call(f"{allowing_server}/cds-services/{SERVICE}", body)
    assert status == 200, fetched
    strip = lambda cards: [{k: v for k, v in c.items() if k != "uuid"} for c in cards]  # noqa: E731
    assert strip(check_cards(fetched)) == strip(from_prefetch["cards"])
    assert fake_fhir.requests and all(auth == "Bearer t0ken" for _, auth in fake_fhir.requests)
    assert {path.split("?")[0].rsplit("/", 1)[-1] if "?" in path else path.split("/")[-2] for path, _ in fake_fhir.requests} \
        >= {"Patient", "MedicationAdministration", "MedicationStatement", "MedicationRequest"}
    # another server named in the request is refused, even by this service
    body["fhirServer"] = trap.url
    status, answer = call(f"{allowing_server}/cds-services/{SERVICE}", body)
    assert status == 412 and "fetches only from" in answer["error"]
    assert trap.connections() == 0


# -- bad requests ----------------------------------------------------------------------------------

@pytest.mark.parametrize("body,status,words", [
    (b"{not json", 400, "not JSON"),
    (b"[]", 400, "JSON object"),
    (json.dumps({"hook": "order-sign", "hookInstance": "x", "context": {"patientId": "P"}}).encode(), 400, "patient-view"),
    (json.dumps({"hook": "patient-view", "context": {"patientId": "P"}}).encode(), 400, "hookInstance"),
    (json.dumps({"hook": "patient-view", "hookInstance": "x", "context": {}}).encode(), 400, "patientId"),
    (json.dumps({"hook": "patient-view", "hookInstance": "x", "context": {"patientId": "P"}, "prefetch": []}).encode(),
     400, "prefetch must be an object"),
    (json.dumps({"hook": "patient-view", "hookInstance": "x", "context": {"patientId": "P"},
                 "prefetch": {"everything": {}}}).encode(), 400, "unknown prefetch keys"),
    (json.dumps({"hook": "patient-view", "hookInstance": "x", "context": {"patientId": "P"},
                 "prefetch": {"patient": "Patient/P", "statements": "MedicationStatement?patient=P"}}).encode(), 400,
     "not a FHIR resource"),
])
def test_bad_requests_get_400_with_a_json_error(live_server, body, status, words):
    code, answer = call(f"{live_server}/cds-services/{SERVICE}", raw=body)
    assert code == status and words in answer["error"], answer


def test_invalid_fhir_and_a_foreign_patient_are_400(live_server):
    body = hook_request("high-risk-1q21.json")
    body["prefetch"]["observations"]["entry"][0]["resource"]["valueInteger"] = "one"
    code, answer = call(f"{live_server}/cds-services/{SERVICE}", body)
    assert code == 400 and "not valid FHIR R4" in answer["error"]
    body = hook_request("high-risk-1q21.json")
    body["context"]["patientId"] = "someone-else"
    code, answer = call(f"{live_server}/cds-services/{SERVICE}", body)
    assert code == 400 and "not the context's patient" in answer["error"]


def test_an_unknown_service_is_404(live_server):
    code, answer = call(f"{live_server}/cds-services/nope", hook_request("high-risk-1q21.json"))
    assert code == 404 and "error" in answer


def test_cross_origin_calls_are_allowed(live_server):
    request = urllib.request.Request(f"{live_server}/cds-services/{SERVICE}", method="OPTIONS",
                                     headers={"Origin": "https://sandbox.example", "Access-Control-Request-Method": "POST"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.headers["Access-Control-Allow-Origin"] == "*"
        assert "Authorization" in answer.headers["Access-Control-Allow-Headers"]


# -- feedback --------------------------------------------------------------------------------------

def test_feedback_is_accepted_and_bad_feedback_is_400(live_server):
    _, answer = call(f"{live_server}/cds-services/{SERVICE}", hook_request("len-refractory-first-relapse.json"))
    card = answer["cards"][0]
    reason = card["overrideReasons"][0]
    feedback = {"feedback": [
        {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-24T10:00:00Z",
         "overrideReason": {"reason": reason, "userComment": "prefers oral"}},
        {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": "2026-11-24T10:01:00Z", "acceptedSuggestions": []},
    ]}
    status, received = call(f"{live_server}/cds-services/{SERVICE}/feedback", feedback)
    assert status == 200 and received == {"received": 2}
    for bad in ({}, {"feedback": []}, {"feedback": [{"card": card["uuid"], "outcome": "ignored", "outcomeTimestamp": "x"}]},
                {"feedback": [{"outcome": "accepted", "outcomeTimestamp": "x"}]},
                {"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "x", "overrideReason": "no"}]}):
        status, answer = call(f"{live_server}/cds-services/{SERVICE}/feedback", bad)
        assert status == 400 and answer["error"], bad
    status, _ = call(f"{live_server}/cds-services/nope/feedback", feedback)
    assert status == 404


def test_the_readme_request_is_answered(live_server):
    body = (ROOT / "examples" / "fhir" / "cds" / "patient-view-len-refractory.json").read_bytes()
    status, answer = call(f"{live_server}/cds-services/{SERVICE}", raw=body)
    assert status == 200
    summaries = [c["summary"] for c in check_cards(answer)]
    assert "R1, R3, R18 (reconstructed): consider DKd, Isa-Kd, DVd" in summaries
    assert "R3 (reconstructed): consider DKd weekly" in summaries


def test_the_hook_context_may_give_the_date_the_record_is_read_at(make_app):
    """``context.asOf`` (patient-view defines no date: without it the record is read as of today)."""
    client = make_app(query_workers=1).test_client()

    def cards(as_of):
        body = hook_request("dara-refractory-recent.json")
        body["context"]["asOf"] = as_of
        answer = client.post(f"/cds-services/{SERVICE}", json=body)
        return answer.status_code, answer.get_json()

    status, early = cards("2026-11-24")  # two months after the last daratumumab dose: washout not reached
    assert status == 200
    status, later = cards("2027-06-01")  # eight months after: the anti-CD38 rechallenge options apply
    assert status == 200
    summaries = lambda answer: {c["summary"] for c in answer["cards"]}  # noqa: E731
    assert summaries(early) != summaries(later)
    assert any("R16" in s or "R18" in s for s in summaries(later)) and not any("R16" in s for s in summaries(early))
    status, refused = cards("24/11/2026")
    assert status == 400 and "YYYY-MM-DD" in refused["error"]
