"""A remote SPARQL 1.1 endpoint as the store, through SPARQLWrapper.

``--store URL`` names the query endpoint.  The update endpoint is derived from it for the common
servers (Oxigraph ``/query`` -> ``/update``; Fuseki ``/<ds>/sparql`` or ``/<ds>/query`` ->
``/<ds>/update``); when the derived endpoint does not exist (Virtuoso takes updates on
``/sparql`` itself) the query endpoint is used.  ``MYELOMA_KG_UPDATE_URL`` names it explicitly,
and ``MYELOMA_KG_STORE_USER`` / ``MYELOMA_KG_STORE_PASSWORD`` give credentials for it (HTTP
Basic or Digest, whichever the server asks for; Virtuoso's ``/sparql-auth`` uses Digest).

The dataset of every query is stated in the request, so the answers do not depend on how the
store was configured: by default the project's named graphs that the store holds (found once,
cached) are both the default graph (their union, as on the embedded store) and the named graphs,
sent as the SPARQL 1.1 Protocol's ``default-graph-uri`` / ``named-graph-uri`` parameters.  A query
with its own FROM / FROM NAMED keeps them, and no parameter is added.  The public endpoint states
the whole dataset of each query itself (``query_dataset``).

Parameters are bound by a VALUES block written after the first ``WHERE {``, each value serialised
as one RDF term by pyoxigraph, so a value can never change the shape of the query.  Every request
has a bounded wait; a store that is down or slow gets a clear message, never a hang.

Results are read into pyoxigraph objects.  Two spellings of Virtuoso's are put into standard
form on the way: blank nodes written ``nodeID://b123`` (not a valid blank node label) and
booleans written ``1`` / ``0`` in JSON results.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import pyoxigraph as ox

from ..errors import QuerySyntaxError, StoreError
from ..namespaces import GRAPH, GRAPH_META, PREFIXES

if TYPE_CHECKING:
    from .store import KnowledgeGraph

CHUNK = 2000  # triples per update request (blank-node groups are never split)
PROJECT_GRAPHS = str(GRAPH)  # every named graph of the project has an IRI under this
META_GRAPH_IRI = str(GRAPH_META)
# A graph IRI that never holds triples: an empty set of named graphs is sent as this one graph,
# since Virtuoso reads a request without named-graph-uri as "every graph".
EMPTY_GRAPH_IRI = PROJECT_GRAPHS + "none"
_XSD_BOOLEAN = "http://www.w3.org/2001/XMLSchema#boolean"

# Strings, IRIs and comments of a query, so keywords are only looked for in the query's own code.
_NOT_CODE = re.compile(
    r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\''
    r'|<[^<>"{}|^`\\\s]*>|#[^\n]*'
)


def update_url_for(query_url: str) -> str:
    for suffix, replacement in (("/query", "/update"), ("/sparql", "/update")):
        if query_url.endswith(suffix):
            return query_url[: -len(suffix)] + replacement
    return query_url


def _code(text: str) -> str:
    """The query with its strings and comments blanked out (same length, IRIs kept)."""

    def blank(match: re.Match) -> str:
        token = match.group(0)
        return token if token.startswith("<") else " " * len(token)

    return _NOT_CODE.sub(blank, text)


def own_dataset(text: str) -> bool:
    """True when the query states its own dataset with FROM or FROM NAMED."""
    return re.search(r"\bFROM\s+(NAMED\s+)?(<|[A-Za-z_][\w.-]*:|:)", _code(text), re.IGNORECASE) is not None


def bind_values(text: str, bindings: Mapping[str, ox.NamedNode | ox.Literal]) -> str:
    """The query with a VALUES block for the bindings right after its first ``WHERE {``."""
    if not bindings:
        return text
    match = re.search(r"\bWHERE\s*\{", _code(text), re.IGNORECASE)
    if match is None:
        raise QuerySyntaxError("a query with parameters needs a WHERE clause to bind them on a remote store")
    names = " ".join(f"?{name}" for name in bindings)
    values = " ".join(str(term) for term in bindings.values())
    return f"{text[: match.end()]}\n  VALUES ({names}) {{ ({values}) }}\n{text[match.end():]}"


def _prologue(text: str, after_base: bool = False) -> str:
    declared = {m.group(1) for m in re.finditer(r"PREFIX\s+([A-Za-z][\w-]*)?:", text, re.IGNORECASE)}
    missing = "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in PREFIXES.items() if p not in declared)
    first_base = re.match(r"\s*BASE\s*<[^<>]*>", _code(text), re.IGNORECASE) if after_base else None
    if first_base:  # Virtuoso takes a BASE only before every PREFIX
        return text[:first_base.end()] + "\n" + missing + text[first_base.end():]
    return missing + text


def _form(sparql: str) -> str:
    code = re.sub(r"\bPREFIX\s+[\w-]*:\s*<[^>]*>|\bBASE\s*<[^>]*>", "", _code(sparql), flags=re.IGNORECASE)
    match = re.search(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", code, re.IGNORECASE)
    return match.group(1).upper() if match else "SELECT"


def _blank_label(value: str) -> str:
    """A valid blank node label for a store's own spelling (Virtuoso: ``nodeID://b10006``)."""
    label = re.sub(r"[^A-Za-z0-9_-]", "_", value.removeprefix("nodeID://"))
    return label if label[:1].isalnum() or label[:1] == "_" else "b" + label


def _standard_json(data: bytes, bound: Mapping[str, ox.NamedNode | ox.Literal] | None = None) -> bytes:
    """SPARQL JSON results with blank node labels and boolean literals in standard form.

    A variable bound by the VALUES block can only hold the bound term; a store that hands it
    back in another form (Virtuoso turns the boolean ``false`` into the integer ``0``) gets the
    bound term put back.
    """
    restore = {name: term for name, term in (bound or {}).items()
               if isinstance(term, ox.Literal) and term.datatype.value == _XSD_BOOLEAN}
    if not restore and b'"bnode"' not in data and _XSD_BOOLEAN.encode() not in data:
        return data  # nothing to put right
    try:
        document = json.loads(data)
    except ValueError:
        return data  # let the results parser report it
    bindings = document.get("results", {}).get("bindings") if isinstance(document, dict) else None
    if not bindings:
        return data
    for row in bindings:
        for name, term in restore.items():
            cell = row.get(name)
            if cell and cell.get("type") in ("literal", "typed-literal") and cell.get("value") in ("0", "1") \
                    and (cell["value"] == "1") == (term.value in ("true", "1")):
                row[name] = {"type": "literal", "datatype": _XSD_BOOLEAN, "value": "true" if cell["value"] == "1" else "false"}
        for cell in row.values():
            kind = cell.get("type")
            if kind == "bnode":
                cell["value"] = _blank_label(cell["value"])
            elif kind in ("literal", "typed-literal") and cell.get("datatype") == _XSD_BOOLEAN:
                cell["value"] = {"1": "true", "0": "false"}.get(cell["value"], cell["value"])
    return json.dumps(document).encode()


def _blank_groups(triples: Iterable[ox.Triple]) -> list[list[ox.Triple]]:
    """The triples in groups: each triple without blank nodes alone, and the triples linked by
    shared blank nodes together, so that one request always carries a whole blank-node structure
    (a blank node label means the same node only within one request)."""
    parent: dict[ox.BlankNode, ox.BlankNode] = {}

    def root(node: ox.BlankNode) -> ox.BlankNode:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    plain: list[list[ox.Triple]] = []
    linked: list[ox.Triple] = []
    for triple in triples:
        blanks = [t for t in (triple.subject, triple.object) if isinstance(t, ox.BlankNode)]
        if not blanks:
            plain.append([triple])
            continue
        linked.append(triple)
        first = root(blanks[0])
        for other in blanks[1:]:
            parent[root(other)] = first
    groups: dict[ox.BlankNode, list[ox.Triple]] = defaultdict(list)
    for triple in linked:
        node = triple.subject if isinstance(triple.subject, ox.BlankNode) else triple.object
        groups[root(node)].append(triple)
    return plain + list(groups.values())


class RemoteStore:
    def __init__(self, url: str, update_url: str | None = None, timeout_s: float = 30.0,
                 credentials: tuple[str, str] | None = None) -> None:
        self.url = url
        self.update_url = update_url or update_url_for(url)
        self._update_url_derived = update_url is None
        self.timeout_s = timeout_s
        self.credentials = credentials  # (user, password) for the update endpoint
        self._graphs: list[str] | None = None

    # -- the dataset -------------------------------------------------------------------------

    def graphs(self, refresh: bool = False) -> list[str]:
        """The project's named graphs that the store holds (asked once, then cached)."""
        if self._graphs is None or refresh:
            answer = self._send(
                f'SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(STRSTARTS(STR(?g), "{PROJECT_GRAPHS}")) }}',
                "SELECT", None, None)
            self._graphs = sorted(s["g"].value for s in answer if isinstance(s["g"], ox.NamedNode))
        return list(self._graphs)

    def _dataset(self, text: str, default_graphs, named_graphs) -> tuple[list[str] | None, list[str] | None]:
        if not default_graphs and not named_graphs:
            if own_dataset(text):
                return None, None  # the query's FROM / FROM NAMED stand as written
            default_graphs = named_graphs = self._known_graphs()
        return (list(default_graphs) if default_graphs else self._known_graphs(),
                list(named_graphs) if named_graphs else self._known_graphs())

    def _known_graphs(self) -> list[str]:
        # the meta graph (the hash of the loaded files) is pulled with the others but is no part of
        # the data queries see
        graphs = [g for g in self.graphs() if g != META_GRAPH_IRI]
        if not graphs:
            raise StoreError(f"the triple store at {self.url} holds none of the graph's named graphs "
                             f"(under {PROJECT_GRAPHS}); put them there with 'myeloma-kg load --store {self.url}'")
        return graphs

    # -- requests ----------------------------------------------------------------------------

    def _client(self, url: str):
        from SPARQLWrapper import SPARQLWrapper

        client = SPARQLWrapper(url)
        client.setTimeout(int(max(1, self.timeout_s)))
        client.setMethod("POST")
        # Content negotiation only: the extra format=/output= parameters SPARQLWrapper adds by
        # default make Virtuoso answer CONSTRUCT in Notation 3 or refuse with 406.
        client.setOnlyConneg(True)
        return client

    def _run(self, client, what: str):
        try:
            return client.query()
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise StoreError(f"the triple store at {client.endpoint} did not answer the {what} "
                             f"(within {self.timeout_s:g} s): {reason}") from None
        except Exception as exc:  # SPARQLWrapper raises its own classes for HTTP 4xx/5xx
            if "QueryBadFormed" in type(exc).__name__:
                raise QuerySyntaxError(f"the triple store refused the query: {_detail(exc)}") from None
            raise StoreError(f"the triple store at {client.endpoint} failed on the {what}: {_detail(exc)}") from None

    def query(self, text: str, bindings: Mapping[str, ox.NamedNode | ox.Literal] | None = None, *,
              default_graphs: Sequence[str] | None = None, named_graphs: Sequence[str] | None = None):
        """Results as pyoxigraph objects: QuerySolutions, QueryBoolean or a list of triples.

        Without ``default_graphs`` and ``named_graphs`` the dataset is the project's graphs held by
        the store (union as the default graph, each as a named graph), unless the query has its
        own FROM / FROM NAMED.  Given either, those graphs are the dataset; a list left out is
        the project's graphs again (as the embedded store does).
        """
        body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        sparql = _prologue(bind_values(body, bindings or {}))
        defaults, named = self._dataset(sparql, default_graphs, named_graphs)
        return self._send(sparql, _form(sparql), defaults, named, bindings)

    def query_dataset(self, text: str, form: str, default_graphs: Sequence[str] | None,
                      named_graphs: Sequence[str] | None, base: str | None = None):
        """A query checked by the public endpoint, on exactly the dataset it gives: the graphs merged
        into the default graph and the named graphs, each None for the project's graphs held by the
        store.  The query's own FROM clauses, if any, must name the same (the endpoint sees to it).
        ``base``: the base IRI for relative IRIs, put first in the prologue (Virtuoso takes a BASE
        only there, and only one)."""
        defaults = self._known_graphs() if default_graphs is None else list(default_graphs)
        named = self._known_graphs() if named_graphs is None else list(named_graphs)
        if not named:  # a missing named-graph-uri is not "none" on every store
            named = [EMPTY_GRAPH_IRI]
        sparql = _prologue(text, after_base=True)
        if base:
            sparql = f"BASE <{ox.NamedNode(base).value}>\n{sparql}"
        return self._send(sparql, form, defaults, named)

    def _send(self, sparql: str, form: str, default_graphs: list[str] | None, named_graphs: list[str] | None,
              bound: Mapping[str, ox.NamedNode | ox.Literal] | None = None):
        client = self._client(self.url)
        client.setQuery(sparql)
        for graph in default_graphs or ():
            client.addDefaultGraph(graph)
        for graph in named_graphs or ():
            client.addNamedGraph(graph)
        if form in ("CONSTRUCT", "DESCRIBE"):
            client.setReturnFormat("n3")
            client.addCustomHttpHeader("Accept", "application/n-triples")
            response = self._run(client, "query").response
            data = response.read()
            self._check_complete(response.headers, sparql)
            try:
                return list(ox.parse(data, format=ox.RdfFormat.N_TRIPLES))
            except SyntaxError as exc:
                raise StoreError(f"the triple store at {self.url} sent triples that do not parse: {exc}") from None
        client.setReturnFormat("json")
        response = self._run(client, "query").response
        data = response.read()
        self._check_complete(response.headers, sparql)
        try:
            return ox.parse_query_results(_standard_json(data, bound), format=ox.QueryResultsFormat.JSON)
        except SyntaxError as exc:
            raise StoreError(f"the triple store at {self.url} sent results that do not parse: {exc}") from None

    def _check_complete(self, headers, sparql: str) -> None:
        """Refuse an answer the store says it cut short, rather than pass on part of it.

        Virtuoso stops at its row limit with ``X-SPARQL-MaxRows: N`` and at its time limit
        with a partial answer marked by ``X-SQL-State`` (S1TAT).
        """
        state = headers.get("X-SQL-State")
        if state:
            raise StoreError(f"the triple store at {self.url} sent an incomplete answer ({state}: "
                             f"{headers.get('X-SQL-Message', 'no message')}); raise its time limit "
                             "(Virtuoso: MaxQueryExecutionTime) or narrow the query")
        cap = headers.get("X-SPARQL-MaxRows")
        if cap and cap.strip().isdigit():
            limits = re.findall(r"\bLIMIT\s+(\d+)", _code(sparql), re.IGNORECASE)
            if not (limits and int(limits[-1]) <= int(cap)):
                raise StoreError(f"the triple store at {self.url} stopped at its limit of {cap} result rows, so "
                                 "the answer may be incomplete; raise the limit (Virtuoso: ResultSetMaxRows) "
                                 "or add a LIMIT")

    def count(self, graph: str) -> int:
        """How many triples the store holds in one named graph."""
        answer = self._send(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}", "SELECT",
                            None, None)
        return sum(int(s["n"].value) for s in answer)

    # -- updates -----------------------------------------------------------------------------

    def update(self, text: str) -> None:
        try:
            self._update(self.update_url, text)
        except _NotFound:
            if not self._update_url_derived or self.update_url == self.url:
                raise StoreError(f"the triple store has no update endpoint at {self.update_url} (HTTP 404)") from None
            self.update_url = self.url  # Virtuoso and others take updates on the query endpoint
            self._update_url_derived = False
            self.update(text)

    def _update(self, url: str, text: str) -> None:
        request = urllib.request.Request(
            url, data=urllib.parse.urlencode({"update": text}).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "Accept": "*/*"})
        handlers: list[urllib.request.BaseHandler] = []
        if self.credentials:
            passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
            passwords.add_password(None, url, *self.credentials)
            handlers = [urllib.request.HTTPDigestAuthHandler(passwords), urllib.request.HTTPBasicAuthHandler(passwords)]
        opener = urllib.request.build_opener(*handlers)  # private: no process-wide opener is installed
        try:
            with opener.open(request, timeout=max(1.0, self.timeout_s)) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            message = exc.read().decode("utf-8", errors="replace").strip()
            if exc.code == 404:
                raise _NotFound() from None
            raise StoreError(f"the triple store at {url} refused the update (HTTP {exc.code}): "
                             f"{_first_line(message)}{_hint(exc.code, message)}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise StoreError(f"the triple store at {url} did not answer the update "
                             f"(within {self.timeout_s:g} s): {reason}") from None

    def replace_graph(self, graph: str, triples: Iterable[ox.Triple]) -> int:
        """Drop the named graph, then insert the triples into it in chunks; the number sent."""
        self.drop_graph(graph)
        batch: list[ox.Triple] = []
        count = 0
        for group in _blank_groups(triples):
            if batch and len(batch) + len(group) > CHUNK:
                count += self._insert(graph, batch)
                batch = []
            batch.extend(group)
        if batch:
            count += self._insert(graph, batch)
        if self._graphs is not None and count and graph.startswith(PROJECT_GRAPHS):
            self._graphs = sorted(set(self._graphs) | {graph})
        return count

    def drop_graph(self, graph: str) -> None:
        self.update(f"DROP SILENT GRAPH <{graph}>")
        if self._graphs is not None:
            self._graphs = [g for g in self._graphs if g != graph]

    def _insert(self, graph: str, triples: list[ox.Triple]) -> int:
        body = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES).decode()
        if any(isinstance(t.subject, ox.BlankNode) or isinstance(t.object, ox.BlankNode) for t in triples):
            # INSERT DATA may not carry blank nodes on every store (Virtuoso refuses them); a
            # template with an empty WHERE makes one fresh node per label, the same on all.
            self.update(f"INSERT {{ GRAPH <{graph}> {{\n{body}}} }} WHERE {{}}")
        else:
            self.update(f"INSERT DATA {{ GRAPH <{graph}> {{\n{body}}} }}")
        return len(triples)


