"""The changelog: ``/changes`` (HTML) and ``/api/changes`` (JSON), from the releases the server knows."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template

from ..content.diff import describe

changes = Blueprint("changes", __name__)


def _log():
    return current_app.extensions["changelog"]


@changes.get("/changes")
def page():
    log = _log()
    return render_template("changes.html", entries=log.entries(), releases=log.releases(), skipped=log.skipped(),
                           describe=describe)


@changes.get("/api/changes")
def api():
    log = _log()
    return jsonify(releases=log.releases(), skipped=log.skipped(),
                   changes=[{"version": e.version, **e.diff.as_json()} for e in log.entries()])


def changes_of(iri: str) -> list[dict]:
    """For a resource page: each version that changed ``iri``, with what changed, in words."""
    return [{"title": entry.title, "status": change.status,
             "lines": [f"{item['aspect']}: {describe(item)}" for item in change.changes]}
            for entry, change in _log().for_entity(iri)]
