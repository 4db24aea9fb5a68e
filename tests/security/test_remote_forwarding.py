"""On a remote store, the endpoint forwards only checked queries: the store never connects out.

The app runs with ``--store URL`` of a real Oxigraph server and a real Virtuoso (both would
execute SERVICE if they were sent one).  Every SERVICE case, dataset clause and update of the
embedded suite is sent to the app; the trap must see no connection from either engine.
"""

from __future__ import annotations

import pytest

from myeloma_kg import Settings, load_graph
from myeloma_kg.web import create_app

from .conftest import COUNT_ALL
from .test_no_outbound import DATASET_QUERIES, HARMLESS, SERVICE_QUERIES, UPDATES, fill


@pytest.fixture(scope="module")
def remote_client(store_url, settings):
    remote = Settings.load({"store": store_url, "cache_dir": str(settings.cache_path),
                            "data_dir": str(settings.data_path)}, environ={})
    app = create_app(remote, load_graph(remote))
    yield app.test_client()
    app.extensions["sparql"].close()


def _count(client) -> int:
    response = client.get("/sparql", query_string={"query": COUNT_ALL})
    assert response.status_code == 200, response.get_data(as_text=True)
    return int(response.json["results"]["bindings"][0]["n"]["value"])


def test_the_store_is_never_made_to_connect_out(remote_client, trap):
    before = _count(remote_client)
    assert before > 10000
    for case, template in SERVICE_QUERIES.items():
        response = remote_client.post("/sparql", data={"query": fill(template, trap)})
        expected = 200 if case in HARMLESS else 400
        assert response.status_code == expected, (case, response.get_data(as_text=True))
    for template in DATASET_QUERIES.values():
        assert remote_client.get("/sparql", query_string={"query": fill(template, trap)}).status_code == 400
    for template in UPDATES.values():
        assert remote_client.post("/sparql", data={"update": fill(template, trap)}).status_code == 400
        assert remote_client.post("/sparql", data={"query": fill(template, trap)}).status_code == 400
    for param in ("default-graph-uri", "named-graph-uri"):
        response = remote_client.get("/sparql", query_string={"query": "ASK { ?s ?p ?o }", param: trap.url})
        assert response.status_code == 400
    assert trap.connections(wait=0.3) == 0
    assert _count(remote_client) == before


def test_the_trap_would_see_a_forwarded_service(oxigraph_url, trap):
    """The trap works: sent to Oxigraph directly (not through the app), SERVICE reaches it.

    (Virtuoso in its default configuration refuses SERVICE to anonymous users by itself, error
    SQ070 on DB.DBA.SPARQL_SINV_2, so
    there the app's check is the only thing the test can show.)
    """
    from myeloma_kg.graph.remote import RemoteStore

    try:
        RemoteStore(oxigraph_url, timeout_s=5).query(f"SELECT * WHERE {{ SERVICE <{trap.url}/sparql> {{ ?s ?p ?o }} }}")
    except Exception:
        pass  # the trap does not answer like a SPARQL endpoint
    assert trap.connections(wait=0.5) >= 1
