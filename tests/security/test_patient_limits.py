"""Patient records are bounded: over a limit they are refused before the costly reading, and the
work on one that passes is stopped at the time limit, or when its client leaves, without holding
every server thread."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from myeloma_kg import Settings
from myeloma_kg.cli.main import main
from myeloma_kg.patients.limits import RecordLimits, json_depth

from conftest import ROOT

EXAMPLE = ROOT / "examples" / "patients" / "after-talquetamab-progression.json"
CDS_EXAMPLE = ROOT / "examples" / "fhir" / "cds" / "patient-view-len-refractory.json"
CDS_URL = "/cds-services/myeloma-kg-anti-cd38"
AS_OF = json.loads((ROOT / "examples" / "expected-outcomes.json").read_text())["asOf"]  # the examples' date
FAST_S = 0.5  # a refusal by a limit comes well before this (the same records took 17 s to 120 s)


def valid() -> dict:
    return json.loads(EXAMPLE.read_text())


SLOW_DRUGS = ["daratumumab", "lenalidomide", "bortezomib", "carfilzomib", "pomalidomide", "isatuximab",
              "dexamethasone", "cyclophosphamide"]


def slow_record() -> dict:
    """Within every limit, but seconds of rule work (about 3 s here): thirty lines of eight drugs,
    each stopped for three toxicities in words that the rules match against every kind and drug."""
    lines = []
    for i in range(30):
        year, half = 1990 + i // 2, 6 * (i % 2)
        lines.append({"line": i + 1, "start": f"{year}-{1 + half:02d}-01", "end": f"{year}-{5 + half:02d}-01",
                      "drugs": SLOW_DRUGS, "stopReason": "toxicity",
                      "toxicity": [f"painful grade 3 peripheral neuropathy from {SLOW_DRUGS[k]} and heart failure {k}"
                                   for k in range(3)]})
    return {"id": "SLOW", "age": 70, "cytogenetics": ["del(17p)"], "therapyLines": lines}


def nested_context(levels: int) -> dict:
    """A JSON-LD record whose context nests ``levels`` scoped contexts, one in another."""
    context = {"mkg": "https://w3id.org/myeloma-kg/ontology#"}
    for level in range(levels):
        context = {"mkg": "https://w3id.org/myeloma-kg/ontology#", f"t{level}": {"@id": f"mkg:t{level}", "@context": context}}
    return {"@context": context, "@id": "https://w3id.org/myeloma-kg/patient/C", "@type": "mkg:Patient", "mkg:age": 70}


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture()
def fresh_app(kg, settings):
    """An app of its own (and so a pool of its own) with some settings changed; closed after the test."""
    from myeloma_kg.web import create_app

    made = []

    def make(**overrides):
        made.append(create_app(settings.with_overrides(overrides), kg, query_workers=1))
        return made[-1]

    yield make
    for app in made:
        app.extensions["patients"].close()
        app.extensions["sparql"].close()


def post(client, route: str, body: str, content_type: str = "application/json", **kwargs):
    started = time.monotonic()
    response = client.post(route, data=body.encode(), content_type=content_type, **kwargs)
    return response, time.monotonic() - started


# -- over a limit: refused at once, in words that name the limit --------------------------------

def _over_limits():
    base = valid()
    yield "4,000 cytogenetic findings", 422, json.dumps({**base, "cytogenetics": ["del(17p)"] * 4000}), \
        "application/json", ["4,000 cytogenetic findings", "100", "MYELOMA_KG_MAX_FINDINGS"]
    line = base["therapyLines"][0]
    yield "800 lines", 422, json.dumps({**base, "therapyLines": [dict(line, line=i + 1) for i in range(800)]}), \
        "application/json", ["800 lines of therapy", "50", "MYELOMA_KG_MAX_THERAPY_LINES"]
    yield "100 drugs in a line", 422, json.dumps({**base, "therapyLines": [dict(line, drugs=["lenalidomide"] * 100)]}), \
        "application/json", ["Line 1 lists 100 drugs", "20", "MYELOMA_KG_MAX_DRUGS_PER_LINE"]
    yield "50 toxicities in a line", 422, json.dumps({**base, "therapyLines": [dict(line, toxicity=["rash"] * 50)]}), \
        "application/json", ["50 toxicities", "MYELOMA_KG_MAX_LIST_ITEMS"]
    yield "JSON nested 300 deep", 422, '{"id": "D", "x": ' + "[" * 300 + "]" * 300 + "}", \
        "application/json", ["more than 32 deep", "MYELOMA_KG_MAX_JSON_DEPTH"]
    deep = json.dumps(nested_context(300))
    assert 20_000 < len(deep) < 40_000  # the size of the record that took 17 s
    yield "a JSON-LD context nested 300 deep", 422, deep, "application/ld+json", ["deep", "MYELOMA_KG_MAX_JSON_DEPTH"]
    yield "JSON-LD contexts nested 6 deep", 422, json.dumps(nested_context(5)), "application/ld+json", \
        ["nests contexts 6 deep", "4", "MYELOMA_KG_MAX_JSONLD_CONTEXT_DEPTH"]
    many = {"@context": [{"mkg": "https://w3id.org/myeloma-kg/ontology#"}] * 40,
            "@id": "https://w3id.org/myeloma-kg/patient/C", "@type": "mkg:Patient"}
    yield "40 JSON-LD contexts", 422, json.dumps(many), "application/ld+json", ["40 contexts", "MYELOMA_KG_MAX_JSONLD_CONTEXTS"]
    turtle = "@prefix mkg: <https://w3id.org/myeloma-kg/ontology#> .\n<P> a mkg:Patient .\n" + "".join(
        f"<P> mkg:hasFinding <f{i}> .\n" for i in range(5000))
    yield "a Turtle record of 5,000 triples", 422, turtle, "text/turtle", ["more than 2,000 statements",
                                                                           "MYELOMA_KG_MAX_RECORD_TRIPLES"]
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": {"resourceType": "Observation", "id": f"o{i}"}} for i in range(2500)]}
    yield "a FHIR Bundle of 2,500 resources", 422, json.dumps(bundle), "application/fhir+json", \
        ["2,500 resources", "MYELOMA_KG_MAX_FHIR_RESOURCES"]
    yield "300 KB", 413, json.dumps({**base, "id": "x" * 300_000}), "application/json", \
        ["bytes", "262,144", "MYELOMA_KG_MAX_RECORD_BYTES"]


OVER = list(_over_limits())


@pytest.mark.parametrize("route", ["/api/recommend", "/api/validate"])
@pytest.mark.parametrize("name,status,body,content_type,words", OVER, ids=[o[0] for o in OVER])
def test_a_record_over_a_limit_is_refused_at_once(client, route, name, status, body, content_type, words):
    response, elapsed = post(client, route, body, content_type)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    answer = response.get_json()
    for word in words:
        assert word in answer["error"], (word, answer["error"])
    assert answer["limit"] and answer["maximum"] > 0
    assert elapsed < FAST_S, f"{name}: {elapsed:.2f} s"


def test_the_patient_form_refuses_a_record_over_a_limit_in_words(client):
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/patient").get_data(as_text=True)).group(1)
    record = json.dumps({**valid(), "cytogenetics": ["del(17p)"] * 4000})
    started = time.monotonic()
    response = client.post("/patient", data={"csrf_token": token, "record": record, "as_of": AS_OF})
    assert time.monotonic() - started < FAST_S
    assert response.status_code == 422
    assert "4,000 cytogenetic findings" in response.get_data(as_text=True)
    response = client.post("/patient", data={"csrf_token": token, "record": "x" * 300_000, "as_of": AS_OF})
    assert response.status_code == 413 and "262,144 bytes" in response.get_data(as_text=True)


def test_the_cds_service_refuses_a_prefetch_over_a_limit(client):
    request = json.loads(CDS_EXAMPLE.read_text())
    observations = request["prefetch"]["observations"]
    observations["entry"] = [{"resource": {"resourceType": "Observation", "id": f"o{i}"}} for i in range(2500)]
    response, elapsed = post(client, CDS_URL, json.dumps(request))
    assert response.status_code == 422 and "MYELOMA_KG_MAX_FHIR_RESOURCES" in response.get_json()["error"]
    assert elapsed < FAST_S
    response, elapsed = post(client, CDS_URL, '{"hook": ' + "[" * 200 + "]" * 200 + "}")
    assert response.status_code == 422 and "MYELOMA_KG_MAX_JSON_DEPTH" in response.get_json()["error"]


def test_limits_are_settings(fresh_app):
    settings = Settings.load(environ={"MYELOMA_KG_MAX_THERAPY_LINES": "3", "MYELOMA_KG_PATIENT_TIMEOUT_S": "1.5",
                                      "MYELOMA_KG_QUERY_TIMEOUT_S": "4"})
    assert RecordLimits.of(settings).max_therapy_lines == 3
    assert settings.patient_time_limit_s == 1.5
    assert Settings.load(environ={"MYELOMA_KG_QUERY_TIMEOUT_S": "4"}).patient_time_limit_s == 4.0  # the query limit
    client = fresh_app(max_therapy_lines=3).test_client()
    record = valid()  # four lines
    response, _ = post(client, "/api/recommend", json.dumps(record))
    assert response.status_code == 422 and "4 lines of therapy, more than the 3" in response.get_json()["error"]
    record["therapyLines"] = record["therapyLines"][:3]
    assert post(client, "/api/recommend", json.dumps(record))[0].status_code == 200


def test_the_readers_default_limits_are_the_settings_defaults():  # what read_text applies when given none
    assert RecordLimits() == RecordLimits.of(Settings.load(environ={}))


def test_the_depth_scan_skips_strings_and_stops_early():
    assert json_depth('{"a": "[[[[{{{{", "b": [[1]]}') == 3
    assert json_depth('{"a": "\\"[[[", "b": []}') == 2
    assert json_depth("[" * 1_000_000, stop_after=32) == 33


# -- numbers JSON does not have ------------------------------------------------------------------

@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_number_json_does_not_have_is_a_400_naming_the_field(client, value):
    body = json.dumps(valid())[:-1] + f', "creatinineClearance": {value}}}'
    for route in ("/api/validate", "/api/recommend"):
        response, _ = post(client, route, body)
        assert response.status_code == 400, (route, response.get_data(as_text=True)[:300])
        assert f"'creatinineClearance' is {value}" in response.get_json()["error"]


def test_nan_in_the_form_in_turtle_and_in_a_cds_prefetch_is_a_400(client):
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/patient").get_data(as_text=True)).group(1)
    record = json.dumps(valid())[:-1] + ', "creatinineClearance": NaN}'
    response = client.post("/patient", data={"csrf_token": token, "record": record, "as_of": AS_OF})
    assert response.status_code == 400 and "is NaN, which is not a number" in response.get_data(as_text=True)
    turtle = ('@prefix mkg: <https://w3id.org/myeloma-kg/ontology#> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n'
              '<P> a mkg:Patient ; mkg:age 70 ; mkg:creatinineClearance "NaN"^^xsd:decimal .')
    response, _ = post(client, "/api/recommend", turtle, "text/turtle")
    assert response.status_code == 400 and "NaN, which is not a number" in response.get_json()["error"]
    cds = CDS_EXAMPLE.read_text().replace('"value": ', '"value": NaN, "x": ', 1)
    assert "NaN" in cds
    response, _ = post(client, CDS_URL, cds)
    assert response.status_code == 400 and "NaN, which is not a number" in response.get_json()["error"]


# -- the command line and the batch share the limits ---------------------------------------------

def test_the_command_line_refuses_a_record_over_a_limit_with_exit_2(tmp_path):
    big = tmp_path / "big.json"
    big.write_text(json.dumps({**valid(), "cytogenetics": ["del(17p)"] * 4000}))
    for command in ("recommend", "validate"):
        result = CliRunner().invoke(main, [command, str(big), "--as-of", AS_OF], catch_exceptions=False)
        assert result.exit_code == 2, result.output
        assert "4,000 cytogenetic findings" in result.output


def test_a_batch_reports_a_record_over_a_limit_as_an_error_row(tmp_path):
    batch = tmp_path / "records.jsonl"
    batch.write_text("\n".join([json.dumps(valid()), json.dumps({**valid(), "therapyLines": valid()["therapyLines"] * 200}),
                                json.dumps(valid())[:-1] + ', "creatinineClearance": NaN}']) + "\n")
    result = CliRunner().invoke(main, ["recommend", str(batch), "--as-of", AS_OF, "--jobs", "1"],
                                catch_exceptions=False)
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert [row["record"] for row in rows] == ["records.jsonl:1", "records.jsonl:2", "records.jsonl:3"]
    assert "recommended" in rows[0]
    assert "800 lines of therapy" in rows[1]["error"]
    assert "is NaN" in rows[2]["error"]
    assert result.exit_code == 2


# -- the time limit, and the client that leaves ---------------------------------------------------

def test_a_record_past_the_time_limit_is_stopped_and_its_worker_replaced(fresh_app):
    app = fresh_app(patient_timeout_s=0.5, patient_workers=1)
    pool = app.extensions["patients"]
    client = app.test_client()
    pool.start()  # the worker is up before the clock starts
    (before,) = pool.pids()
    response, elapsed = post(client, "/api/recommend", json.dumps(slow_record()))
    assert response.status_code == 503
    assert "time limit of 0.5 s" in response.get_json()["error"]
    assert 0.5 <= elapsed < 1.5
    assert not alive(before), "the worker still runs after the time limit"
    (after,) = pool.pids()
    assert after != before and alive(after)
    response, _ = post(client, "/api/recommend", json.dumps(valid()))  # a fresh worker answers
    assert response.status_code == 200 and response.get_json()["recommended"]
    assert pool.pids() == [after]


def test_the_cds_service_runs_under_the_same_time_limit(fresh_app):
    app = fresh_app(patient_timeout_s=0.001, patient_workers=1)  # too short for any record
    pool = app.extensions["patients"]
    pool.start()
    (before,) = pool.pids()
    response, _ = post(app.test_client(), CDS_URL, CDS_EXAMPLE.read_text())
    assert response.status_code == 503 and "time limit" in response.get_json()["error"]
    assert not alive(before)


class Leaves:
    """waitress's ``client_disconnected``, for a client that leaves ``after`` seconds into the request."""

    def __init__(self, after: float) -> None:
        self.after, self.first = after, None

    def __call__(self) -> bool:
        now = time.monotonic()
        self.first = self.first or now
        return now - self.first >= self.after


