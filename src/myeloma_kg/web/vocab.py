"""The site's words for the graph's own terms: evidence-status badges, and links from every ``mkg:``
term to its row on the ontology page.

Both are read from the graph once per app (the named queries ``scheme-values`` and
``ontology-terms``), so a page shows the labels and definitions the graph gives, and a term the
ontology page does not list gets no link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import current_app
from markupsafe import Markup, escape

from ..namespaces import BASE
from .common import named_rows

ONTOLOGY_NS = BASE + "ontology#"
STATUS_SCHEME = ONTOLOGY_NS + "EvidenceStatusScheme"
STATUS_PAGE = "/about/evidence-status"
_TERM = re.compile(r"\bmkg:([A-Za-z][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Status:
    """One value of mkg:EvidenceStatusScheme as the graph describes it."""

    iri: str
    notation: str  # also the badge's class (status-<notation>) and its anchor on the explanation page
    label: str
    pref_label: str
    definition: str
    uses: int

    @property
    def name(self) -> str:
        return self.iri[len(ONTOLOGY_NS):]


@dataclass(frozen=True)
class Term:
    name: str
    kind: str  # class, object property, ..., or "concept" for a value of a scheme
    label: str


class Vocabulary:
    def __init__(self) -> None:
        self.statuses: list[Status] = []
        for row in named_rows("scheme-values", scheme=STATUS_SCHEME):
            label = row.get("label") or row["concept"].rsplit("#", 1)[-1]
            self.statuses.append(Status(iri=row["concept"], notation=row.get("notation") or label, label=label,
                                        pref_label=row.get("prefLabel") or label, definition=row.get("definition") or "",
                                        uses=int(row.get("uses") or 0)))
        self._status_by_key: dict[str, Status] = {}
        for status in self.statuses:
            for key in (status.iri, status.notation, status.label, status.pref_label, status.name, "mkg:" + status.name):
                self._status_by_key.setdefault(key.lower(), status)
        self.terms: dict[str, Term] = {}
        for row in named_rows("ontology-terms"):
            name = row["term"][len(ONTOLOGY_NS):]
            self.terms[name] = Term(name, row["kind"], row.get("label") or name)
        for row in named_rows("scheme-values"):
            name = row["concept"][len(ONTOLOGY_NS):]
            self.terms.setdefault(name, Term(name, "concept", row.get("label") or row.get("prefLabel") or name))

    def status(self, value: object) -> Status | None:
        """The status an IRI, a notation, a label or a compact name stands for."""
        if value is None:
            return None
        return self._status_by_key.get(str(value).strip().lower())

    def term_href(self, iri: str) -> str | None:
        """The ontology page's anchor for an ``mkg:`` IRI it lists."""
        if iri.startswith(ONTOLOGY_NS) and iri[len(ONTOLOGY_NS):] in self.terms:
            return "/ontology#" + iri[len(ONTOLOGY_NS):]
        return None

    def name_href(self, name: str) -> str | None:
        return "/ontology#" + name if name in self.terms else None

    def badge(self, value: object) -> Markup:
        status = self.status(value)
        if status is None:
            return Markup('<span class="badge status-none">no status</span>') if value in (None, "") else escape(value)
        return Markup('<a class="badge status-{n}" href="{page}#{n}" title="Evidence status: {title}">{label}</a>').format(
            n=status.notation, page=STATUS_PAGE, title=status.definition, label=status.label)

    def term_link(self, value: str, text: str | None = None) -> Markup:
        """``mkg:Name`` (or the text given) linked to the ontology page; other values as they are."""
        name = value[len(ONTOLOGY_NS):] if value.startswith(ONTOLOGY_NS) else value.removeprefix("mkg:")
        href = self.name_href(name)
        shown = text if text is not None else ("mkg:" + name if href else value)
        if href is None:
            return escape(shown)
        return Markup('<a class="term" href="{href}">{text}</a>').format(href=href, text=shown)

    def linkify(self, text: object) -> Markup:
        """The text, escaped, with each ``mkg:Name`` it mentions linked to the ontology page."""
        escaped = str(escape("" if text is None else text))
        return Markup(_TERM.sub(lambda m: str(self.term_link("mkg:" + m.group(1))), escaped))


def vocabulary() -> Vocabulary:
    found = current_app.extensions.get("vocabulary")
    if found is None:
        found = current_app.extensions["vocabulary"] = Vocabulary()
    return found
