"""The SPARQL 1.1 Protocol endpoint (read-only, bounded)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from ..errors import SparqlRequestError
from ..sparql.service import GRAPH_TYPES, RESULT_TYPES
from .headers import answer_headers

sparql = Blueprint("sparql", __name__)

RESULT_DEFAULT = "application/sparql-results+json"
GRAPH_DEFAULT = "text/turtle"
ALIASES = {"application/json": "application/sparql-results+json", "application/xml": "application/sparql-results+xml",
           "text/xml": "application/sparql-results+xml"}


def _negotiate(form: str) -> str:
    offered = list(RESULT_TYPES) if form in ("SELECT", "ASK") else list(GRAPH_TYPES)
    default = RESULT_DEFAULT if form in ("SELECT", "ASK") else GRAPH_DEFAULT
    accept = request.accept_mimetypes
    if not accept or accept.provided is False or str(accept) in ("", "*/*"):
        return default
    candidates = offered + [a for a in ALIASES if ALIASES[a] in offered]
    best = accept.best_match(candidates, default=None)
    if best is None:
        raise SparqlRequestError(406, f"no result format fits the Accept header; this query can answer as {', '.join(offered)}")
    if best in ALIASES:
        return ALIASES[best]
    if accept[best] == accept["*/*"] and accept[default] >= accept[best]:
        return default
    return best


SIMPLE_ACCEPT = {  # Accept headers the middleware answers, by kind of query
    "rows": {"": RESULT_DEFAULT, "*/*": RESULT_DEFAULT, **{t: t for t in RESULT_TYPES}},
    "graph": {"": GRAPH_DEFAULT, "*/*": GRAPH_DEFAULT, **{t: t for t in GRAPH_TYPES}},
}


class RepeatedQueries:
    """WSGI middleware: a plain GET of a query the service already knows as fast is answered
    here, without Flask's request handling; everything else goes to the app unchanged.

    Only the simplest requests qualify (a single ``query`` parameter, no dataset parameters, an
    Accept header that is absent, ``*/*`` or exactly one type the query can answer in), so the answer is the one
    the endpoint below would give, with the same headers.
    """

    def __init__(self, app, service, version_label: str = "") -> None:
        self.app, self.service = app, service
        self.headers = answer_headers("/sparql", version_label)  # the ones the app adds to its answers

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/sparql" and environ.get("REQUEST_METHOD") == "GET":
            answer = self._answer(environ)
            if answer is not None:
                media, body = answer
                start_response("200 OK", [("Content-Type", _content_type(media)), ("Content-Length", str(len(body))),
                                          *self.headers])
                return [body]
        return self.app(environ, start_response)

    def _answer(self, environ) -> tuple[str, bytes] | None:
        from urllib.parse import parse_qs

        if self.service.remote is not None or "HTTP_X_MYELOMA_KG_VERSION" in environ:
            return None  # a pinned request is checked by the app
        try:
            params = parse_qs(environ.get("QUERY_STRING", ""), strict_parsing=True, errors="strict")
        except (ValueError, UnicodeDecodeError):
            return None
        texts = params.get("query")
        if set(params) != {"query"} or len(texts) != 1:
            return None
        form = self.service.known_form(texts[0])
        if form is None:
            return None
        kind = "rows" if form in ("SELECT", "ASK") else "graph"
        media = SIMPLE_ACCEPT[kind].get(environ.get("HTTP_ACCEPT", "").strip())
        if media is None:
            return None
        try:
            media, body, _rows, _vars = self.service.run(texts[0], media, media)
        except SparqlRequestError:
            return None  # the app answers it, with its own message
        return media, body


def _content_type(media: str) -> str:
    return media + "; charset=utf-8" if media.startswith("text/") else media


def _acceptable(form: str) -> str | None:
    """The media type to answer a query of this kind with, or None if none fits Accept."""
    try:
        return _negotiate(form)
    except SparqlRequestError:
        return None


def _error(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")


@sparql.route("/sparql", methods=["GET", "POST", "OPTIONS"])
def endpoint():
    if request.method == "OPTIONS":  # a CORS preflight: the app adds the headers it asks for
        return Response(status=204)
    content_type = (request.mimetype or "").lower()
    if request.method == "POST" and content_type == "application/sparql-update" or "update" in request.values:
        return _error(400, "this endpoint is read-only: SPARQL Update is not accepted")
    if request.method == "POST" and content_type == "application/sparql-query":
        text = request.get_data(as_text=True)
    else:
        text = request.values.get("query")
    if request.method == "GET" and not text:
        return service_description()
    if not text:
        return _error(400, "no query: send it as the 'query' parameter or as an application/sparql-query body")
    default_graphs = request.values.getlist("default-graph-uri")
    named_graphs = request.values.getlist("named-graph-uri")
    try:
        media_type, body, _rows, _vars = current_app.extensions["sparql"].run(
            text, _acceptable("SELECT"), _acceptable("CONSTRUCT"), default_graphs, named_graphs)
    except SparqlRequestError as exc:
        return _error(exc.status, str(exc))
    return Response(body, mimetype=media_type)


def service_description() -> Response:
    settings = current_app.config["SETTINGS"]
    base = request.url_root.rstrip("/")
    graphs = current_app.extensions["sparql"].graphs
    named = "\n".join(f"        sd:namedGraph [ sd:name <{g}> ] ;" for g in sorted(graphs))
    version = current_app.extensions["graph_version"]
    pinned = f"""        owl:versionInfo "{version.version}" ;"""
    if version.version_iri:
        pinned += f"""\n        owl:versionIRI <{version.version_iri}> ;"""
    if version.content_hash:
        pinned += f"""\n        dcterms:identifier "{version.content_hash}" ;"""
    text = f"""@prefix sd: <http://www.w3.org/ns/sparql-service-description#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix dcterms: <http://purl.org/dc/terms/> .

<{base}/sparql> a sd:Service ;
    sd:endpoint <{base}/sparql> ;
    sd:supportedLanguage sd:SPARQL11Query ;
    sd:resultFormat <http://www.w3.org/ns/formats/SPARQL_Results_JSON> , <http://www.w3.org/ns/formats/SPARQL_Results_XML> ,
        <http://www.w3.org/ns/formats/SPARQL_Results_CSV> , <http://www.w3.org/ns/formats/SPARQL_Results_TSV> ,
        <http://www.w3.org/ns/formats/Turtle> , <http://www.w3.org/ns/formats/JSON-LD> ,
        <http://www.w3.org/ns/formats/RDF_XML> , <http://www.w3.org/ns/formats/N-Triples> ;
    sd:defaultDataset [
        a sd:Dataset ;
        rdfs:comment "The default graph is the union of the named graphs." ;
{pinned}
{named}
    ] ;
    rdfs:comment "Read-only. Each query is stopped after {settings.query_timeout_s:g} seconds and may return at most {settings.max_result_rows} rows; requests larger than {settings.max_request_bytes} bytes are refused. At most {current_app.extensions["sparql"].max_long} queries may run longer than {current_app.extensions["sparql"].limits.short_s:g} s at once. SERVICE, LOAD, updates and FROM of graphs outside this store are refused, and the server never connects to another server." .
"""
    return Response(text, mimetype="text/turtle")


__all__ = ["sparql"]
