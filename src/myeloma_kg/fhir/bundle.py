"""What ``myeloma-kg fhir export`` does, kept out of the click layer: build, check, serialise."""

from __future__ import annotations

import json
import time

from ..config import Settings
from ..graph.store import KnowledgeGraph
from .conformance import bundle_problems, project_problems
from .export import build


def export_bundle(kg: KnowledgeGraph, settings: Settings, fhir_version: str) -> tuple[bytes, str, list[str]]:
    """The Bundle as JSON bytes, a one-line summary (counts and seconds), and its problems."""
    export = build(kg, settings.queries_dir, fhir_version)
    started = time.perf_counter()
    problems = bundle_problems(export.bundle, fhir_version) + project_problems(export.bundle)
    export.timings["validation"] = time.perf_counter() - started
    data = json.dumps(export.bundle, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"
    counts = ", ".join(f"{n} {t}" for t, n in export.counts().items())
    seconds = ", ".join(f"{k} {v:.2f} s" for k, v in export.timings.items())
    return data, f"FHIR {fhir_version} Bundle with {counts} ({seconds})", problems
