"""The server's own address, for the absolute URLs it writes into answers.

With the ``public_url`` setting (``MYELOMA_KG_PUBLIC_URL``, e.g. ``https://kg.example.org/``) every
absolute URL starts with it, whatever Host header a client sent; without it, the address is the
one the request was made to, as the WSGI server reports it (the Host header).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, request

from ..errors import SettingsError


def check_public_url(url: str | None) -> None:
    """Refuse a ``public_url`` that is not an http(s) address with a host (a mistake seen at start)."""
    if url is None:
        return
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SettingsError(f"the public URL must look like https://kg.example.org/ (got {url[:100]!r})")


def public_base() -> str:
    """The base of absolute URLs, without a trailing slash: ``https://kg.example.org``."""
    configured = current_app.config["SETTINGS"].public_url
    if configured:
        return configured.strip().rstrip("/")
    return request.url_root.rstrip("/")


def public_location(location: str) -> str:
    """A redirect's target on this server, moved onto ``public_url`` when it is set."""
    if not current_app.config["SETTINGS"].public_url:
        return location
    parts = urlsplit(location)
    if not parts.netloc and not parts.scheme:
        return location  # relative: the client resolves it against the address it used
    root = urlsplit(request.url_root).path
    path = parts.path[len(root) - 1:] if parts.path.startswith(root) else parts.path
    return public_base() + (path or "/") + (f"?{parts.query}" if parts.query else "")


__all__ = ["check_public_url", "public_base", "public_location"]
