"""The record of each decision point: plain JSON, exactly what ``myeloma-kg recommend`` reads.

A decision point is the start of line k >= 2.  Its record holds what was known on that date: the
person's age then, the latest value of each mapped field dated on or before it (every
cytogenetic finding and heart condition so far), and lines 1 to k-1 with their drugs, dates, best
response, progression, stop reason and toxicity as the source holds them.  Dates after the decision date were not known on it and are
left out (a line still going on then has no end).  Nothing is corrected: a value the shapes reject
makes the point not evaluable, with the shapes' message.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .rules import FIELDS, FRAILTY_SCORES, NO_FINDING

#: The record fields whose absence summary.json reports, in this order.
MISSING_FIELDS = ("age", "ecog", "creatinineClearance", "cytogenetics", "frailty",
                  "previous line: bestResponse", "previous line: progressionDate")


@dataclass
class LineInfo:
    line_id: int
    number: int
    start: dt.date
    end: dt.date | None
    drugs: dict[str, tuple[dt.date | None, dt.date | None, bool]] = field(default_factory=dict)


@dataclass
class DecisionPoint:
    person_id: int
    line_number: int
    decision_date: dt.date
    record: dict[str, Any]
    given: list[str]
    unknown_given: list[str]
    site: int | None
    missing: list[str]
    age_from: str  # "date of birth", "year and month of birth", "year of birth", "none"
    ttnt: tuple[int, int]  # (days, 1 if the next line or death ended it)
    os: tuple[int, int]  # (days, 1 if death ended it)

    @property
    def key(self) -> str:
        return f"{self.person_id}/{self.line_number}/{self.decision_date.isoformat()}"

    def text(self) -> str:
        return json.dumps(self.record, ensure_ascii=False)


def by_person(rows: Iterable[tuple]) -> Iterator[tuple[int, list[tuple]]]:
    """Rows sorted by their first column (person_id) as (person_id, that person's rows)."""
    current: int | None = None
    bucket: list[tuple] = []
    for row in rows:
        if row[0] != current:
            if current is not None:
                yield current, bucket
            current, bucket = row[0], []
        bucket.append(row)
    if current is not None:
        yield current, bucket


class Aligned:
    """Several person-sorted streams read side by side: ``take(stream, person)`` gives that
    person's rows of the stream (none if it has none)."""

    def __init__(self, **streams: Iterable[tuple]) -> None:
        self._iters = {name: by_person(rows) for name, rows in streams.items()}
        self._head: dict[str, tuple[int, list[tuple]] | None] = {name: next(it, None) for name, it in self._iters.items()}

    def take(self, name: str, person: int) -> list[tuple]:
        head = self._head[name]
        while head is not None and head[0] < person:
            head = self._head[name] = next(self._iters[name], None)
        if head is not None and head[0] == person:
            self._head[name] = next(self._iters[name], None)
            return head[1]
        return []


def person_lines(rows: list[tuple]) -> list[LineInfo]:
    """lines.sql rows of one person to lines with their drugs, in line order."""
    lines: dict[int, LineInfo] = {}
    for _pid, line_id, number, start, end, drug, unknown, drug_start, drug_end in rows:
        line = lines.get(line_id)
        if line is None:
            line = lines[line_id] = LineInfo(line_id, number, start, end)
        if drug is not None:
            line.drugs[drug] = (drug_start, drug_end, bool(unknown))
    return sorted(lines.values(), key=lambda line: (line.number, line.start, line.line_id))


def age_on(person: tuple, day: dt.date) -> tuple[int | None, str]:
    """Whole years from birth to ``day``: from the birth date when it is known, else from the
    middle of the month (year and month known) or of the year (year only)."""
    _pid, year, month, dob, birth_date, *_ = person
    birth, how = None, "none"
    if birth_date is not None:
        birth, how = birth_date, "date of birth"
    elif year is not None:
        try:
            if month is not None and dob is not None:
                birth, how = dt.date(year, month, dob), "date of birth"
            elif month is not None:
                birth, how = dt.date(year, month, 15), "year and month of birth"
            else:
                birth, how = dt.date(year, 7, 1), "year of birth"
        except ValueError:
            birth, how = dt.date(year, 7, 1), "year of birth"
    if birth is None:
        return None, how
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day)), how


def _number(text: str | None, number: float | None) -> Any:
    value: Any = number
    if value is None and text is not None:
        try:
            value = float(text)
        except ValueError:
            return text  # kept as written: the shapes will say what is wrong with it
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _boolean(text: str | None, number: float | None) -> Any:
    if text is not None:
        word = text.strip().lower()
        if word in ("true", "1", "yes"):
            return True
        if word in ("false", "0", "no"):
            return False
        return text
    if number is not None:
        return number != 0
    return True  # the row itself says the condition is there


def _word(text: str | None, number: float | None) -> Any:
    if text is not None:
        return text
    return None if number is None else _number(None, number)


