"""Triple-store servers for the tests: Oxigraph and Virtuoso, each in its default configuration
for how queries see the graphs (no union default graph), private to one temporary folder and
listening on loopback only.

Oxigraph comes with the ``oxigraph`` wheel.  Virtuoso is Debian's ``virtuoso-opensource``
(``.ci/install-virtuoso``); without it its tests are skipped, except on CI (``CI=true``), where a
missing Virtuoso is a failure.  The fixtures load the graph with ``myeloma-kg load``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import _free_port, _wait_for

OXIGRAPH = shutil.which("oxigraph") or str(Path(sys.executable).with_name("oxigraph"))
VIRTUOSO = shutil.which("virtuoso-t")
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
VIRTUOSO_USER = ("dba", "dba")  # the administrator account of a new Virtuoso database

# How long starting and stopping took, for the report at the end of a run.
TIMINGS: dict[str, float] = {}
# For each loaded store's query endpoint: its engine, and the environment ``load`` needs there.
ENGINE: dict[str, str] = {}
LOAD_ENV: dict[str, dict[str, str]] = {}


def _stop(process: subprocess.Popen, seconds: float = 15) -> None:
    process.terminate()
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextlib.contextmanager
def oxigraph_server(location: Path, *extra: str):
    """An Oxigraph server over ``location``: yields its query endpoint."""
    if not Path(OXIGRAPH).exists():
        pytest.skip("the oxigraph server (pip install oxigraph) is missing")
    port = _free_port()
    process = subprocess.Popen([OXIGRAPH, "serve", "--location", str(location), "--bind", f"127.0.0.1:{port}", *extra],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _wait_for(f"http://127.0.0.1:{port}/"), "the Oxigraph server did not start"
        yield f"http://127.0.0.1:{port}/query"
    finally:
        _stop(process)


@dataclass(frozen=True)
class Virtuoso:
    url: str  # the public SPARQL endpoint (queries; updates only when granted)
    auth_url: str  # the endpoint that takes updates from an authenticated user (HTTP Digest)
    sql_port: int
    folder: Path

    def isql(self, statement: str) -> str:
        """Run one SQL statement as the administrator."""
        tool = shutil.which("isql-vt") or shutil.which("isql")
        answer = subprocess.run([tool, f"127.0.0.1:{self.sql_port}", *VIRTUOSO_USER, f"exec={statement}"],
                                capture_output=True, text=True, timeout=30)
        assert answer.returncode == 0, answer.stdout + answer.stderr
        return answer.stdout


VIRTUOSO_INI = """\
[Database]
DatabaseFile = {folder}/virtuoso.db
ErrorLogFile = {folder}/virtuoso.log
LockFile = {folder}/virtuoso.lck
TransactionFile = {folder}/virtuoso.trx
xa_persistent_file = {folder}/virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
MaxCheckpointRemap = 2000
Striping = 0
TempStorage = TempDatabase

[TempDatabase]
DatabaseFile = {folder}/virtuoso-temp.db
TransactionFile = {folder}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping = 0

[Parameters]
ServerPort = 127.0.0.1:{sql_port}
DisableUnixSocket = 1
DisableTcpSocket = 0
MaxClientConnections = 10
CheckpointInterval = 0
O_DIRECT = 0
CaseMode = 2
DirsAllowed = ., {folder}
NumberOfBuffers = 10000
MaxDirtyBuffers = 6000
ThreadsPerQuery = 2
AsyncQueueMaxThreads = 4

