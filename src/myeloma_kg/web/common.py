"""What the blueprints share: the named-query catalog, loaded once per app."""

from __future__ import annotations

from flask import current_app

from ..queries import QueryCatalog


def catalog() -> QueryCatalog:
    found = current_app.extensions.get("catalog")
    if found is None:
        found = current_app.extensions["catalog"] = QueryCatalog(current_app.config["SETTINGS"].queries_dir)
    return found


def named_rows(name: str, **params) -> list[dict]:
    """Rows of a named query of queries/ with bound parameters."""
    query = catalog().get(name)
    return current_app.extensions["kg"].select(query.text, query.bind(params))
