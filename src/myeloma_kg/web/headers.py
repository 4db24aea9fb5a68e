"""The headers every answer carries, in one place: the security headers, the graph version, and
cross-origin access (CORS) for the routes that programs call from a browser."""

from __future__ import annotations

from ..graph.version import HEADER as VERSION_HEADER

SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "default-src 'self'; object-src 'none'; frame-ancestors 'none'"),
)

# Routes a page of another origin may call (path prefix -> request headers it may send).  The
# SPARQL endpoint, the API and the FHIR routes are public and read-only; CDS clients in an EHR's
# browser sandbox send an Authorization header.
CROSS_ORIGIN = {
    "/sparql": ("Content-Type", "Accept"),
    "/api/": ("Content-Type", "Accept"),
    "/context.jsonld": (),
    "/fhir": ("Content-Type", "Accept"),
    "/cds-services": ("Authorization", "Content-Type"),
}
PREFLIGHT_METHODS = "GET, POST, OPTIONS"


def _cross_origin(path: str) -> tuple[str, ...] | None:
    for prefix, headers in CROSS_ORIGIN.items():
        if path == prefix or path.startswith(prefix if prefix.endswith("/") else prefix + "/") or (
                prefix.endswith("/") and path == prefix[:-1]):
            return headers
    return None


def answer_headers(path: str, version_label: str = "", *, preflight: bool = False) -> list[tuple[str, str]]:
    """The headers of an answer on ``path``: security headers always, the graph version when known,
    and for cross-origin routes the CORS headers (with the methods and request headers allowed,
    on a preflight)."""
    found = list(SECURITY_HEADERS)
    if version_label:
        found.append((VERSION_HEADER, version_label))
    allowed = _cross_origin(path)
    if allowed is not None:
        found.append(("Access-Control-Allow-Origin", "*"))
        found.append(("Access-Control-Expose-Headers", VERSION_HEADER))  # a client may read it and pin with it
        if preflight:
            found.append(("Access-Control-Allow-Methods", PREFLIGHT_METHODS))
            found.append(("Access-Control-Allow-Headers", ", ".join((*allowed, VERSION_HEADER))))
    return found
