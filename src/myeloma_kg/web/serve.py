"""Running the web app under waitress (a production WSGI server).

Waitress reads each request whole on its event loop before a thread runs it, so a client that is
idle, or that sends its headers slowly, holds a connection (a file descriptor) but no thread.  The
limits below therefore keep many connections open at low cost, close the idle ones after a while,
and leave per-client limits to a reverse proxy (SECURITY.md).
"""

from __future__ import annotations

import select
import sys
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


def run_server(settings: Settings, kg: KnowledgeGraph) -> None:
    import waitress

    from . import create_app

    app = create_app(settings, kg)
    app.extensions["sparql"].start()  # the query and patient workers are ready before the first request
    app.extensions["patients"].start()
    waitress.serve(app, **waitress_options(settings))
