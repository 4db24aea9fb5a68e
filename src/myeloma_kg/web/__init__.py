"""The web app: ``create_app(settings, kg)`` builds it around a loaded graph."""

from __future__ import annotations

import secrets

from flask import Flask, jsonify, redirect, request
from werkzeug.exceptions import HTTPException

from ..config import Settings
from ..content.changelog import Changelog
from ..errors import MyelomaKGError, RecordLimitExceeded
from ..graph.load import load_graph
from ..graph.store import KnowledgeGraph
from ..graph.version import HEADER as VERSION_HEADER
from ..graph.version import graph_version
from ..patients.pool import PatientPool
from ..patients.recommend import Recommender
from ..sparql.service import Limits, SparqlService
from .headers import SECURITY_HEADERS, answer_headers
from .sparql import RepeatedQueries
from .urls import check_public_url, public_location

SECURITY_NAMES = {name for name, _ in SECURITY_HEADERS}


def create_app(settings: Settings | None = None, kg: KnowledgeGraph | None = None, *,
               query_workers: int | None = None) -> Flask:
    settings = settings or Settings.load()
    check_public_url(settings.public_url)
    kg = kg or load_graph(settings)
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.config["SETTINGS"] = settings
    app.config["SECRET_KEY"] = settings.secret_key or secrets.token_hex(32)
    app.config["SESSION_COOKIE_SAMESITE"] = "Strict"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.extensions["kg"] = kg
    app.extensions["recommender"] = recommender = Recommender(kg, settings)
    # patient work: forked workers under a time limit, and never more than half the server threads
    app.extensions["patients"] = PatientPool(
        recommender, workers=settings.patient_workers, timeout_s=settings.patient_time_limit_s,
        wait_s=settings.patient_wait_s,
        max_held=max(1, min(2 * settings.patient_workers, settings.threads // 2)))
    version = app.extensions["graph_version"] = graph_version(kg)
    app.extensions["changelog"] = Changelog(settings, kg)
    graphs = [g.value for g in kg.graph_names(inferred=True)]
    limits = Limits(timeout_s=settings.query_timeout_s, max_rows=settings.max_result_rows)
    if kg.remote is not None:  # --store URL: the endpoint forwards checked queries to the triple store
        kg.remote.timeout_s = settings.query_timeout_s
        app.extensions["sparql"] = SparqlService(b"", graphs, limits, workers=query_workers or settings.query_workers,
                                                 remote=kg.remote)
    else:
        app.extensions["sparql"] = SparqlService(kg.export("nquads", inferred=True), graphs, limits,
                                                 workers=query_workers or settings.query_workers)

    from .api import api
    from .cds import cds
    from .changes import changes, changes_of
    from .fhir import fhir
    from .pages import pages
    from .sparql import sparql

    app.register_blueprint(sparql)
    app.register_blueprint(api)
    app.register_blueprint(fhir)  # /fhir: the FHIR export, read-only
    app.register_blueprint(pages)
    app.register_blueprint(changes)
    app.register_blueprint(cds)  # CDS Hooks: /cds-services

    @app.before_request
    def pinned():  # a request that names a graph version is answered only by that version
        wanted = request.headers.get(VERSION_HEADER)
        if wanted is not None and not version.matches(wanted):
            return jsonify(error=version.refusal(wanted), graphVersion=version.as_json()), 412

    @app.after_request
    def headers(response):
        location = response.headers.get("Location")
        if location is not None and public_location(location) != location:
            # Werkzeug's own redirects (of "//" in a path, say) name the Host header, also in the body
            response = redirect(public_location(location), response.status_code)
        # every answer says which graph gave it; cross-origin routes may be read from other pages
        for name, value in answer_headers(request.path, version.label(), preflight=request.method == "OPTIONS"):
            if name in SECURITY_NAMES:
                response.headers.setdefault(name, value)  # a page may set a stricter or wider policy of its own
            else:
                response.headers[name] = value
        return response

    @app.context_processor
    def version_of_graph():
        return {"graph_version": version, "changes_of": changes_of}

    app.wsgi_app = RepeatedQueries(app.wsgi_app, app.extensions["sparql"], version.label(), settings)

    @app.errorhandler(413)
    def too_large(_error):
        return jsonify(error=f"the request is larger than {settings.max_request_bytes} bytes"), 413

    @app.errorhandler(404)
    def not_found(_error):
        return jsonify(error=f"nothing at {request.path}"), 404

    @app.errorhandler(405)
    def not_allowed(error):
        response = jsonify(error=f"{request.method} is not allowed on {request.path}")
        response.status_code = 405
        # a 405 says which methods the resource takes (RFC 9110, 15.5.6)
        allowed = getattr(error, "valid_methods", None) or \
            app.url_map.bind_to_environ(request.environ).allowed_methods(request.path)
        response.headers["Allow"] = ", ".join(allowed)
        return response

    @app.errorhandler(HTTPException)
    def http_error(error):  # the other HTTP errors (416 for a Range past the end, ...), not a 500
        return jsonify(error=error.description or error.name), error.code or 500

    @app.errorhandler(MyelomaKGError)
    def known_error(error):
        if isinstance(error, RecordLimitExceeded):  # the limit by its setting's name, for programs
            return jsonify(error=str(error), limit=error.limit, maximum=error.maximum), error.status
        return jsonify(error=str(error)), getattr(error, "status", 400)

    @app.errorhandler(Exception)
    def unexpected(error):
        app.logger.error("unexpected error on %s: %s", request.path, type(error).__name__)
        return jsonify(error="the server could not answer this request"), 500

    return app


__all__ = ["create_app"]
