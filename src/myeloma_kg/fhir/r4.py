"""The R4 variant of the PlanDefinitions and ActivityDefinitions, for CPG-on-FHIR (an R4 IG).

From the R5 resources of ``export.py``:

- every top-level action carries the CPG extensions ``cqf-strengthOfRecommendation``,
  ``cpg-directionOfRecommendation`` and ``cqf-qualityOfEvidence`` (R4 has no ArtifactAssessment,
  so the rating travels on the action); quality of evidence is given in words only, because the
  graph records no certainty of evidence (its confidence rates the reconstruction);
- ``action.code`` becomes a list, and the reference to the R5 ArtifactAssessment is dropped;
- the contained Medication's ingredients use ``itemCodeableConcept``.

They are checked with ``fhir.resources.R4B`` (the R4-line models the package has).
"""

from __future__ import annotations

import copy
from typing import Any

from .ids import CPG, CQF, DIRECTION, MKG_SYSTEM, STRENGTH, local_name

QUALITY_NOT_RATED = "not rated: the graph records no certainty of evidence for this recommendation"


def _rating_extensions(rec: dict[str, Any]) -> list[dict[str, Any]]:
    strength = {"coding": [{"system": MKG_SYSTEM, "code": local_name(rec["strength"]), "display": rec.get("strengthLabel")}]} \
        if rec.get("strength") else {"text": "not stated"}
    if rec.get("strengthHl7"):
        strength["coding"].append({"system": STRENGTH, "code": rec["strengthHl7"]})
    out = [{"url": CQF + "cqf-strengthOfRecommendation", "valueCodeableConcept": strength}]
    if rec.get("direction"):
        out.append({"url": CPG + "cpg-directionOfRecommendation",
                    "valueCodeableConcept": {"coding": [{"system": DIRECTION, "code": rec["direction"]}]}})
    out.append({"url": CQF + "cqf-qualityOfEvidence", "valueCodeableConcept": {"text": QUALITY_NOT_RATED}})
    return out


def _actions_r4(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for action in actions:
        if "code" in action:
            action["code"] = [action["code"]]
        if "action" in action:
            _actions_r4(action["action"])
    return actions


def plan_definition_r4(plan: dict[str, Any], rec: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(plan)
    out["relatedArtifact"] = [r for r in out.get("relatedArtifact", []) if "resourceReference" not in r]
    _actions_r4(out["action"])
    for action in out["action"]:
        action["extension"] = _rating_extensions(rec) + action.get("extension", [])
    return out


def activity_definition_r4(activity: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(activity)
    for medication in out.get("contained", []):
        for ingredient in medication.get("ingredient", []):
            ingredient["itemCodeableConcept"] = ingredient.pop("item")["concept"]
    return out
