"""The SPARQL 1.1 Protocol endpoint (read-only, bounded).

Relative IRIs in a query are resolved against the endpoint's own URL: the public URL when the
settings give one (``public_url``), else the URL the request came to.
"""

from __future__ import annotations

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, request
from werkzeug.wsgi import get_current_url

from ..errors import SparqlRequestError
from ..sparql.service import GRAPH_TYPES, RESULT_TYPES
from .headers import answer_headers
from .urls import public_base

sparql = Blueprint("sparql", __name__)

RESULT_DEFAULT = "application/sparql-results+json"
GRAPH_DEFAULT = "text/turtle"
ALIASES = {"application/json": "application/sparql-results+json", "application/xml": "application/sparql-results+xml",
           "text/xml": "application/sparql-results+xml"}


def negotiate(accept: str | None, form: str) -> str | None:
    """The media type to answer a query of this form with, for this Accept header; None when
    the header accepts none of the types the query can be written in.

    Each type takes the quality of the most specific range that matches it (RFC 9110, 12.5.1);
    parameters other than ``q`` are allowed (a ``charset`` only if it is UTF-8, which every
    answer is in).  Among the types of the highest quality, the first the endpoint offers wins,
    so ``*/*`` gives the default (JSON results, Turtle graphs).
    """
    rows = form in ("SELECT", "ASK")
    default = RESULT_DEFAULT if rows else GRAPH_DEFAULT
    offered = [default, *(t for t in (RESULT_TYPES if rows else GRAPH_TYPES) if t != default)]
    ranges = _accept_ranges(accept or "")
    if not ranges:  # no header, or nothing in it that reads as a media range
        return offered[0]
    best, best_q = None, 0.0
    for media in offered:
        found = _quality(ranges, media)
        for alias in (alias for alias, target in ALIASES.items() if target == media):
            named = _quality(ranges, alias)
            if named[0] == 2 and named[0] >= found[0]:  # an alias counts when named, not through a wildcard
                found = named
        if found[1] > best_q:
            best, best_q = media, found[1]
    return best


def _accept_ranges(accept: str) -> list[tuple[str, str, float, int]]:
    """(type, subtype, quality, specificity) for each well-formed media range of an Accept header."""
    found = []
    for item in accept.split(","):
        parts = [part.strip() for part in item.split(";")]
        media = parts[0].lower()
        if media.count("/") != 1:
            continue
        main, sub = media.split("/")
        if not main or not sub or (main == "*" and sub != "*"):
            continue
        q, well_formed, utf8 = 1.0, True, True
        for param in parts[1:]:
            name, _, value = param.partition("=")
            name, value = name.strip().lower(), value.strip().strip('"').lower()
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    well_formed = False
                if not 0.0 <= q <= 1.0:
                    well_formed = False
            elif name == "charset" and value not in ("utf-8", "utf8"):
                utf8 = False  # the answers are in UTF-8 only: this range is not acceptable
        if well_formed:
            specificity = 0 if main == "*" else 1 if sub == "*" else 2
            found.append((main, sub, q if utf8 else 0.0, specificity))
    return found


def _quality(ranges, media: str) -> tuple[int, float]:
    """(specificity, quality) of the most specific range matching ``media``; (-1, 0) for none."""
    main, sub = media.split("/")
    best = (-1, 0.0)
    for r_main, r_sub, q, specificity in ranges:
        if r_main in ("*", main) and r_sub in ("*", sub) and specificity > best[0]:
            best = (specificity, q)
    return best


def _negotiate(form: str) -> str:
    media = negotiate(request.headers.get("Accept"), form)
    if media is None:
        offered = list(RESULT_TYPES) if form in ("SELECT", "ASK") else list(GRAPH_TYPES)
        raise SparqlRequestError(406, f"no result format fits the Accept header; this query can answer as {', '.join(offered)}")
    return media


def endpoint_iri(environ, settings) -> str | None:
    """The IRI of the endpoint, the base of relative IRIs in queries: the public URL when the
    settings give one, else the URL of this request (without its query string); None when that
    is not a valid IRI (an odd Host header)."""
    public = getattr(settings, "public_url", None)
    iri = public.strip().rstrip("/") + "/sparql" if public else get_current_url(environ, strip_querystring=True)
    try:
        ox.NamedNode(iri)
    except ValueError:
        return None
    return iri


class RepeatedQueries:
    """WSGI middleware: a plain GET of a query the service already knows as fast is answered
    here, without Flask's request handling; everything else goes to the app unchanged.

    Only the simplest requests qualify (a single ``query`` parameter, no dataset parameters, an
    Accept header some type of the query's fits), so the answer is the one the endpoint below
    would give, with the same headers.
    """

    def __init__(self, app, service, version_label: str = "", settings=None) -> None:
        self.app, self.service, self.settings = app, service, settings
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
        base = endpoint_iri(environ, self.settings)
        form = self.service.known_form(texts[0], base)
        if form is None:
            return None
        media = negotiate(environ.get("HTTP_ACCEPT"), form)
        if media is None:
            return None
        try:
            media, body, _rows, _vars = self.service.run(texts[0], media, media, base=base)
        except SparqlRequestError:
            return None  # the app answers it, with its own message
        return media, body


def _content_type(media: str) -> str:
    return media + "; charset=utf-8" if media.startswith("text/") else media


FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


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
    texts = request.values.getlist("query")
    if request.method == "POST" and content_type == "application/sparql-query":
        charset = (request.mimetype_params.get("charset") or "utf-8").lower()
        if charset not in ("utf-8", "utf8"):
            return _error(415, f"the query must be sent in UTF-8, not {charset}")
        try:
            texts.append(request.get_data().decode("utf-8"))
        except UnicodeDecodeError:
            return _error(400, "the query is not valid UTF-8")
    elif request.method == "POST" and request.content_length and content_type not in FORMS:
        return _error(415, "send a query as the body of type application/sparql-query, or as the 'query' field "
                           "of an application/x-www-form-urlencoded body (SPARQL 1.1 Protocol)")
    if len(texts) > 1:
        return _error(400, f"the request carries {len(texts)} queries ('query' parameters or a query body "
                           "beside one); send exactly one")
    text = texts[0] if texts else None
    if request.method == "GET" and not text:
        return service_description()
    if not text:
        return _error(400, "no query: send it as the 'query' parameter or as an application/sparql-query body")
    default_graphs = request.values.getlist("default-graph-uri")
    named_graphs = request.values.getlist("named-graph-uri")
    base = endpoint_iri(request.environ, current_app.config["SETTINGS"])
    try:
        media_type, body, _rows, _vars = current_app.extensions["sparql"].run(
            text, _acceptable("SELECT"), _acceptable("CONSTRUCT"), default_graphs, named_graphs, base=base)
    except SparqlRequestError as exc:
        return _error(exc.status, str(exc))
    return Response(body, mimetype=media_type)


def service_description() -> Response:
    settings = current_app.config["SETTINGS"]
    base = public_base()
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