[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerRoot = {folder}
MaxClientConnections = 10
ServerThreads = 10
Charset = UTF-8
EnabledGzipContent = 0

[Client]
SQL_PREFETCH_ROWS = 100
SQL_PREFETCH_BYTES = 16000
SQL_QUERY_TIMEOUT = 0
SQL_TXN_TIMEOUT = 0

[SPARQL]
; the defaults (10,000 rows, 60 s) are raised: a copy of the guideline graph alone is 10,821 triples
ResultSetMaxRows = {max_rows}
MaxQueryCostEstimationTime = 0
MaxQueryExecutionTime = 300
"""


def require_virtuoso() -> str:
    if VIRTUOSO:
        return VIRTUOSO
    if ON_CI:
        pytest.fail("virtuoso-t is not on the PATH: CI must install it (.ci/install-virtuoso)")
    pytest.skip("Virtuoso is not installed (run .ci/install-virtuoso: Debian's virtuoso-opensource)")


@contextlib.contextmanager
def virtuoso_server(folder: Path, max_rows: int = 1_000_000):
    """A Virtuoso server with a new database in ``folder``."""
    program = require_virtuoso()
    folder.mkdir(parents=True, exist_ok=True)
    sql_port, http_port = _free_port(), _free_port()
    ini = folder / "virtuoso.ini"
    ini.write_text(VIRTUOSO_INI.format(folder=folder, sql_port=sql_port, http_port=http_port, max_rows=max_rows))
    started = time.monotonic()
    process = subprocess.Popen([program, "+foreground", "+configfile", str(ini)], cwd=folder,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{http_port}"
    try:
        ready = _wait_for(f"{base}/sparql?" + urllib.parse.urlencode({"query": "ASK {}"}), tries=300)
        if not ready or process.poll() is not None:
            log = (folder / "virtuoso.log").read_text(errors="replace")[-2000:] if (folder / "virtuoso.log").exists() else ""
            pytest.fail(f"Virtuoso did not start: {log}")
        TIMINGS[f"{folder.name} start"] = time.monotonic() - started
        yield Virtuoso(f"{base}/sparql", f"{base}/sparql-auth", sql_port, folder)
    finally:
        stopping = time.monotonic()
        _stop(process, 30)
        TIMINGS[f"{folder.name} stop"] = time.monotonic() - stopping


@contextlib.contextmanager
def oxigraph_read_only(location: Path, data: Path):
    """A read-only Oxigraph server over a new store holding ``data``: yields its query endpoint."""
    if not Path(OXIGRAPH).exists():
        pytest.skip("the oxigraph server (pip install oxigraph) is missing")
    subprocess.run([OXIGRAPH, "load", "--location", str(location), "--file", str(data)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = _free_port()
    process = subprocess.Popen([OXIGRAPH, "serve-read-only", "--location", str(location), "--bind", f"127.0.0.1:{port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/query"
    try:
        assert _wait_for(url + "?query=ASK%7B%7D"), "the read-only Oxigraph server did not start"
        yield url
    finally:
        _stop(process)


def load_into(url: str, env: dict[str, str] | None = None) -> str:
    """``myeloma-kg load --store url``; its output."""
    from myeloma_kg.cli.main import main

    result = CliRunner().invoke(main, ["load", "--store", url], env=env or {})
    assert result.exit_code == 0, result.output
    return result.output


def virtuoso_env(server: Virtuoso) -> dict[str, str]:
    """The environment that sends ``load``'s updates to Virtuoso's authenticated endpoint."""
    return {"MYELOMA_KG_UPDATE_URL": server.auth_url, "MYELOMA_KG_STORE_USER": VIRTUOSO_USER[0],
            "MYELOMA_KG_STORE_PASSWORD": VIRTUOSO_USER[1]}


# -- fixtures ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def oxigraph_url(tmp_path_factory):
    """An Oxigraph server started with its defaults, loaded with the graph."""
    with oxigraph_server(tmp_path_factory.mktemp("oxigraph")) as url:
        load_into(url)
        ENGINE[url], LOAD_ENV[url] = "oxigraph", {}
        yield url


@pytest.fixture(scope="module")
def virtuoso(tmp_path_factory):
    """A Virtuoso server with a new database, loaded with the graph through /sparql-auth."""
    with virtuoso_server(tmp_path_factory.mktemp("virtuoso")) as server:
        started = time.monotonic()
        load_into(server.url, virtuoso_env(server))
        TIMINGS[f"{server.folder.name} load"] = time.monotonic() - started
        ENGINE[server.url], LOAD_ENV[server.url] = "virtuoso", virtuoso_env(server)
        yield server


@pytest.fixture(scope="module")
def virtuoso_url(virtuoso):
    return virtuoso.url


@pytest.fixture(scope="module", params=["oxigraph", "virtuoso"])
def store_url(request):
    """Each engine in turn: the query endpoint of a loaded store."""
    return request.getfixturevalue(f"{request.param}_url")
