"""Patient records are never stored or logged by the server.

A real server (waitress, its own process) gets records that carry a unique marker: a valid one,
one that does not conform, one that is not JSON, one through the patient page.  Afterwards the
marker is in none of the server's output, and in no file under its working, home, cache and
data folders.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid

from conftest import ROOT, _free_port, _wait_for

EXAMPLES = ROOT / "examples" / "patients"


def _post(url: str, body: bytes, content_type: str) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_records_leave_no_trace_in_output_or_files(tmp_path, settings):
    marker = "MARKER" + uuid.uuid4().hex
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir(), work.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / "cache"), "XDG_DATA_HOME": str(home / "data"),
           "MYELOMA_KG_CACHE_DIR": str(settings.cache_path), "MYELOMA_KG_DATA_DIR": str(home / "data" / "mkg"),
           "MYELOMA_KG_HOME": str(settings.home)}
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "myeloma_kg.cli.main", "serve", "--port", str(port)], cwd=work,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        assert _wait_for(base + "/sparql"), "the server did not start"
        good = json.loads((EXAMPLES / "dara-refractory-recent.json").read_text())
        good["id"] = marker
        bad = {**good, "age": 130, "ecog": marker}
        assert _post(base + "/api/recommend", json.dumps(good).encode(), "application/json") == 200
        assert _post(base + "/api/validate", json.dumps(bad).encode(), "application/json") == 200
        assert _post(base + "/api/recommend", json.dumps(bad).encode(), "application/json") == 422
        assert _post(base + "/api/recommend", ("{" + marker).encode(), "application/json") == 400
        assert _post(base + "/api/recommend", f"<{marker}> a <x:y> .".encode(), "text/turtle") == 400
        with urllib.request.urlopen(base + "/patient", timeout=30) as page:
            cookie = page.headers.get("Set-Cookie", "").split(";")[0]
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode()).group(1)
        form = urllib.parse.urlencode({"csrf_token": token, "record": json.dumps(good)}).encode()
        request = urllib.request.Request(base + "/patient", data=form, headers={"Cookie": cookie}, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200 and marker in response.read().decode()  # shown to the user, only
    finally:
        server.terminate()
        output = server.communicate(timeout=15)[0].decode(errors="replace")
    assert "serving on" in output
    assert marker not in output
    for folder in (home, work, settings.cache_path):
        for path in folder.rglob("*"):
            if path.is_file():
                assert marker.encode() not in path.read_bytes(), f"{path} holds a patient record"
