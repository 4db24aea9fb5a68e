"""Running the web app under waitress (a production WSGI server).

Waitress reads each request whole on its event loop before a thread runs it, so a client that is
idle, or that sends its headers slowly, holds a connection (a file descriptor) but no thread.  The
limits below therefore keep many connections open at low cost, close the idle ones after a while,
and leave per-client limits to a reverse proxy (SECURITY.md).
"""

from __future__ import annotations

import os
import select
import signal
import socket
import sys
import time
from typing import Any

from ..config import Settings
from ..graph.store import KnowledgeGraph

# Files the process needs besides its connections: the store, the query workers' pipes, buffers
# spilled to temporary files, the log.
SPARE_FILES = 256
# Requests waitress reads ahead on a connection while one runs.  Above zero, the channel notices
# a client that went away and the app sees ``environ["waitress.client_disconnected"]``.
REQUEST_LOOKAHEAD = 1


def _open_file_room(wanted: int) -> int:
    """Raise the soft limit on open files towards ``wanted`` (not past the hard limit); the limit now."""
    try:
        import resource
    except ImportError:  # not on this system (Windows): waitress's own default applies there
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (OSError, ValueError):
            pass
    return wanted if soft == resource.RLIM_INFINITY else soft


def waitress_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of ``waitress.serve`` (besides the app) for these settings."""
    limit = max(1, settings.connection_limit)
    # a connection is one open file, up to three while a large body or answer spills to a temporary file
    room = _open_file_room(3 * limit + SPARE_FILES)
    if room < limit + SPARE_FILES:
        limit = max(16, room - SPARE_FILES)
        print(f"warning: only {room} open files are allowed; at most {limit} connections at once",
              file=sys.stderr)
    return {
        "host": settings.host, "port": settings.port, "threads": settings.threads,
        "max_request_body_size": settings.max_request_bytes, "ident": "myeloma-kg",
        "max_request_header_size": settings.max_header_bytes,
        "connection_limit": limit,
        "channel_timeout": max(1, settings.idle_timeout_s),
        "cleanup_interval": max(1, settings.cleanup_interval_s),
        "asyncore_use_poll": settings.use_poll and hasattr(select, "poll"),
        "channel_request_lookahead": REQUEST_LOOKAHEAD,
    }


def server_processes(settings: Settings) -> int:
    """How many server processes to run: ``settings.processes``, 0 meaning one per core; one where
    processes cannot be forked."""
    if not hasattr(os, "fork"):
        return 1
    wanted = settings.processes if settings.processes > 0 else (os.cpu_count() or 1)
    return max(1, min(wanted, 64))


def start_workers(app) -> None:
    """The app's query and patient worker processes, started so that they are ready before the
    first request (in each server process, forked from it)."""
    app.extensions["sparql"].start()
    app.extensions["patients"].start()


def run_server(settings: Settings, kg: KnowledgeGraph) -> None:
    import waitress

    from . import create_app

    app = create_app(settings, kg)
    processes = server_processes(settings)
    if processes > 1:
        _serve_forked(app, settings, processes)
        return
    start_workers(app)
    waitress.serve(app, **waitress_options(settings))


def _serve_forked(app, settings: Settings, processes: int) -> None:
    """Several waitress servers on one listening socket, each forked from this process after the
    graph was loaded and the app built, so they share one copy of both (copy on write).  Each
    starts its own query and patient workers (forked from it, as with one process) and takes
    the same checks and limits; the connection limit is shared out between them.  This process
    only watches: a server that dies is started again (at most once a second), and SIGTERM or
    SIGINT stops them all."""
    import waitress

    options = waitress_options(settings)
    host, port = options.pop("host"), options.pop("port")
    options["connection_limit"] = max(16, options["connection_limit"] // processes)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.create_server((host, port), family=family, backlog=1024)
    stopping = False
    children: dict[int, float] = {}  # pid -> when it started

    def start_one() -> None:
        pid = os.fork()
        if pid == 0:  # a server process
            code = 0
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                _end_with(parent)
                start_workers(app)
                waitress.serve(app, sockets=[listener], **options)
            except BaseException:  # noqa: BLE001 - whatever it was, this process ends here
                code = 1
            finally:
                os._exit(code)
        children[pid] = time.monotonic()

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    parent = os.getpid()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for _ in range(processes):
            start_one()
        print(f"{processes} server processes (pids {', '.join(map(str, children))}) share "
              f"http://{host}:{port}/", file=sys.stderr, flush=True)
        while children:
            try:
                pid, _status = os.wait()
            except ChildProcessError:
                break
            started = children.pop(pid, None)
            if started is None or stopping:
                continue
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))  # no faster than once a second
            if not stopping:
                start_one()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        listener.close()


def _end_with(parent: int) -> None:
    """End this server process when the watching one is gone, even killed with SIGKILL: the
    kernel sends SIGTERM then (Linux, prctl PR_SET_PDEATHSIG), and a thread checks once a second
    elsewhere.  Its workers end with it (they watch it the same way)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # it ended before the signal was asked for
        os._exit(0)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(0)

    import threading

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()
