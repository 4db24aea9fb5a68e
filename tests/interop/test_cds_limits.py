"""Bounds of the CDS Hooks service: the feedback tally, deeply nested bodies, the length of card
summaries, and one deadline for a whole fetch from the allowed FHIR server."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from myeloma_kg.fhir.cds import SERVICE_ID, _summary, cards_for, prefetch_template
from myeloma_kg.web.cds import FeedbackTally

from conftest import ROOT

CALL = f"/cds-services/{SERVICE_ID}"
FEEDBACK = CALL + "/feedback"
PATIENTS = sorted((ROOT / "examples" / "patients").rglob("*.json"))
FHIR = sorted((ROOT / "examples" / "fhir").glob("*.json"))
CDS_REQUESTS = sorted((ROOT / "examples" / "fhir" / "cds").glob("*.json"))
KEY_OF = {"Condition": "conditions", "MedicationAdministration": "administrations", "MedicationStatement": "statements",
          "MedicationRequest": "requests", "Observation": "observations", "CarePlan": "carePlans"}


@pytest.fixture(scope="module")
def client(make_app):
    return make_app(query_workers=1).test_client()


def _feedback(codes: list[str], outcome: str = "overridden") -> dict:
    return {"feedback": [{"card": str(uuid.uuid4()), "outcome": outcome, "outcomeTimestamp": "2026-01-01T00:00:00Z",
                          "overrideReason": {"reason": {"code": code, "system": "urn:x"}}} for code in codes]}


# -- the feedback tally ----------------------------------------------------------------------------

def test_the_feedback_tally_is_bounded_in_keys_and_in_code_length(client):
    app = client.application
    app.extensions.pop("cds_feedback", None)
    for batch in range(30):  # 3,000 distinct codes of 5,000 characters, 100 to a call
        codes = [f"{batch:02d}-{n:03d}-" + "x" * 5000 for n in range(100)]
        answer = client.post(FEEDBACK, json=_feedback(codes))
        assert answer.status_code == 200 and answer.get_json() == {"received": 100}
    for batch in range(30):  # and 3,000 short ones
        answer = client.post(FEEDBACK, json=_feedback([f"c{batch}-{n}" for n in range(100)], "accepted"))
        assert answer.status_code == 200
    tally = app.extensions["cds_feedback"]
    counts = tally.counts()
    assert len(counts) <= tally.max_keys
    assert max(len(reason or "") for _, reason in counts) <= max(tally.max_code, len(FeedbackTally.OTHER))
    assert sum(counts.values()) == 6000  # nothing is lost, only grouped


def test_known_reasons_are_counted_as_given():
    tally = FeedbackTally(max_keys=10, max_code=8)
    for _ in range(3):
        tally.add("overridden", "patient-preference"[:8])
    tally.add("accepted", None)
    for n in range(20):
        tally.add("overridden", f"r{n}")
    counts = tally.counts()
    assert counts[("overridden", "patient-")] == 3 and counts[("accepted", None)] == 1
    assert len(counts) <= 10 and counts[("overridden", FeedbackTally.OTHER)] > 0
    tally.add("overridden", "y" * 9)
    assert ("overridden", "y" * 9) not in tally.counts()


# -- deeply nested bodies --------------------------------------------------------------------------

DEPTH = 10_000
DEEP = "[" * DEPTH + "]" * DEPTH


def _request(**parts) -> dict:
    return {"hook": "patient-view", "hookInstance": str(uuid.uuid4()), "context": {"patientId": "p1"}, **parts}


def _with_deep(value: dict, marker: str = "DEEP") -> bytes:
    return json.dumps(value).replace(f'"{marker}"', DEEP).encode()


@pytest.mark.parametrize("route,body", [
    (CALL, DEEP.encode()),
    (CALL, _with_deep(_request(hook="DEEP"))),
    (CALL, _with_deep(_request(context={"patientId": "p1", "more": "DEEP"}))),
    (CALL, _with_deep(_request(prefetch={"patient": {"resourceType": "Patient", "id": "p1", "extension": "DEEP"}}))),
    (CALL, _with_deep(_request(prefetch={"patient": {"resourceType": "Patient", "id": "p1"}, "conditions": {
        "resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Condition", "code": "DEEP"}}]}}))),
    (CALL, _with_deep(_request(fhirAuthorization="DEEP"))),
    (CALL, json.dumps(_request(prefetch={"patient": {"resourceType": "Patient", "id": "p1",
                                                        "x": json.loads("[" * 500 + "]" * 500)}})).encode()),
    (FEEDBACK, DEEP.encode()),
    (FEEDBACK, _with_deep({"feedback": "DEEP"})),
    (FEEDBACK, _with_deep({"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "t",
                                         "overrideReason": {"reason": {"code": "DEEP"}}}]})),
], ids=["call", "hook", "context", "prefetch", "prefetch-bundle", "authorization", "call-500-levels",
        "feedback", "feedback-list", "feedback-reason"])
def test_deeply_nested_json_is_refused_with_a_message_naming_the_limit(client, route, body):
    answer = client.post(route, data=body, content_type="application/json")
    assert answer.status_code == 422, answer.data[:200]
    assert "nests objects and lists more than 32 deep" in answer.get_json()["error"]


# -- card summaries --------------------------------------------------------------------------------

def _check_summaries(cards: list[dict], where: str) -> None:
    assert cards, where
    for card in cards:
        assert 0 < len(card["summary"]) < 140, (where, card["summary"])


@pytest.mark.parametrize("path", PATIENTS + FHIR, ids=lambda p: str(p.relative_to(ROOT / "examples")))
def test_every_card_summary_of_every_example_is_under_140_characters(recommender, path: Path):
    content_type = "application/fhir+json" if path in FHIR else "application/json"
    try:
        record = recommender.read(path.read_text(encoding="utf-8"), content_type=content_type)
    except Exception:  # an example that is not a record at all (invalid/not-json.json) has no cards
        assert "invalid" in path.parts
        return
    _check_summaries(cards_for(recommender.recommend(record), "instance", "https://kg.example.org/"), path.name)


def _prefetch(path: Path) -> tuple[str, dict]:
    found = [e["resource"] for e in json.loads(path.read_text())["entry"]]
    patient = next(r for r in found if r["resourceType"] == "Patient")
    prefetch = {"patient": patient}
    for kind, key in KEY_OF.items():
        prefetch[key] = {"resourceType": "Bundle", "type": "searchset",
                         "entry": [{"resource": r} for r in found if r["resourceType"] == kind]}
    return patient["id"], prefetch


@pytest.mark.parametrize("path", FHIR + CDS_REQUESTS, ids=lambda p: p.name)
def test_every_card_summary_through_the_service_is_under_140_characters(client, path: Path):
    if path in CDS_REQUESTS:
        body = json.loads(path.read_text())
        body.pop("fhirServer", None)
    else:
        patient, prefetch = _prefetch(path)
        body = _request(context={"patientId": patient}, prefetch=prefetch)
    answer = client.post(CALL, json=body)
    assert answer.status_code == 200, answer.data[:300]
    _check_summaries(answer.get_json()["cards"], path.name)


def test_a_long_item_is_shortened_at_a_word_boundary():
    words = "the line was stopped for toxicity but the record does not say which toxicity it was " * 3
    for head in ("Record incomplete: ", "Cannot evaluate the record: "):
        for items in ([words], [words, "another"], [f"Line {n}: {words}" for n in range(12)]):
            text = _summary(head, items)
            assert len(text) < 140 and text.startswith(head)
            shown = text[len(head):].split("…")[0]
            assert words.startswith(shown.split(": ", 1)[-1]) and words[len(shown.split(": ", 1)[-1])] == " ", text
    many = [f"Regimen{n}" for n in range(40)]
    text = _summary("R1: consider ", many)
    assert len(text) < 140 and text.endswith("more") and "…" not in text


# -- one deadline for the whole fetch --------------------------------------------------------------

class SlowFhirServer:
    """Answers each read after ``delay`` seconds, or sends its answer one byte every ``drip`` seconds."""

    def __init__(self, delay: float = 0.0, drip: float = 0.0) -> None:
        self.reads = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                owner.reads += 1
                time.sleep(delay)
                body = json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": []}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    for byte in body:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(drip)
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/fhir"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize("delay,drip", [(1.0, 0.0), (0.0, 0.05)], ids=["slow-answers", "trickled-answers"])
def test_a_slow_fhir_server_gets_one_deadline_for_all_reads(make_app, delay, drip):
    server = SlowFhirServer(delay=delay, drip=drip)
    try:
        app = make_app(query_workers=1, cds_fhir_server=server.url, query_timeout_s=2.0)
        body = _request(fhirServer=server.url)  # no prefetch: every key is read from the server
        started = time.monotonic()
        answer = app.test_client().post(CALL, json=body)
        elapsed = time.monotonic() - started
        assert answer.status_code == 412 and "within 2 s" in answer.get_json()["error"], answer.data[:300]
        # the 2 s deadline plus slack for a loaded machine; one timeout per read took 7 s (slow
        # answers: 7 reads of 1 s) and 17 s (trickled ones: a byte never waits past the timeout)
        assert elapsed < 4.5, f"the fetch took {elapsed:.1f} s"
        assert 1 <= server.reads < len(prefetch_template())
    finally:
        server.close()
