"""Reading a patient record of any accepted kind: the text's media type (or its first character)
chooses between plain JSON, JSON-LD, Turtle and a FHIR Bundle.  The record's limits
(``limits.RecordLimits``) are checked on the way, each before the step whose cost it bounds."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from ..formats import TURTLE_MEDIA_TYPES, TURTLE_SUFFIXES
from . import fhir_bundle, records
from .limits import RecordLimits
from .records import PatientRecord, UnreadableRecord, Vocabulary

JSON_MEDIA_TYPES = ("application/json", "application/ld+json", "application/fhir+json")


def parse_text(text: str, content_type: str | None = None, limits: RecordLimits | None = None) -> tuple[str, Any]:
    """The kind of a record ("turtle", "fhir", "jsonld" or "json") and, for JSON, its value, once
    the checks that need no vocabulary have passed: size, nesting, numbers, and the counts of
    lines, drugs, findings, contexts and FHIR resources.  ``UnreadableRecord`` (or its
    ``RecordLimitExceeded``) otherwise.  Cheap: the web routes call it before they hand the
    record to a worker."""
    limits = limits or RecordLimits()
    stripped = text.lstrip()
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in TURTLE_MEDIA_TYPES or (not kind and not stripped.startswith(("{", "["))):
        limits.check_size(len(text.encode("utf-8", errors="surrogatepass")))
        return "turtle", None
    try:
        data = limits.load_json(text)
    except json.JSONDecodeError as exc:
        if kind in JSON_MEDIA_TYPES or stripped.startswith(("{", "[")):
            raise UnreadableRecord(f"the record is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
        raise UnreadableRecord("the record is neither JSON nor Turtle") from None
    if kind == "application/fhir+json" or isinstance(data, dict) and data.get("resourceType") is not None:
        if isinstance(data, dict):
            limits.check_bundle(data)
        return "fhir", data
    if not isinstance(data, dict):
        raise UnreadableRecord("a patient record is a JSON object with keys such as id, age and therapyLines")
    context = data.get("@context")
    if context is not None and context != records.CONTEXT_URL or "@graph" in data or "@id" in data:
        limits.check_contexts(data)
        return "jsonld", data
    limits.check_record(data)
    return "json", data


def read_text(text: str, vocabulary: Vocabulary, *, content_type: str | None = None,
              as_of: dt.date | None = None, limits: RecordLimits | None = None) -> PatientRecord:
    """Parse one record; raises ``UnreadableRecord`` when the text is not a record at all, or is
    over a limit (``RecordLimitExceeded``; without ``limits``, the default ones)."""
    limits = limits or RecordLimits()
    kind, data = parse_text(text, content_type, limits)
    if kind == "turtle":
        record = records.from_turtle(text, as_of, limits)
    elif kind == "fhir":
        record = fhir_bundle.from_bundle(data, vocabulary, as_of=as_of, check=limits.check_record)
    elif kind == "jsonld":
        record = records.from_jsonld(data, as_of, limits)
    else:
        record = records.from_json(data, vocabulary, as_of=as_of)
    limits.check_triples(len(record.triples))
    return record


def read_file(path: Path, vocabulary: Vocabulary, as_of: dt.date | None = None,
              limits: RecordLimits | None = None) -> PatientRecord:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableRecord(f"{path}: cannot be read ({exc})") from None
    content_type = "text/turtle" if path.suffix in TURTLE_SUFFIXES else None
    try:
        return read_text(text, vocabulary, content_type=content_type, as_of=as_of, limits=limits)
    except UnreadableRecord as exc:
        exc.args = (f"{path.name}: {exc}",)  # the same error (and status), naming the file
        raise