def field_value(name: str, text: str | None, number: float | None) -> Any:
    kind = FIELDS[name]
    if kind in ("number", "integer"):
        return _number(text, number)
    if kind == "boolean":
        return _boolean(text, number)
    return _word(text, number)


def decision_points(person: tuple | None, lines: list[LineInfo], facts: list[tuple], progression: list[tuple],
                    line_rows: list[tuple]) -> list[DecisionPoint]:
    """The decision points of one person, each with its record and outcomes."""
    if person is None or not lines:
        return []
    person_id, site, death, last_date = person[0], person[5], person[6], person[7]
    by_point: dict[int, list[tuple]] = {}
    for row in facts:
        by_point.setdefault(row[1], []).append(row)
    progressed = {(row[1], row[2]): row[3] for row in progression}
    line_facts: dict[tuple[int, int], dict[str, tuple[str | None, float | None]]] = {}
    for row in line_rows:
        line_facts.setdefault((row[1], row[2]), {})[row[3]] = (row[4], row[5])
    out = []
    for line in lines:
        if line.number < 2:
            continue
        day = line.start
        record: dict[str, Any] = {"id": str(person_id)}
        age, age_from = age_on(person, day)
        if age is not None:
            record["age"] = age
        findings: list[str] = []
        conditions: list[Any] = []
        scores: dict[str, Any] = {}
        tested = False
        for _pid, _line, name, text, number, _date in by_point.get(line.line_id, []):
            if name == "cytogenetics":
                tested = True
                value = _word(text, number)
                if value is not None and str(value).strip().lower() != NO_FINDING and value not in findings:
                    findings.append(value)
            elif name == "cardiacCondition":
                value = _word(text, number)
                if value is not None and value not in conditions:
                    conditions.append(value)
            elif name in FRAILTY_SCORES:
                scores[FRAILTY_SCORES[name]] = field_value(name, text, number)
            else:
                record[name] = field_value(name, text, number)
        if tested:
            record["cytogenetics"] = findings
        if conditions:  # the conditions themselves: the record's list, which means a cardiac history
            record["cardiacHistory"] = conditions
        if scores:
            record["imwgFrailty"] = {key: scores[key] for key in ("charlson", "adl", "iadl") if key in scores}
        earlier = [x for x in lines if x.number < line.number]
        record["therapyLines"] = [_line_entry(x, day, progressed.get((line.line_id, x.line_id)),
                                              line_facts.get((line.line_id, x.line_id), {})) for x in earlier]
        given = sorted(line.drugs)
        unknown_given = sorted(d for d, (_, _, unknown) in line.drugs.items() if unknown)
        later = [x.start for x in lines if x.number > line.number and x.start > day]
        follow_up = max(d for d in (last_date, day, death) if d is not None)
        end_ttnt = min([d for d in (min(later) if later else None, death) if d is not None], default=None)
        ttnt = ((end_ttnt - day).days, 1) if end_ttnt else ((follow_up - day).days, 0)
        os_ = ((death - day).days, 1) if death else ((follow_up - day).days, 0)
        previous = record["therapyLines"][-1] if record["therapyLines"] else {}
        missing = [name for name in MISSING_FIELDS[:5] if name not in record]
        if "bestResponse" not in previous:
            missing.append(MISSING_FIELDS[5])
        if "progressionDate" not in previous:
            missing.append(MISSING_FIELDS[6])
        out.append(DecisionPoint(person_id, line.number, day, record, given, unknown_given, site, missing, age_from,
                                 (max(0, ttnt[0]), ttnt[1]), (max(0, os_[0]), os_[1])))
    return out


def _line_entry(line: LineInfo, day: dt.date, progression: dt.date | None,
                facts: dict[str, tuple[str | None, float | None]]) -> dict[str, Any]:
    """An earlier line as the decision date knew it."""
    end = line.end if line.end is not None and line.end <= day else None
    entry: dict[str, Any] = {"line": line.number, "drugs": [], "start": line.start.isoformat()}
    if end is not None:
        entry["end"] = end.isoformat()
    for drug in sorted(line.drugs):
        first, last, _unknown = line.drugs[drug]
        last_known = last if last is not None and last <= day else None
        if first == line.start and last_known == end:
            entry["drugs"].append(drug)
        else:
            item: dict[str, Any] = {"drug": drug, "start": first.isoformat() if first else None}
            if last_known is not None:
                item["end"] = last_known.isoformat()
            entry["drugs"].append(item)
    if "bestResponse" in facts:
        value = _word(*facts["bestResponse"])
        if value is not None:
            entry["bestResponse"] = value
    if progression is not None:
        entry["progressionDate"] = progression.isoformat()
    for name in ("stopReason", "toxicity"):
        if name in facts:
            value = _word(*facts[name])
            if value is not None:
                entry[name] = value
    return entry
