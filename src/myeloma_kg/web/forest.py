"""Forest plots (SVG) of hazard ratios with confidence intervals, on a logarithmic axis.

Each row takes two lines: the label in full (study, endpoint, population, analysis, and the
evidence status when it is not "verified"), then the interval, the marker and the figures.  Rows
the recommendation cites itself are bold on a shaded band with a star; figures that are not
verified have a hollow marker and a dashed line.  A legend under the title says so.  The drawing
has a viewBox, so a page can shrink it to the width of a phone.
"""

from __future__ import annotations

import math
from html import escape

ROW = 40  # a label line and a plot line
MARGIN = 12
STAR_W = 18  # room for the star of a cited row
PLOT_W = 320
VALUE_W = 190
CHAR_W = 6.8  # a generous width of a 12-px character, for sizing the drawing to its longest label
MIN_W = 2 * MARGIN + STAR_W + PLOT_W + VALUE_W


def row_label(r: dict) -> str:
    parts = [r["trialLabel"], r["endpoint"], r.get("groups") or "all patients", r.get("analysis") or "analysis not stated"]
    if not r.get("verified", True):
        parts.append(r.get("statusLabel") or "not verified")
    return " · ".join(parts)


def forest_svg(rows: list[dict], title: str, kind: str = "recommendation") -> str:
    if not rows:
        return _svg(MIN_W, 120, f'<text x="10" y="40" class="note">No hazard ratios are recorded for {escape(title)}.</text>', title)
    labels = [row_label(r) for r in rows]
    width = max(MIN_W, math.ceil(2 * MARGIN + STAR_W + CHAR_W * max(len(t) for t in labels)))
    left = MARGIN + STAR_W
    plot_w = width - left - VALUE_W - MARGIN
    lows = [min(r["ciLower"], r["hazardRatio"]) for r in rows]
    highs = [max(r["ciUpper"], r["hazardRatio"]) for r in rows]
    lo = min(min(lows), 0.5) * 0.9
    hi = max(max(highs), 1.5) * 1.1

    def x(value: float) -> float:
        return left + (math.log(value) - math.log(lo)) / (math.log(hi) - math.log(lo)) * plot_w

    parts = [f'<text x="{MARGIN}" y="20" class="title">{escape(title)}</text>']
    legend = _legend(rows, kind)
    y = 40
    for glyph, text in legend:
        parts.append(f'<g transform="translate({MARGIN},{y})">{glyph}<text x="{STAR_W + 8}" y="4" class="legend">{escape(text)}</text></g>')
        y += 18
    top = y + 8
    parts.append(f'<line x1="{x(1):.1f}" y1="{top}" x2="{x(1):.1f}" y2="{top + ROW * len(rows)}" class="ref"/>')
    for i, (r, label) in enumerate(zip(rows, labels)):
        y0 = top + i * ROW
        cited, verified = bool(r.get("cited")), r.get("verified", True)
        line_y = y0 + 28
        marks = (" cited" if cited else "") + ("" if verified else " unverified")
        parts.append(f'<g class="row{marks}">')
        if cited:
            parts.append(f'<rect x="0" y="{y0 + 2}" width="{width}" height="{ROW - 4}" class="band"/>')
            parts.append(f'<text x="{MARGIN}" y="{y0 + 15}" class="star">★</text>')
        parts.append(f'<text x="{left}" y="{y0 + 15}" class="label">{escape(label)}</text>')
        level = r.get("ciLevel") or 0.95
        level_note = "" if abs(level - 0.95) < 1e-9 else f" {level * 100:g}% CI"
        text = f"{r['hazardRatio']:.2f} ({r['ciLower']:.2f}-{r['ciUpper']:.2f}){level_note}"
        parts.append(f'<line x1="{x(r["ciLower"]):.1f}" y1="{line_y}" x2="{x(r["ciUpper"]):.1f}" y2="{line_y}" class="ci"/>')
        size = 10 if cited else 8
        parts.append(f'<rect x="{x(r["hazardRatio"]) - size / 2:.1f}" y="{line_y - size / 2:.1f}" width="{size}" height="{size}" '
                     f'class="hr"/>')
        parts.append(f'<text x="{left + plot_w + 10}" y="{line_y + 4}" class="value">{escape(text)}</text></g>')
    axis_y = top + ROW * len(rows) + 14
    for tick in (0.1, 0.2, 0.5, 1, 2, 5):
        if lo <= tick <= hi:
            parts.append(f'<text x="{x(tick):.1f}" y="{axis_y}" class="tick">{tick:g}</text>')
    parts.append(f'<text x="{x(1):.1f}" y="{axis_y + 16}" class="note">favours experimental ◀ ▶ favours control</text>')
    return _svg(width, axis_y + 28, "".join(parts), title)


def _legend(rows: list[dict], kind: str) -> list[tuple[str, str]]:
    """(glyph, words) for each marking the plot uses."""
    found = []
    if any(r.get("cited") for r in rows):
        others = "the other rows are outcomes of the studies it cites" if kind == "recommendation" else "the others are not"
        found.append(('<text x="0" y="5" class="star">★</text>',
                      f"bold on a shaded band: an outcome the recommendation cites itself; {others}"))
    if any(r.get("verified", True) for r in rows):
        found.append(('<line x1="0" y1="0" x2="16" y2="0" class="ci"/><rect x="4" y="-4" width="8" height="8" class="hr"/>',
                      "filled square, solid line: a verified figure"))
    if not all(r.get("verified", True) for r in rows):
        found.append(('<line x1="0" y1="0" x2="16" y2="0" class="ci unverified"/>'
                      '<rect x="4" y="-4" width="8" height="8" class="hr unverified"/>',
                      "hollow square, dashed line: a figure not verified (its evidence status ends the label)"))
    found.append(("", "square: hazard ratio; line: 95% confidence interval unless another level is given; log scale"))
    return found


def _svg(width: float, height: float, body: str, title: str) -> str:
    style = ("<style>text{font-family:system-ui,sans-serif;font-size:12px;fill:#1d2733}.title{font-weight:600;font-size:13px}"
             ".ref{stroke:#888;stroke-dasharray:3 3}.ci{stroke:#1f3a5f;stroke-width:2}.hr{fill:#1f3a5f;stroke:#1f3a5f;stroke-width:1.5}"
             ".unverified .ci,.ci.unverified{stroke-dasharray:5 3}.unverified .hr,.hr.unverified{fill:#fff}"
             ".band{fill:#fff1cc}.cited .label,.cited .value{font-weight:700}.star{fill:#a15c00;font-size:14px}.legend{font-size:11.5px}"
             ".tick,.note{fill:#6b7785;font-size:11px;text-anchor:middle}.value{font-size:11px}</style>")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" '
            f'height="{height:.0f}" role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>{style}{body}</svg>')
