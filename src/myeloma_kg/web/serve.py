"""Running the web app under waitress (a production WSGI server)."""

from __future__ import annotations

from ..config import Settings
from ..graph.store import KnowledgeGraph


def run_server(settings: Settings, kg: KnowledgeGraph) -> None:
    import waitress

    from . import create_app

    app = create_app(settings, kg)
    app.extensions["sparql"].start()  # the query workers are ready before the first request
    waitress.serve(app, host=settings.host, port=settings.port, threads=settings.threads,
                   max_request_body_size=settings.max_request_bytes, ident="myeloma-kg")
