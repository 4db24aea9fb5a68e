"""``serve --processes N``: several waitress servers forked from the one that loaded the graph,
on one socket.  Each keeps every wall of the single server (a SERVICE query is refused and nothing
connects out, an update changes nothing), a server that dies is replaced, and SIGTERM stops the
whole tree, workers included."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .conftest import COUNT_ALL, Trap
from .test_processes import alive, children
from conftest import _free_port, _wait_for

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or not Path("/proc").is_dir(),
                                reason="forks, and reads /proc")


def tree(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        for child in children(todo.pop()):
            found.add(child)
            todo.append(child)
    return found


def sparql(url: str, query: str, method: str = "GET") -> tuple[int, bytes]:
    if method == "GET":
        request = urllib.request.Request(f"{url}/sparql?" + urllib.parse.urlencode({"query": query}),
                                         headers={"Accept": "application/sparql-results+json"})
    else:
        request = urllib.request.Request(f"{url}/sparql", data=urllib.parse.urlencode({"update": query}).encode(),
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def count(url: str) -> int:
    status, body = sparql(url, COUNT_ALL)
    assert status == 200
    return int(json.loads(body)["results"]["bindings"][0]["n"]["value"])


@pytest.fixture(scope="module")
def forked():
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "myeloma_kg.cli.main", "serve", "--port", str(port),
                               "--processes", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        if not _wait_for(url + "/sparql"):
            server.kill()
            pytest.fail("the server did not start: " + server.stderr.read().decode(errors="replace")[-2000:])
        deadline = time.monotonic() + 20
        while len(children(server.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        yield server, url
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=20)


def test_two_servers_with_their_own_workers_share_the_port(forked):
    server, url = forked
    servers = children(server.pid)
    assert len(servers) == 2
    for pid in servers:  # each forked its own query and patient workers
        assert len(children(pid)) >= 2
    before = {pid: cpu_ticks(pid) for pid in servers}
    with ThreadPoolExecutor(8) as pool:  # many connections at once, each a new one: both servers answer
        answers = list(pool.map(lambda _: count(url), range(300)))
    assert len(set(answers)) == 1 and answers[0] > 1000
    assert all(cpu_ticks(pid) > before[pid] for pid in servers), "one server took no request"


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_every_server_refuses_service_and_updates_and_nothing_changes(forked):
    _server, url = forked
    trap = Trap()
    try:
        before = count(url)
        for _ in range(10):  # with two servers, both get some of these
            status, _ = sparql(url, f"SELECT * WHERE {{ SERVICE <{trap.url}/> {{ ?s ?p ?o }} }}")
            assert status == 400
            status, _ = sparql(url, f"LOAD <{trap.url}/data.ttl>", method="POST")
            assert status in (400, 403, 405)
            status, _ = sparql(url, "CLEAR ALL", method="POST")
            assert status in (400, 403, 405)
        assert trap.connections(wait=0.5) == 0, "a server connected out"
        assert count(url) == before
    finally:
        trap.close()


def test_a_server_that_dies_is_replaced(forked):
    server, url = forked
    first = children(server.pid)
    victim = sorted(first)[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        now = children(server.pid)
        if victim not in now and len(now) == 2:
            break
        time.sleep(0.1)
    now = children(server.pid)
    assert victim not in now and len(now) == 2
    assert count(url) > 1000


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_the_end_of_the_first_process_stops_every_process_of_the_tree(sig):
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "myeloma_kg.cli.main", "serve", "--port", str(port),
                               "--processes", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _wait_for(f"http://127.0.0.1:{port}/sparql")
        deadline = time.monotonic() + 20
        while len(tree(server.pid)) < 6 and time.monotonic() < deadline:  # 2 servers, 4+ workers
            time.sleep(0.1)
        everyone = tree(server.pid)
        assert len(everyone) >= 6
        server.send_signal(sig)  # SIGKILL: the servers learn it from the kernel, not from the first process
        server.wait(timeout=20)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(p) for p in everyone):
            time.sleep(0.1)
        assert not any(alive(p) for p in everyone), f"a server or worker outlived the {sig.name}"
    finally:
        if server.poll() is None:
            server.kill()
