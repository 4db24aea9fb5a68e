"""What the blueprints share: the named-query catalog, loaded once per app."""

from __future__ import annotations

from flask import current_app

from ..patients.records import PatientRecord, UnreadableRecord
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


def read_record(text: str, **options) -> PatientRecord:
    """A patient record read by the app's recommender; ``UnreadableRecord`` for any text it cannot read.

    The JSON reader gives up on some input with errors of its own rather than a decoding error:
    nesting deeper than Python's recursion limit, and integers longer than its limit on digits.
    """
    recommender = current_app.extensions["recommender"]
    try:
        return recommender.read(text, **options)
    except RecursionError:
        raise UnreadableRecord("the record is nested too deeply to be read") from None
    except ValueError as exc:  # e.g. a number with more digits than Python converts
        raise UnreadableRecord(f"the record cannot be read: {str(exc).split(';')[0]}") from None
