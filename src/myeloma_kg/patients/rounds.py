"""The round of the rule fixpoint in which each criterion is evaluated for a patient.

A criterion reads what other rules derive: an any-of or all-of criterion reads its members'
verdicts, a state criterion reads the state that another criterion defines.  Evaluated before
those are final, it would get a verdict that a later round contradicts, and evaluating every
criterion again in every round costs most of a recommendation's time.  So each criterion gets
the first round in which everything it reads is final (``queries/patient/criterion-inputs.rq``
says what it reads, and whether that input is written late in a round), and the rules that
evaluate criteria read only the criteria of the current round (``mkg:evaluationRound``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from graphlib import CycleError, TopologicalSorter
from typing import Any

from ..errors import CriterionCycleError


def criterion_rounds(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """criterion -> its round, from rows of ``criterion-inputs.rq`` (criterion, input, late).

    A criterion without derived inputs is evaluated in round 0; otherwise in the round of its
    latest input, or the round after it when the input is written late in its round.  A
    criterion that reads itself, however indirectly, raises ``CriterionCycleError``.
    """
    inputs: dict[str, list[tuple[str, bool]]] = {}
    for row in rows:
        mine = inputs.setdefault(row["criterion"], [])
        if row.get("input") is not None:  # a criterion that reads nothing derived has no input row
            mine.append((row["input"], bool(row["late"])))
    order = TopologicalSorter({criterion: [i for i, _ in read] for criterion, read in inputs.items()})
    try:
        ordered = list(order.static_order())  # every input before the criteria that read it
    except CycleError as exc:
        raise CriterionCycleError(sorted(set(exc.args[1]))) from None
    rounds: dict[str, int] = {}
    for criterion in ordered:
        rounds[criterion] = max((rounds[i] + late for i, late in inputs.get(criterion, [])), default=0)
    return rounds
