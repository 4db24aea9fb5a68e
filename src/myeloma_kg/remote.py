"""A remote SPARQL 1.1 endpoint as the store, through SPARQLWrapper.

``--store URL`` names the query endpoint.  The update endpoint is derived from it for the common
servers (Oxigraph ``/query`` -> ``/update``; Fuseki ``/<ds>/sparql`` or ``/<ds>/query`` ->
``/<ds>/update``) or given with ``MYELOMA_KG_UPDATE_URL``.  Queries see the union of the named
graphs as their default graph, as on the embedded store: start Oxigraph with
``--union-default-graph`` (Fuseki: ``tdb:unionDefaultGraph true``).

Parameters are bound by a VALUES block written after the first ``WHERE {``, each value serialised
as one RDF term by pyoxigraph, so a value can never change the shape of the query.  Every request
has a bounded wait; a store that is down or slow gets a clear message, never a hang.
"""

from __future__ import annotations

import re
import socket
import urllib.error
from typing import TYPE_CHECKING, Iterable, Mapping

import pyoxigraph as ox

from .errors import QuerySyntaxError, StoreError
from .namespaces import PREFIXES

if TYPE_CHECKING:
    from .store import KnowledgeGraph

CHUNK = 2000  # triples per INSERT DATA request


def update_url_for(query_url: str) -> str:
    for suffix, replacement in (("/query", "/update"), ("/sparql", "/update")):
        if query_url.endswith(suffix):
            return query_url[: -len(suffix)] + replacement
    return query_url


def bind_values(text: str, bindings: Mapping[str, ox.NamedNode | ox.Literal]) -> str:
    """The query with a VALUES block for the bindings right after its first ``WHERE {``."""
    if not bindings:
        return text
    match = re.search(r"\bWHERE\s*\{", text, re.IGNORECASE)
    if match is None:
        raise QuerySyntaxError("a query with parameters needs a WHERE clause to bind them on a remote store")
    names = " ".join(f"?{name}" for name in bindings)
    values = " ".join(str(term) for term in bindings.values())
    return f"{text[: match.end()]}\n  VALUES ({names}) {{ ({values}) }}\n{text[match.end():]}"


def _prologue(text: str) -> str:
    declared = {m.group(1) for m in re.finditer(r"PREFIX\s+([A-Za-z][\w-]*)?:", text, re.IGNORECASE)}
    missing = "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in PREFIXES.items() if p not in declared)
    return missing + text


class RemoteStore:
    def __init__(self, url: str, update_url: str | None = None, timeout_s: float = 30.0) -> None:
        self.url = url
        self.update_url = update_url or update_url_for(url)
        self.timeout_s = timeout_s

    def _client(self, url: str):
        from SPARQLWrapper import SPARQLWrapper

        client = SPARQLWrapper(url)
        client.setTimeout(int(max(1, self.timeout_s)))
        client.setMethod("POST")
        return client

    def _run(self, client, what: str):
        try:
            return client.query()
        except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise StoreError(f"the triple store at {client.endpoint} did not answer the {what} "
                             f"(within {self.timeout_s:g} s): {reason}") from None
        except Exception as exc:  # SPARQLWrapper raises its own classes for HTTP 4xx/5xx
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if "QueryBadFormed" in type(exc).__name__:
                raise QuerySyntaxError(f"the triple store refused the query: {text}") from None
            raise StoreError(f"the triple store at {client.endpoint} failed on the {what}: {text}") from None

    def query(self, text: str, bindings: Mapping[str, ox.NamedNode | ox.Literal] | None = None):
        """Results as pyoxigraph objects: QuerySolutions, QueryBoolean or a list of triples."""
        body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        sparql = _prologue(bind_values(body, bindings or {}))
        client = self._client(self.url)
        client.setQuery(sparql)
        match = re.search(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", re.sub(r"PREFIX[^\n]*", "", sparql), re.IGNORECASE)
        form = match.group(1).upper() if match else "SELECT"
        if form in ("CONSTRUCT", "DESCRIBE"):
            client.setReturnFormat("n3")
            client.addCustomHttpHeader("Accept", "application/n-triples")
            data = self._run(client, "query").response.read()
            return list(ox.parse(data, format=ox.RdfFormat.N_TRIPLES))
        client.setReturnFormat("json")
        data = self._run(client, "query").response.read()
        return ox.parse_query_results(data, format=ox.QueryResultsFormat.JSON)

    def update(self, text: str) -> None:
        client = self._client(self.update_url)
        client.setQuery(text)
        self._run(client, "update")

    def replace_graph(self, graph: str, triples: Iterable[ox.Triple]) -> int:
        """Drop the named graph, then insert the triples into it in chunks."""
        self.update(f"DROP SILENT GRAPH <{graph}>")
        batch: list[ox.Triple] = []
        count = 0
        for triple in triples:
            batch.append(triple)
            if len(batch) == CHUNK:
                count += self._insert(graph, batch)
                batch = []
        if batch:
            count += self._insert(graph, batch)
        return count

    def _insert(self, graph: str, triples: list[ox.Triple]) -> int:
        body = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES).decode()
        self.update(f"INSERT DATA {{ GRAPH <{graph}> {{\n{body}}} }}")
        return len(triples)


def pull_graph(settings) -> "KnowledgeGraph":
    """A local working copy of the graph held by a remote store (its named graphs as they are).

    Pages, the patient rules and the API read this copy; the SPARQL endpoint and ``query`` send
    their queries to the remote store itself.
    """
    import os

    from .store import KnowledgeGraph

    remote = RemoteStore(settings.store, os.environ.get("MYELOMA_KG_UPDATE_URL"), max(30.0, settings.query_timeout_s))
    graphs = [s["g"] for s in remote.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")]
    own = [g for g in graphs if g.value.startswith("https://w3id.org/myeloma-kg/graph/")]
    if not own:
        raise StoreError(f"the triple store at {settings.store} holds none of the graph's named graphs; "
                         "put them there with 'myeloma-kg load --store URL'")
    store = ox.Store()
    for graph in own:
        triples = remote.query(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{graph.value}> {{ ?s ?p ?o }} }}")
        store.extend([ox.Quad(t.subject, t.predicate, t.object, graph) for t in triples])
    kg = KnowledgeGraph(store, settings, digest="")
    kg.remote = remote
    return kg
