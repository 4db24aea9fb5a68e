"""report.html: the summary for people, one self-contained page (styles and plots inline, nothing
fetched), readable on a phone: tables scroll inside their own box and plots scale to the width."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from .summary import STATUSES, SUPPRESSED

COLOURS = {"concordant": "#2e7d32", "discordant": "#c62828", "not-covered": "#f9a825", "not-evaluable": "#78909c"}
TITLES = {"concordant": "concordant", "discordant": "discordant", "not-covered": "not covered",
          "not-evaluable": "not evaluable"}

STYLE = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1c1c1c;background:#fff}
main{max-width:960px;margin:0 auto;padding:12px 14px 40px}
h1{font-size:1.45rem;margin:.4em 0}
h2{font-size:1.15rem;margin:1.6em 0 .5em;border-bottom:1px solid #ddd;padding-bottom:.2em}
p,li{max-width:70ch;overflow-wrap:anywhere}
.note{background:#fff8e1;border-left:4px solid #f9a825;padding:.6em .8em}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;max-width:100%}
table{border-collapse:collapse;font-size:.9rem;margin:.3em 0 1em}
th,td{border-bottom:1px solid #e3e3e3;padding:.3em .5em;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
thead th{background:#f5f5f5}
svg{display:block;width:100%;height:auto;max-width:560px}
.legend{display:flex;flex-wrap:wrap;gap:.3em 1em;font-size:.85rem;margin:.3em 0}
.legend span::before{content:"";display:inline-block;width:.8em;height:.8em;margin-right:.3em;vertical-align:-.05em;background:var(--c)}
code{font-size:.85em;overflow-wrap:anywhere}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _cell(cell: Any) -> str:
    if isinstance(cell, dict):
        count, percent = cell.get("count"), cell.get("percent")
        if count == SUPPRESSED:
            return "<td>&lt;min</td>"
        shown = "" if percent in (None, SUPPRESSED) else f" ({percent:g}%)"
        return f"<td>{_e(count)}{shown}</td>"
    return f"<td>{_count(cell)}</td>"


def _count(value: Any) -> str:
    return "&lt;min" if value == SUPPRESSED else _e(value)


def _legend() -> str:
    return '<div class="legend">' + "".join(
        f'<span style="--c:{COLOURS[s]}">{TITLES[s]}</span>' for s in STATUSES) + "</div>"


def _breakdown_table(title: str, groups: dict[str, Any]) -> str:
    if not groups:
        return f"<p>No decision points to show by {_e(title)}.</p>"
    head = "".join(f"<th>{TITLES[s]}</th>" for s in STATUSES)
    body = "".join(f"<tr><td>{_e(group)}</td>{_cell(values['total'])}" + "".join(_cell(values[s]) for s in STATUSES) + "</tr>"
                   for group, values in groups.items())
    return (f'<div class="scroll"><table><thead><tr><th>{_e(title)}</th><th>decision points</th>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _stacked(groups: dict[str, Any], label: str) -> str:
    """Horizontal bars, one per group, split by status (shares of the group; suppressed cells left out)."""
    shown = [(g, v) for g, v in groups.items() if isinstance(v["total"], int) and v["total"] > 0]
    if not shown:
        return ""
    bar, gap, left, width = 20, 7, 64, 430
    height = len(shown) * (bar + gap) + 24
    parts = [f'<svg viewBox="0 0 {left + width + 10} {height}" role="img" aria-label="{_e(label)}">']
    for i, (group, values) in enumerate(shown):
        y = i * (bar + gap)
        parts.append(f'<text x="{left - 6}" y="{y + bar * 0.7:.1f}" text-anchor="end" font-size="14">{_e(group)[:9]}</text>')
        x = float(left)
        for status in STATUSES:
            count = values[status]["count"]
            if not isinstance(count, int) or count == 0:
                continue
            w = width * count / values["total"]
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar}" fill="{COLOURS[status]}">'
                         f"<title>{_e(group)}: {TITLES[status]} {count} of {values['total']}</title></rect>")
            x += w
    for tick in (0, 25, 50, 75, 100):
        tx = left + width * tick / 100
        parts.append(f'<text x="{tx:.1f}" y="{height - 6}" text-anchor="middle" font-size="13">{tick}%</text>')
    parts.append("</svg>")
    return "".join(parts)


def _curves(outcome: dict[str, Any], label: str) -> str:
    """Kaplan-Meier step curves by status, months on the x axis."""
    drawn = {s: v["curve"] for s, v in outcome.items() if isinstance(v, dict) and v.get("curve")}
    if not drawn:
        return "<p>Too few decision points in every group to draw the curves.</p>"
    top, left, width, height = 10, 46, 450, 240
    horizon = max(t for curve in drawn.values() for t, _ in curve) or 1.0
    horizon = min(horizon, 120.0)
    step = 12 if horizon > 36 else 6
    sx = lambda t: left + width * min(t, horizon) / horizon  # noqa: E731
    sy = lambda s: top + height * (1 - s)  # noqa: E731
    parts = [f'<svg viewBox="0 0 {left + width + 12} {top + height + 44}" role="img" aria-label="{_e(label)}">',
             f'<rect x="{left}" y="{top}" width="{width}" height="{height}" fill="none" stroke="#bbb"/>']
    for frac in (0.25, 0.5, 0.75):
        parts.append(f'<line x1="{left}" x2="{left + width}" y1="{sy(frac):.1f}" y2="{sy(frac):.1f}" stroke="#eee"/>')
    for frac in (0, 0.5, 1):
        parts.append(f'<text x="{left - 6}" y="{sy(frac) + 4:.1f}" text-anchor="end" font-size="13">{int(frac * 100)}%</text>')
    month = 0
    while month <= horizon:
        parts.append(f'<text x="{sx(month):.1f}" y="{top + height + 17}" text-anchor="middle" font-size="13">{month}</text>')
        month += step
    parts.append(f'<text x="{left + width / 2}" y="{top + height + 38}" text-anchor="middle" font-size="14">'
                 "months from the line start</text>")
    for status, curve in drawn.items():
        points = []
        last = 1.0
        for t, s in curve:
            if t > horizon:
                break
            points.append(f"{sx(t):.1f},{sy(last):.1f}")
            points.append(f"{sx(t):.1f},{sy(s):.1f}")
            last = s
        points.append(f"{sx(min(curve[-1][0], horizon)):.1f},{sy(last):.1f}")
        parts.append(f'<polyline fill="none" stroke="{COLOURS[status]}" stroke-width="2" points="{" ".join(points)}">'
                     f"<title>{TITLES[status]}</title></polyline>")
    parts.append("</svg>")
    return "".join(parts)


def _outcome_table(outcome: dict[str, Any]) -> str:
    rows = []
    for status in STATUSES:
        entry = outcome.get(status, {})
        if "medianMonths" not in entry:
            rows.append(f"<tr><td>{TITLES[status]}</td>{_cell(entry.get('n', 0))}"
                        f"<td colspan=\"4\">{_e(entry.get('estimate', ''))}</td></tr>")
            continue
        median = "not reached" if entry["medianMonths"] is None else f"{entry['medianMonths']:g}"
        lo, hi = entry["medianCI95"]
        ci = f"{'–' if lo is None else f'{lo:g}'} to {'not reached' if hi is None else f'{hi:g}'}"
        marks = []
        for months in (12, 24):
            mark = entry.get(f"at{months}Months", {})
            if mark.get("survival") is None:
                marks.append("<td>–</td>")
            else:
                low, high = mark["ci95"]
                marks.append(f"<td>{mark['survival'] * 100:.0f}% ({low * 100:.0f}–{high * 100:.0f})</td>")
        rows.append(f"<tr><td>{TITLES[status]}</td>{_cell(entry['n'])}{_cell(entry['events'])}"
                    f"<td>{median} ({ci})</td>{''.join(marks)}</tr>")
    return ('<div class="scroll"><table><thead><tr><th>status</th><th>n</th><th>events</th>'
            "<th>median, months (95% CI)</th><th>at 12 months (95% CI)</th><th>at 24 months (95% CI)</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def render(summary: dict[str, Any]) -> str:
    version = summary["graphVersion"]
    status_rows = "".join(f"<tr><td>{TITLES[s]}</td>{_cell(summary['byStatus'][s])}</tr>" for s in STATUSES)
    missing = "".join(f"<li>{_e(v['text'])}</li>" for v in summary["missingData"].values())
    agents = summary["drugs"]["unknownAgents"]
    agent_rows = "".join(f"<tr><td>{_e(a['agent'])}</td>{_cell(a['exposures'])}{_cell(a['persons'])}</tr>" for a in agents)
    outcomes = summary["outcomes"]
    sections = [
        "<h1>Cohort audit: anti-CD38 consensus</h1>",
        f"<p>{_count(summary['decisionPoints'])} decision points (the start of every line from the second on) in "
        f"<code>{_e(summary['source'])}</code>, judged by graph version {_e(version.get('version'))} "
        f"(<code>{_e(version.get('contentHash') or '')}</code>), rules <code>{_e(version.get('rulesHash') or '')}</code>. "
        f"Lines: {_e(summary['lines'])} (<code>{_e(summary['lineRule'])}</code>); mapping {_e(summary['mapping'])} "
        f"(<code>{_e(summary['mappingHash'])}</code>). Counts under {summary['minCellCount']} are shown as &lt;min.</p>",
        '<p class="note">The recommendations are reconstructed from the consensus\'s abstract and comparable '
        "guidelines (see the project's README); nothing here is medical advice.</p>",
        "<h2>Status</h2>", _legend(),
        '<div class="scroll"><table><thead><tr><th>status</th><th>decision points</th></tr></thead>'
        f"<tbody>{status_rows}</tbody></table></div>",
        "<h2>By recommendation</h2>",
        "<p>Decision points at which each recommendation supported at least one regimen, and what was given. "
        "Bars leave out the counts below the minimum.</p>",
        _legend(), _stacked(summary["byRecommendation"], "status by recommendation"),
        _breakdown_table("recommendation", summary["byRecommendation"]),
        "<h2>By calendar year</h2>", _legend(), _stacked(summary["byYear"], "status by year"),
        _breakdown_table("year", summary["byYear"]),
        "<h2>By line</h2>", _breakdown_table("line", summary["byLine"]),
        "<h2>By high-risk cytogenetics</h2>", _breakdown_table("cytogenetics", summary["byHighRiskCytogenetics"]),
    ]
    if "bySite" in summary:
        sections += ["<h2>By site</h2>", _breakdown_table("care site", summary["bySite"])]
    sections += [
        "<h2>Missing data</h2>", f"<ul>{missing}</ul>",
        "<p>Age taken from: " + ", ".join(f"{_e(k)} {_count(v)}" for k, v in summary.get("ageFrom", {}).items())
        + " (from the middle of the month or the year when the day or month of birth is not recorded).</p>",
        "<h2>Agents the graph does not know</h2>",
        (f'<div class="scroll"><table><thead><tr><th>agent</th><th>exposures</th><th>people</th></tr></thead>'
         f"<tbody>{agent_rows}</tbody></table></div>" if agents else "<p>None.</p>"),
        "<h2>Outcomes by status</h2>", f'<p class="note">{_e(outcomes["caveat"])}</p>',
        "<h3>Time to next treatment (next line or death)</h3>", _legend(),
        _curves(outcomes["timeToNextTreatment"], "time to next treatment by status"),
        _outcome_table(outcomes["timeToNextTreatment"]),
        "<h3>Overall survival</h3>", _legend(), _curves(outcomes["overallSurvival"], "overall survival by status"),
        _outcome_table(outcomes["overallSurvival"]),
        f"<p>Written {_e(summary['generated'])} by myeloma-kg audit.</p>",
    ]
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Cohort audit</title><style>{STYLE}</style></head><body><main>{''.join(sections)}</main></body></html>\n")


def write_report(summary: dict[str, Any], path: Path) -> None:
    path.write_text(render(summary), encoding="utf-8")
