"""What the forked worker processes share (the SPARQL endpoint's and the patient routes'): waiting
for the next job while the server that forked them lives."""

from __future__ import annotations

import os
from typing import Any

_GONE = object()


def next_job(conn, server: int) -> Any:
    """The next job from the server's pipe, or ``None`` once the server has gone.

    A worker outlives no server: forked siblings hold copies of each other's pipes, so the end of
    the pipe is not a reliable sign; a change of parent is.
    """
    while not conn.poll(1.0):
        if os.getppid() != server:
            return None
    try:
        return conn.recv()
    except (EOFError, OSError):
        return None
