"""Where the files the program reads come from: ontology, shapes, queries, web pages, JSON-LD context.

The project keeps them in top-level folders (``ontology/``, ``shapes/``, ``queries/``, ``web/``)
beside ``src/``.  The wheel build copies those folders into the package as
``myeloma_kg/shipped/`` (the ``package-dir`` mapping of ``pyproject.toml``), so there are two
layouts with the same shape below their root:

* an installed wheel: ``<site-packages>/myeloma_kg/shipped/{ontology,shapes,queries,web}``;
* a source checkout (editable install, or ``PYTHONPATH=src``): the checkout's own folders.

``shipped_home()`` is that root; the first layout that holds the ontology wins.  Both are read
through ``importlib.resources``; the functions return real ``Path`` objects because pyoxigraph,
pyshacl and Flask want filesystem paths (a wheel is always unpacked on disk, and a zipped
package would be extracted once for the life of the process).

Nothing here is written to: what the program writes goes to the user's cache and data folders
(``Settings.cache_path`` and ``Settings.data_path``).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
from importlib import resources
from pathlib import Path

PACKAGE = "myeloma_kg"
SHIPPED = "shipped"  # the folder inside the package that the wheel build fills
MARKER = ("ontology", "myeloma-kg.ttl")  # a root holds this file

_extracted = contextlib.ExitStack()
atexit.register(_extracted.close)


def _real_path(traversable) -> Path:
    """A filesystem path for a resource: itself when it is one, else a copy kept until exit."""
    if isinstance(traversable, Path):
        return traversable
    return _extracted.enter_context(resources.as_file(traversable))


def _package_root() -> Path:
    return _real_path(resources.files(PACKAGE))


def _checkout_root() -> Path | None:
    """The source checkout this package runs from, found by walking up from the package folder."""
    for parent in _package_root().parents:
        if parent.joinpath(*MARKER).is_file():
            return parent
    return None


@functools.cache
def shipped_home() -> Path:
    """The folder that holds ``ontology/``, ``shapes/``, ``queries/`` and ``web/``."""
    packaged = _package_root() / SHIPPED
    if packaged.joinpath(*MARKER).is_file():
        return packaged
    checkout = _checkout_root()
    if checkout is not None:
        return checkout
    return packaged  # neither layout: errors then name the place the wheel should have filled


def web_dir() -> Path:
    return shipped_home() / "web"


def templates_dir() -> Path:
    return web_dir() / "templates"


def static_dir() -> Path:
    return web_dir() / "static"


def context_file() -> Path:
    """The JSON-LD context of plain-JSON patient records (package data next to the modules)."""
    return _real_path(resources.files(PACKAGE).joinpath("context.jsonld"))
