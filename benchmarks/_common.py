"""What the benchmarks share: free loopback ports, percentiles, kept-alive HTTP connections, and
the processes and memory of a process tree read from /proc (Linux).

The scripts import it as ``_common`` (their own folder is first on ``sys.path`` when they run).
"""

from __future__ import annotations

import http.client
import os
import socket
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], fraction: float) -> float:
    """The value at ``fraction`` (0 to 1) of the sorted values, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


class KeepAlive:
    """One kept-alive HTTP/1.1 connection to a loopback port; opened again after a failure."""

    def __init__(self, port: int, timeout: float) -> None:
        self.port, self.timeout = port, timeout
        self.conn: http.client.HTTPConnection | None = None

    def open(self) -> None:
        """Connect now (so that a measured request does not pay for the TCP handshake)."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            self.conn.connect()

    def get(self, target: str, accept: str) -> tuple[int, bytes]:
        self.open()
        try:
            self.conn.request("GET", target, headers={"Accept": accept})
            response = self.conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if response.will_close:
            self.close()
        return response.status, body

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def process_tree(root: int) -> list[int]:
    """``root`` and every live process descended from it."""
    found, todo = [], [root]
    while todo and len(found) < 10_000:
        pid = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue  # gone
        found.append(pid)
        for task in tasks:
            try:
                todo.extend(int(child) for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split())
            except OSError:
                pass
    return found


def kib(path: str, field: str) -> int | None:
    """A ``Field: N kB`` line of a /proc file, or None when the file or line is missing."""
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def memory(root: int) -> dict[str, int | None]:
    """Processes, summed RSS and summed PSS of a tree (PSS None where the kernel does not give it)."""
    pids = process_tree(root)
    rss = [kib(f"/proc/{pid}/status", "VmRSS") for pid in pids]
    pss = [kib(f"/proc/{pid}/smaps_rollup", "Pss") for pid in pids]
    return {"processes": len(pids), "rss_kib": sum(v or 0 for v in rss),
            "pss_kib": sum(pss) if pids and all(v is not None for v in pss) else None}
