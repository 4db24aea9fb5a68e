"""Rewrites of a checked query text for a remote store, each checked by parsing.

Some stores read a request differently from the SPARQL 1.1 Protocol: Virtuoso merges the
protocol's default-graph-uri with the query's FROM instead of letting it override, and refuses
a second or a relative BASE.  The endpoint then sends a rewritten text.  A rewrite is made on the
query's code only (strings and comments are left alone) and is used only if the parser finds it
to be the query intended (``guard.same_query``); otherwise the answer is None and the caller
refuses the request with a message.
"""

from __future__ import annotations

import re

from ..graph.remote import _code
from .guard import resolve_iri, same_query

_IRI = r"<[^<>\"{}|^`\\\s]*>"
_DATASET_CLAUSE = re.compile(r"(?<![\w?$:.\\-])FROM\s+(?:NAMED\s+)?(?:" + _IRI + r"|(?:[A-Za-z][\w.-]*)?:[^\s{}#]*)",
                             re.IGNORECASE)
_PROLOGUE_IRI = re.compile(r"\b(?:(BASE)\s*(" + _IRI + r")|PREFIX\s+(?:[A-Za-z][\w.-]*)?:\s*(" + _IRI + r"))",
                           re.IGNORECASE)


def without_dataset(text: str, base: str | None) -> str | None:
    """The query without its FROM / FROM NAMED clauses (blanked out, the rest unchanged), or None."""
    code = _code(text)
    parts, last = [], 0
    for match in _DATASET_CLAUSE.finditer(code):
        parts.append(text[last:match.start()])
        parts.append(" " * (match.end() - match.start()))
        last = match.end()
    parts.append(text[last:])
    rewritten = "".join(parts)
    return rewritten if same_query(text, rewritten, base, but_dataset=True) else None


def with_absolute_prologue(text: str, base: str) -> str | None:
    """The query with the IRIs of its BASE and PREFIX declarations resolved (RFC 3986) against
    ``base`` and the BASE declared before each, or None: a store then reads its relative IRIs as
    the endpoint does, whatever its own URL."""
    parts, last, current = [], 0, base
    for match in _PROLOGUE_IRI.finditer(_code(text)):
        group = 2 if match.group(1) else 3
        resolved = resolve_iri(current, match.group(group)[1:-1])
        if match.group(1):
            current = resolved
        parts.append(text[last:match.start(group)])
        parts.append(f"<{resolved}>")
        last = match.end(group)
    parts.append(text[last:])
    rewritten = "".join(parts)
    return rewritten if same_query(text, rewritten, base) else None