def test_the_work_stops_when_the_client_leaves(fresh_app):
    app = fresh_app(patient_timeout_s=30.0, patient_workers=1)
    pool = app.extensions["patients"]
    pool.start()
    (before,) = pool.pids()
    client = app.test_client()
    # (the record's seconds are in the rules: validation alone is quick since the shapes are compiled)
    response, elapsed = post(client, "/api/recommend", json.dumps(slow_record()),
                             environ_base={"waitress.client_disconnected": Leaves(0.3)})
    assert response.status_code == 503 and "went away" in response.get_json()["error"]
    assert elapsed < 1.5, elapsed
    assert not alive(before), "the worker still runs after its client left"
    assert post(client, "/api/validate", json.dumps(valid()),
                environ_base={"waitress.client_disconnected": lambda: False})[0].status_code == 200


# -- a real waitress server: the client leaving, and patient work beside /sparql -----------------------

@contextlib.contextmanager
def serving(app, threads: int):
    from waitress import wasyncore
    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=threads, channel_request_lookahead=1)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield server.effective_port
    finally:
        server.task_dispatcher.shutdown()
        wasyncore.close_all(server._map)
        thread.join(timeout=5)


def test_over_a_real_socket_the_worker_is_killed_when_the_client_hangs_up(fresh_app):
    app = fresh_app(patient_timeout_s=30.0, patient_workers=1)
    pool = app.extensions["patients"]
    pool.start()
    (before,) = pool.pids()
    body = json.dumps(slow_record()).encode()
    with serving(app, threads=2) as port:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"POST /api/recommend HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            time.sleep(0.5)
        deadline = time.monotonic() + 2
        while alive(before) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(before), "the worker still runs after its client hung up"


