"""Turning query results into JSON, CSV, TSV, XML or a text table."""

from __future__ import annotations

import pyoxigraph as ox

from ..formats import RDF_FORMATS, RESULT_FORMATS
from ..namespaces import compact


def render(result, fmt: str = "table") -> str:
    """A query result (SELECT, ASK, CONSTRUCT or DESCRIBE) as text in the given format."""
    if isinstance(result, (ox.QueryTriples, list)):
        rdf_fmt = {"table": "turtle", "json": "jsonld"}.get(fmt, fmt)
        if rdf_fmt not in RDF_FORMATS:
            rdf_fmt = "turtle"
        return ox.serialize(list(result), format=RDF_FORMATS[rdf_fmt].oxigraph).decode()
    if isinstance(result, ox.QueryBoolean):
        if fmt == "table":
            return "yes" if bool(result) else "no"
        return result.serialize(format=RESULT_FORMATS.get(fmt, RESULT_FORMATS["json"]).oxigraph).decode()
    if fmt == "table":
        return table(result)
    return result.serialize(format=RESULT_FORMATS[fmt].oxigraph).decode()


def cell(term) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        return compact(term.value)
    if isinstance(term, ox.BlankNode):
        return "_:" + term.value
    return term.value


def table(solutions: ox.QuerySolutions) -> str:
    names = [v.value for v in solutions.variables]
    rows = [[cell(s[n]) for n in names] for s in solutions]
    widths = [max([len(n)] + [len(r[i]) for r in rows]) for i, n in enumerate(names)]
    widths = [min(w, 60) for w in widths]

    def fmt_row(values: list[str]) -> str:
        out = []
        for value, width in zip(values, widths):
            text = value if len(value) <= width else value[: width - 1] + "…"
            out.append(text.ljust(width))
        return "  ".join(out).rstrip()

    lines = [fmt_row(names), "  ".join("-" * w for w in widths)]
    lines += [fmt_row(r) for r in rows]
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines)
