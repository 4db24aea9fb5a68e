"""Idle and slow clients: many connections that send nothing, or trickle their headers, must not
keep a new client from being answered.  Tested on a real ``myeloma-kg serve`` (loopback, its
default limits) and, for the idle timeout and the disconnect check, on waitress with the options
``serve`` passes it."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import waitress

from myeloma_kg import Settings
from myeloma_kg.web.serve import waitress_options

IDLE = 150  # connections that send nothing
TRICKLING = 20  # connections that send one header line at a time, slowly
ANSWER_WITHIN_S = 5.0


def _connect(host: str, port: int) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # close at once
    return sock


def test_a_new_client_is_answered_while_many_idle_and_slow_connections_are_held(live_server):
    host, port = urllib.parse.urlsplit(live_server).hostname, urllib.parse.urlsplit(live_server).port
    assert host == "127.0.0.1"
    held: list[socket.socket] = []
    stop = threading.Event()

    def trickle(socks):  # one more header line on each slow connection every second, never the end
        line = 0
        while not stop.wait(1.0):
            line += 1
            for sock in socks:
                try:
                    sock.sendall(f"X-Slow-{line}: a\r\n".encode())
                except OSError:
                    pass

    try:
        for _ in range(IDLE):
            held.append(_connect(host, port))
        slow = []
        for _ in range(TRICKLING):
            sock = _connect(host, port)
            sock.sendall(b"GET /sparql HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            slow.append(sock)
        held.extend(slow)
        threading.Thread(target=trickle, args=(slow,), daemon=True).start()
        time.sleep(1.5)  # the server has taken every connection in (or stopped taking them, at its limit)

        started = time.monotonic()
        query = urllib.parse.urlencode({"query": "ASK { ?s ?p ?o }"})
        with urllib.request.urlopen(f"{live_server}/sparql?{query}", timeout=ANSWER_WITHIN_S) as answer:
            body = answer.read()
        elapsed = time.monotonic() - started
        assert answer.status == 200 and b'"boolean":true' in body.replace(b" ", b"")
        assert elapsed < ANSWER_WITHIN_S
        print(f"answered in {elapsed * 1000:.0f} ms with {IDLE} idle and {TRICKLING} trickling connections held")

        # the held connections are still open: the server answered without dropping them
        alive = 0
        for sock in held[:IDLE]:
            sock.setblocking(False)
            try:
                alive += sock.recv(1) != b""  # nothing to read yet: BlockingIOError
            except BlockingIOError:
                alive += 1
            except OSError:
                pass
        assert alive == IDLE
    finally:
        stop.set()
        for sock in held:
            sock.close()


# -- the options serve passes, on waitress itself ------------------------------------------------

def _serve(app, **settings):
    options = waitress_options(Settings.load({"port": 0, **settings}, environ={}))
    options.pop("port")
    server = waitress.create_server(app, port=0, **options)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return server, thread


def _stop(server, thread):
    server.close()
    server.task_dispatcher.shutdown()
    thread.join(timeout=5)


def test_the_defaults_hold_many_connections_and_close_idle_ones():
    options = waitress_options(Settings.load(environ={}))
    assert options["connection_limit"] >= 500  # waitress's own default, 100, is what idle clients fill
    assert options["asyncore_use_poll"] is True  # select() breaks past ~1000 open files
    assert 0 < options["channel_timeout"] <= 60 and options["cleanup_interval"] <= options["channel_timeout"]
    assert options["channel_request_lookahead"] >= 1


def test_an_idle_connection_is_closed_after_the_idle_timeout():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    server, thread = _serve(app, idle_timeout_s=1, cleanup_interval_s=1)
    try:
        sock = socket.create_connection(("127.0.0.1", server.effective_port), timeout=10)
        started = time.monotonic()
        try:
            closed = sock.recv(1) == b""  # blocks until the server closes the connection
        except ConnectionResetError:
            closed = True
        finally:
            sock.close()
        assert closed and time.monotonic() - started < 5
    finally:
        _stop(server, thread)


def test_the_app_can_tell_that_its_client_went_away():
    seen = {}
    gone = threading.Event()

    def app(environ, start_response):
        check = environ.get("waitress.client_disconnected")
        seen["check"] = check is not None
        deadline = time.monotonic() + 5
        while check is not None and not check() and time.monotonic() < deadline:
            time.sleep(0.05)
        if check is not None and check():
            gone.set()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    server, thread = _serve(app)
    try:
        sock = socket.create_connection(("127.0.0.1", server.effective_port), timeout=5)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        time.sleep(0.3)
        sock.close()
        assert gone.wait(5), "the app did not learn that the client left"
        assert seen["check"]
    finally:
        _stop(server, thread)


@pytest.mark.parametrize("name,value,expected", [("connection_limit", "2000", 2000), ("idle_timeout_s", "10", 10),
                                                 ("cleanup_interval_s", "2", 2), ("use_poll", "no", False),
                                                 ("max_header_bytes", "32768", 32768)])
def test_each_connection_setting_reaches_waitress(name, value, expected):
    options = waitress_options(Settings.load(environ={"MYELOMA_KG_" + name.upper(): value}))
    waitress_name = {"connection_limit": "connection_limit", "idle_timeout_s": "channel_timeout",
                     "cleanup_interval_s": "cleanup_interval", "use_poll": "asyncore_use_poll",
                     "max_header_bytes": "max_request_header_size"}[name]
    assert options[waitress_name] == expected


def test_headers_past_the_limit_are_refused_and_a_long_get_query_within_it_is_answered(live_server):
    query = "ASK { ?s ?p ?o } #" + "x" * 20_000  # a long query text, about 20 KB in the URL
    with urllib.request.urlopen(f"{live_server}/sparql?{urllib.parse.urlencode({'query': query})}", timeout=30) as answer:
        assert answer.status == 200
    too_long = urllib.parse.urlencode({"query": "ASK { ?s ?p ?o } #" + "x" * 70_000})
    try:
        urllib.request.urlopen(f"{live_server}/sparql?{too_long}", timeout=30)
        status = 200
    except urllib.error.HTTPError as exc:
        status = exc.code
    assert status == 431
