"""Reading a patient record of any accepted kind: the text's media type (or its first character)
chooses between plain JSON, JSON-LD, Turtle and a FHIR Bundle."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from ..formats import TURTLE_MEDIA_TYPES, TURTLE_SUFFIXES
from . import fhir_bundle, records
from .records import PatientRecord, UnreadableRecord, Vocabulary


def read_text(text: str, vocabulary: Vocabulary, *, content_type: str | None = None,
              as_of: dt.date | None = None) -> PatientRecord:
    """Parse one record; raises ``UnreadableRecord`` when the text is not a record at all."""
    stripped = text.lstrip()
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in TURTLE_MEDIA_TYPES or (not kind and not stripped.startswith(("{", "["))):
        return records.from_turtle(text, as_of)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if kind in ("application/json", "application/ld+json", "application/fhir+json") or stripped.startswith(("{", "[")):
            raise UnreadableRecord(f"the record is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
        raise UnreadableRecord("the record is neither JSON nor Turtle") from None
    if kind == "application/fhir+json" or isinstance(data, dict) and data.get("resourceType") is not None:
        return fhir_bundle.from_bundle(data, vocabulary, as_of=as_of)
    if not isinstance(data, dict):
        raise UnreadableRecord("a patient record is a JSON object with keys such as id, age and therapyLines")
    context = data.get("@context")
    if context is not None and context != records.CONTEXT_URL or "@graph" in data or "@id" in data:
        return records.from_jsonld(text, as_of)
    return records.from_json(data, vocabulary, as_of=as_of)


def read_file(path: Path, vocabulary: Vocabulary, as_of: dt.date | None = None) -> PatientRecord:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableRecord(f"{path}: cannot be read ({exc})") from None
    content_type = "text/turtle" if path.suffix in TURTLE_SUFFIXES else None
    try:
        return read_text(text, vocabulary, content_type=content_type, as_of=as_of)
    except UnreadableRecord as exc:
        raise UnreadableRecord(f"{path.name}: {exc}") from None
