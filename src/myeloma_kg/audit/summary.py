"""summary.json: counts and percentages of the decision points, missing data, and outcomes.

Every count from 1 to ``minCellCount - 1`` is written as ``"suppressed"`` (its percentage too), so
that the summary can leave the site without naming small groups of people.  Outcomes are
Kaplan-Meier estimates (lifelines) from the start of the line: time to next treatment (the next
line or death) and overall survival, per status, for groups of at least ``minCellCount``.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from ..graph.version import GraphVersion
from .records import MISSING_FIELDS

STATUSES = ("concordant", "discordant", "not-covered", "not-evaluable")
SUPPRESSED = "suppressed"
DAYS_PER_MONTH = 30.4375
LANDMARKS = (12, 24)
CAVEAT = ("Concordance with the guideline was not randomised. Patients whose treatment was concordant may differ "
          "from the others in ways these data do not record (fitness, disease biology, access to drugs, the year), "
          "so these curves describe what happened to each group; they do not measure the effect of following the "
          "guideline. A person contributes one decision point for each line from the second on, so the groups "
          "share people and are not independent samples.")
RISK_LABELS = {"true": "high risk", "false": "standard risk", "": "unknown"}


class Cells:
    def __init__(self, minimum: int) -> None:
        self.minimum = minimum

    def count(self, n: int) -> int | str:
        return SUPPRESSED if 0 < n < self.minimum else n

    def cell(self, n: int, total: int) -> dict[str, Any]:
        if 0 < n < self.minimum or 0 < total < self.minimum:
            return {"count": self.count(n), "percent": SUPPRESSED if n else 0.0}
        return {"count": n, "percent": round(100.0 * n / total, 1) if total else None}

    def statuses(self, counts: Counter, total: int) -> dict[str, Any]:
        """The cells of the four statuses of a group.  When the group's total is shown and one cell
        alone is suppressed, the next smallest is suppressed too, so that no suppressed count
        can be worked out by subtraction."""
        cells = {s: self.cell(counts[s], total) for s in STATUSES}
        hidden = [s for s in STATUSES if cells[s]["count"] == SUPPRESSED]
        if len(hidden) == 1 and isinstance(self.count(total), int):
            shown = sorted((counts[s], s) for s in STATUSES if counts[s] and s not in hidden)
            if shown:
                cells[shown[0][1]] = {"count": SUPPRESSED, "percent": SUPPRESSED}
        return cells

    def breakdown(self, rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], Iterable[str]],
                  order: Callable[[str], Any] | None = None) -> dict[str, Any]:
        """Statuses within each group the key puts a row in (a row may be in several)."""
        groups: dict[str, Counter] = {}
        for row in rows:
            for group in key(row):
                groups.setdefault(group, Counter())[row["status"]] += 1
        out = {}
        for group in sorted(groups, key=order or (lambda g: g)):
            counts = groups[group]
            total = sum(counts.values())
            out[group] = {"total": self.count(total), **self.statuses(counts, total)}
        return out


def _line_key(group: str) -> tuple[int, str]:
    return (int(group), group) if group.isdigit() else (10**9, group)


def _notation_key(group: str) -> tuple[int, str]:
    digits = "".join(ch for ch in group if ch.isdigit())
    return (int(digits) if digits else 10**9, group)


def summarise(rows: list[dict[str, Any]], version: GraphVersion, context: dict[str, Any]) -> dict[str, Any]:
    cells = Cells(int(context["minCellCount"]))
    total = len(rows)
    status_counts = Counter(row["status"] for row in rows)
    evaluable = [row for row in rows if row["status"] != "not-evaluable"]

    def applicable(row: dict[str, Any]) -> list[str]:
        if row["status"] == "not-evaluable":
            return []
        return row["applicable_recommendations"].split("|") if row["applicable_recommendations"] else ["(none applies)"]

    summary: dict[str, Any] = {
        "graphVersion": version.as_json(),
        "decisionPoints": cells.count(total),
        "minCellCount": cells.minimum,
        "source": context["source"], "engine": context["engine"], "lines": context["lines"],
        "lineRule": context["lineRule"], "lineRuleHash": context["lineRuleHash"],
        "mapping": context["mapping"], "mappingHash": context["mappingHash"], "generated": context["generated"],
        "people": {k: cells.count(v) for k, v in context["counts"].items()},
        "byStatus": cells.statuses(status_counts, total),
        "byRecommendation": cells.breakdown(evaluable, applicable, _notation_key),
        "concordantUnder": {rec: cells.count(n) for rec, n in sorted(
            Counter(r for row in rows if row["status"] == "concordant" for r in row["recommendations"].split("|") if r).items(),
            key=lambda kv: _notation_key(kv[0]))},
        "byLine": cells.breakdown(rows, lambda r: [str(r["line_number"])], _line_key),
        "byYear": cells.breakdown(rows, lambda r: [str(r["year"])]),
        "byHighRiskCytogenetics": cells.breakdown(rows, lambda r: [RISK_LABELS[r["high_risk_cytogenetics"]]]),
    }
    if any(row["site"] for row in rows):
        summary["bySite"] = cells.breakdown(rows, lambda r: [r["site"] or "(none)"])
    summary["missingData"] = _missing(rows, cells)
    summary["ageFrom"] = {basis: cells.count(n) for basis, n in sorted(Counter(row["age_from"] for row in rows).items())}
    drugs = dict(context["drugs"])
    drugs["unknownAgents"] = [{**agent, "exposures": cells.count(agent["exposures"]), "persons": cells.count(agent["persons"])}
                              for agent in drugs["unknownAgents"]]
    drugs["notRegimenComponents"] = [{**item, "exposures": cells.count(item["exposures"])} for item in drugs["notRegimenComponents"]]
    drugs["decisionPointsWithUnknownAgents"] = cells.count(sum(1 for row in rows if row["unknown_agents"]))
    summary["drugs"] = drugs
    summary["outcomes"] = {
        "caveat": CAVEAT,
        "from": "the start of the line (the decision date)",
        "timeToNextTreatment": _survival(rows, "ttnt", cells),
        "overallSurvival": _survival(rows, "os", cells),
    }
    return summary


def _missing(rows: list[dict[str, Any]], cells: Cells) -> dict[str, Any]:
    total = len(rows)
    out = {}
    for name in MISSING_FIELDS:
        n = sum(1 for row in rows if name in row["missing_fields"].split("|"))
        cell = cells.cell(n, total)
        percent = cell["percent"]
        shown = (f"{percent:g}%" if isinstance(percent, float) else "a suppressed share") if total else "none"
        cell["text"] = f"{name} unknown at {shown} of decision points"
        out[name] = cell
    return out


def _survival(rows: list[dict[str, Any]], prefix: str, cells: Cells) -> dict[str, Any]:
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    out: dict[str, Any] = {}
    for status in STATUSES:
        group = [row for row in rows if row["status"] == status]
        n = len(group)
        events = sum(int(row[f"{prefix}_event"]) for row in group)
        if n < cells.minimum or n == 0:
            out[status] = {"n": cells.count(n), "estimate": "not shown: too few decision points"}
            continue
        durations = [int(row[f"{prefix}_days"]) / DAYS_PER_MONTH for row in group]
        observed = [int(row[f"{prefix}_event"]) for row in group]
        kmf = KaplanMeierFitter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kmf.fit(durations, observed, label=status)
            median = float(kmf.median_survival_time_)
            ci = median_survival_times(kmf.confidence_interval_)
        lower, upper = (float(ci.iloc[0, 0]), float(ci.iloc[0, 1])) if len(ci.columns) == 2 else (math.nan, math.nan)
        entry: dict[str, Any] = {
            "n": n, "events": cells.count(events),
            "medianMonths": _months(median), "medianCI95": [_months(lower), _months(upper)],
        }
        survival = kmf.survival_function_
        band = kmf.confidence_interval_survival_function_
        for months in LANDMARKS:
            at = survival.loc[:months]
            if durations and max(durations) < months:
                entry[f"at{months}Months"] = {"survival": None, "note": "follow-up ends before this"}
                continue
            value = float(at.iloc[-1, 0])
            low, high = (float(band.loc[:months].iloc[-1, 0]), float(band.loc[:months].iloc[-1, 1]))
            at_risk = sum(1 for d in durations if d >= months)
            entry[f"at{months}Months"] = {"survival": round(value, 3), "ci95": [round(low, 3), round(high, 3)],
                                          "atRisk": cells.count(at_risk)}
        entry["curve"] = [[round(float(t), 2), round(float(s), 4)] for t, s in zip(survival.index, survival.iloc[:, 0])]
        out[status] = entry
    return out


def _months(value: float) -> float | None:
    """Months rounded to a tenth; None when not reached (infinite) or not estimable."""
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return round(value, 1)