class _NotFound(Exception):
    pass


def _first_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0][:300] if lines else "(no message)"


def _detail(exc: Exception) -> str:
    text = str(exc)
    lines = [line for line in text.splitlines() if line.strip()]
    # SPARQLWrapper puts its own sentence first (after the name of its exception class) and the
    # server's message after it
    server = next((line for line in lines if "Response:" not in line and line.strip().startswith(("b'", 'b"'))), None)
    first = re.sub(r"^[A-Z]\w*(?:Error|Exception|BadFormed|NotFound|Unauthorized)?\s*:\s*", "", lines[0]) if lines else ""
    return (first or "no detail") + (f" {server[:300]}" if server else "")


def _hint(status: int, message: str) -> str:
    if "SECURITY" in message or status in (401, 403):
        return ("; the store does not let this client write (Virtuoso: grant SPARQL_UPDATE to the SPARQL "
                "user, or set MYELOMA_KG_UPDATE_URL to its /sparql-auth endpoint with MYELOMA_KG_STORE_USER "
                "and MYELOMA_KG_STORE_PASSWORD)")
    return ""


def open_remote(url: str, timeout_s: float, settings) -> RemoteStore:
    """A RemoteStore with the update endpoint and credentials the settings name."""
    credentials = (settings.store_user, settings.store_password or "") if settings.store_user else None
    return RemoteStore(url, settings.update_url, timeout_s, credentials=credentials)


