"""Fixtures of the security suite: an app with tight limits, and a loopback trap.

The trap is a listening socket on 127.0.0.1 that nothing of the project should ever connect to.
A test puts its address into a query or a record, sends the request, and then asks the trap
whether a connection arrived; the kernel queues a connection as soon as it is made, so a pending
one is seen right after the response, whatever the server answered.
"""

from __future__ import annotations

import select
import socket

import pytest

COUNT_ALL = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


class Trap:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.arrived: list[bytes] = []

    def connections(self, wait: float = 0.05) -> int:
        """How many connections have arrived so far (each is accepted, read briefly and closed)."""
        while True:
            ready, _, _ = select.select([self.sock], [], [], wait)
            if not ready:
                return len(self.arrived)
            conn, _ = self.sock.accept()
            conn.settimeout(0.2)
            try:
                self.arrived.append(conn.recv(4096))
            except OSError:
                self.arrived.append(b"")
            finally:
                conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture()
def trap():
    t = Trap()
    yield t
    t.close()


@pytest.fixture(scope="package")
def secure_app(make_app):
    return make_app(query_timeout_s=2.0, max_result_rows=2000)


@pytest.fixture()
def client(secure_app):
    return secure_app.test_client()


@pytest.fixture()
def graph_size(kg):
    """The number of quads in the app's graph, before and (called again) after a test."""
    return lambda: len(kg.store)