def test_a_worker_keeps_none_of_the_servers_sockets(fresh_app):
    app = fresh_app(patient_workers=1)
    pool = app.extensions["patients"]
    with serving(app, threads=2) as port:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/sparql?query=ASK%7B%7D", timeout=10).read()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/validate", data=json.dumps(valid()).encode(),
                                         headers={"Content-Type": "application/json"})
        assert urllib.request.urlopen(request, timeout=30).status == 200  # forks the worker while the server listens
        (pid,) = pool.pids()
        sockets = [fd for fd in os.listdir(f"/proc/{pid}/fd")
                   if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")]
        assert len(sockets) == 1, "a worker holds only its own pipe"


def test_a_saturated_patient_pool_leaves_threads_for_sparql(fresh_app):
    app = fresh_app(patient_timeout_s=20.0, patient_workers=1, patient_wait_s=0.2, threads=4)
    pool = app.extensions["patients"]
    assert pool.max_held == 2  # of 4 server threads
    body = json.dumps(slow_record()).encode()
    statuses: list[int] = []
    stop = threading.Event()

    with serving(app, threads=4) as port:
        base = f"http://127.0.0.1:{port}"

        def ask() -> float:
            started = time.monotonic()
            with urllib.request.urlopen(f"{base}/sparql?query=ASK%7B%7D", timeout=30) as answer:
                assert answer.status == 200
            return time.monotonic() - started

        ask()  # the query is known, as on a server that has run for a while

        def hostile():
            while not stop.is_set():
                request = urllib.request.Request(f"{base}/api/recommend", data=body,
                                                 headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(request, timeout=60) as answer:
                        statuses.append(answer.status)
                except urllib.error.HTTPError as exc:
                    statuses.append(exc.code)
                    if exc.code == 503:
                        assert "busy" in exc.read().decode()

        clients = [threading.Thread(target=hostile) for _ in range(8)]
        for thread in clients:
            thread.start()
        time.sleep(0.5)  # every worker busy, every held thread taken
        latencies = [ask() for _ in range(20)]
        stop.set()
        for thread in clients:
            thread.join(timeout=30)
    assert max(latencies) < 1.0, latencies
    assert 503 in statuses and 500 not in statuses