def pull_graph(settings) -> KnowledgeGraph:
    """A local working copy of the graph held by a remote store (its named graphs as they are).

    Pages, the patient rules and the API read this copy; the SPARQL endpoint and ``query`` send
    their queries to the remote store itself.  Each graph is counted on the store as well, so a
    store that cuts results short (a row limit) is reported instead of giving a partial copy.
    """
    from .store import KnowledgeGraph

    remote = open_remote(settings.store, max(30.0, settings.query_timeout_s), settings)
    own = remote.graphs()
    if not own:
        raise StoreError(f"the triple store at {settings.store} holds none of the graph's named graphs; "
                         "put them there with 'myeloma-kg load --store URL'")
    store = ox.Store()
    for graph in own:
        node = ox.NamedNode(graph)
        triples = remote._send(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}", "CONSTRUCT",
                               None, None)
        store.extend([ox.Quad(t.subject, t.predicate, t.object, node) for t in triples])
        expected = remote.count(graph)
        if len(triples) != expected:
            raise StoreError(f"the triple store at {settings.store} sent {len(triples)} of the {expected} triples "
                             f"of <{graph}>; raise its limit on result rows (Virtuoso: ResultSetMaxRows)")
    kg = KnowledgeGraph(store, settings, digest="")
    kg.remote = remote
    return kg
