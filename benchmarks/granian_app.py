"""The project's web app for granian, for ``benchmarks/endpoint_peers.py`` (the project-granian column).

An experiment, not a way to serve the project: it measures what a Rust HTTP server (granian, its
WSGI interface, one worker process per core) in front of the same app, with the same checks and
fast path, would give against raw Oxigraph.  The connection-level protections of SECURITY.md are
made and tested with waitress (``myeloma-kg serve``); none of them is claimed for this.
"""

from myeloma_kg import Settings, load_graph
from myeloma_kg.web import create_app
from myeloma_kg.web.serve import start_workers

settings = Settings.load()
app = create_app(settings, load_graph(settings))
start_workers(app)  # as `myeloma-kg serve` starts them
