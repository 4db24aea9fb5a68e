"""Lines of therapy derived from drug exposures alone (``--lines derive``), by the rule of
``queries/audit/line-rule.json``.

Two steps, after the myeloma rules of OHDSI ETL-LambdaBuilder (docs/MM_treatment_Episodes.md):

1. Regimens.  Exposures are taken in order of start date.  A regimen holds every drug starting
   within ``joinDays`` of its start; it goes on while its drugs are given, and ends when a drug
   it does not hold starts after that, or when none of its drugs is given for more than
   ``gapDays``.  Stopping one of its drugs does not end it.
2. Lines.  Each regimen starts a line, except that a transplant (a short course of a
   conditioning drug alone) joins the line before it, the regimen after a transplant joins that
   line as maintenance, and a single maintenance drug after a combination joins it too (the
   conditions are in the rule file).

Left out from the LambdaBuilder rules: the first regimen need not follow a myeloma diagnosis;
CAR-T apheresis and transplant procedures are not read (the source has no procedure table); the
merging of a lenalidomide or proteasome-inhibitor addition in the first 90 days, and of a line
with a following transplant, is not done.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from .rules import LineRule


@dataclass
class Span:
    start: dt.date
    end: dt.date
    unknown: bool = False

    def widen(self, start: dt.date, end: dt.date) -> None:
        self.start = min(self.start, start)
        self.end = max(self.end, end)


@dataclass
class Regimen:
    start: dt.date
    end: dt.date
    drugs: dict[str, Span] = field(default_factory=dict)

    def add(self, drug: str, unknown: bool, start: dt.date, end: dt.date) -> None:
        if drug in self.drugs:
            self.drugs[drug].widen(start, end)
        else:
            self.drugs[drug] = Span(start, end, unknown)
        self.end = max(self.end, end)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass
class DerivedLine:
    number: int
    start: dt.date
    end: dt.date
    drugs: dict[str, Span] = field(default_factory=dict)
    transplant: dt.date | None = None
    after_transplant_open: bool = False
    last: Regimen | None = None

    def add(self, regimen: Regimen) -> None:
        for drug, span in regimen.drugs.items():
            if drug in self.drugs:
                self.drugs[drug].widen(span.start, span.end)
            else:
                self.drugs[drug] = Span(span.start, span.end, span.unknown)
        self.end = max(self.end, regimen.end)
        self.last = regimen


def regimens(exposures: list[tuple[str, bool, dt.date, dt.date]], rule: LineRule) -> list[Regimen]:
    """Exposures (drug, unknown, start, end) to regimens (step 1)."""
    join = dt.timedelta(days=int(rule.data["regimen"]["joinDays"]))
    gap = dt.timedelta(days=int(rule.data["regimen"]["gapDays"]))
    out: list[Regimen] = []
    current: Regimen | None = None
    ordered = sorted(exposures, key=lambda e: (e[2], e[0], e[3]))
    index = 0
    while index < len(ordered):
        day = ordered[index][2]
        group = []
        while index < len(ordered) and ordered[index][2] == day:
            group.append(ordered[index])
            index += 1
        if current is not None:
            new_drug = any(drug not in current.drugs for drug, *_ in group)
            if day > current.end + gap or (new_drug and day > current.start + join):
                out.append(current)
                current = None
        if current is None:
            current = Regimen(day, day)
        for drug, unknown, start, end in group:
            current.add(drug, unknown, start, max(start, end))
    if current is not None:
        out.append(current)
    return out


def derive_lines(exposures: list[tuple[str, bool, dt.date, dt.date]], rule: LineRule) -> list[DerivedLine]:
    """One person's exposures to lines of therapy (steps 1 and 2), numbered from 1."""
    transplant: dict[str, Any] = rule.data["transplant"]
    maintenance: dict[str, Any] = rule.data["maintenance"]
    conditioning = set(transplant["conditioningDrugs"])
    lines: list[DerivedLine] = []
    for regimen in regimens(exposures, rule):
        names = set(regimen.drugs)
        line = lines[-1] if lines else None
        if line is not None:
            if (names <= conditioning and regimen.days <= int(transplant["maxConditioningDays"])
                    and regimen.start <= line.end + dt.timedelta(days=int(transplant["joinAfterDays"]))):
                line.add(regimen)
                line.transplant = regimen.start
                line.after_transplant_open = True
                continue
            if line.after_transplant_open:
                line.after_transplant_open = False
                if (regimen.start <= line.transplant + dt.timedelta(days=int(transplant["maintenanceWithinDays"]))
                        and (len(names) == 1 or names <= set(line.drugs))):
                    line.add(regimen)
                    continue
            previous = line.last
            if (previous is not None and len(names) == 1 and len(previous.drugs) >= 2
                    and previous.days > int(maintenance["minPreviousDays"]) and regimen.days > int(maintenance["minDays"])
                    and regimen.start <= previous.end + dt.timedelta(days=int(maintenance["startWithinDays"]))):
                (drug,) = names
                if drug in maintenance["drugs"] or (drug in maintenance["afterSameDrug"] and drug in previous.drugs):
                    line.add(regimen)
                    continue
        new = DerivedLine(len(lines) + 1, regimen.start, regimen.end)
        new.add(regimen)
        lines.append(new)
    return lines
