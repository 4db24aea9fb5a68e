"""Forest plots (SVG) of hazard ratios with confidence intervals, on a logarithmic axis."""

from __future__ import annotations

import math
from html import escape

ROW = 22
LEFT = 330
WIDTH = 300
RIGHT = 200
TOP = 36


def forest_svg(rows: list[dict], title: str) -> str:
    if not rows:
        return _svg(120, f'<text x="10" y="40" class="note">No hazard ratios are recorded for {escape(title)}.</text>')
    lows = [min(r["ciLower"], r["hazardRatio"]) for r in rows]
    highs = [max(r["ciUpper"], r["hazardRatio"]) for r in rows]
    lo = min(min(lows), 0.5) * 0.9
    hi = max(max(highs), 1.5) * 1.1

    def x(value: float) -> float:
        return LEFT + (math.log(value) - math.log(lo)) / (math.log(hi) - math.log(lo)) * WIDTH

    parts = [f'<text x="10" y="20" class="title">{escape(title)}</text>',
             f'<line x1="{x(1):.1f}" y1="{TOP - 6}" x2="{x(1):.1f}" y2="{TOP + ROW * len(rows)}" class="ref"/>']
    for i, r in enumerate(rows):
        y = TOP + i * ROW + ROW / 2
        label = f"{r['trialLabel']} · {r['endpoint']} · {r.get('groups') or 'all patients'}"
        level = r.get("ciLevel") or 0.95
        level_note = "" if abs(level - 0.95) < 1e-9 else f" {level * 100:g}% CI"
        text = f"{r['hazardRatio']:.2f} ({r['ciLower']:.2f}-{r['ciUpper']:.2f}){level_note}"
        parts.append(f'<text x="10" y="{y + 4:.1f}" class="label">{escape(label[:52])}</text>')
        parts.append(f'<line x1="{x(r["ciLower"]):.1f}" y1="{y:.1f}" x2="{x(r["ciUpper"]):.1f}" y2="{y:.1f}" class="ci"/>')
        parts.append(f'<rect x="{x(r["hazardRatio"]) - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" class="hr"/>')
        parts.append(f'<text x="{LEFT + WIDTH + 10}" y="{y + 4:.1f}" class="value">{escape(text)}</text>')
    axis_y = TOP + ROW * len(rows) + 14
    for tick in (0.1, 0.2, 0.5, 1, 2, 5):
        if lo <= tick <= hi:
            parts.append(f'<text x="{x(tick):.1f}" y="{axis_y}" class="tick">{tick:g}</text>')
    parts.append(f'<text x="{x(1) - 60:.1f}" y="{axis_y + 16}" class="note">favours experimental ◀ ▶ favours control</text>')
    return _svg(axis_y + 28, "".join(parts))


def _svg(height: float, body: str) -> str:
    style = ("<style>text{font-family:system-ui,sans-serif;font-size:12px;fill:#1d2733}.title{font-weight:600;font-size:13px}"
             ".ref{stroke:#888;stroke-dasharray:3 3}.ci{stroke:#1f3a5f;stroke-width:2}.hr{fill:#1f3a5f}"
             ".tick,.note{fill:#6b7785;font-size:11px;text-anchor:middle}.value{font-size:11px}</style>")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{LEFT + WIDTH + RIGHT}" height="{height:.0f}" '
            f'role="img">{style}{body}</svg>')
