"""The R4 variant of the PlanDefinitions and ActivityDefinitions, for CPG-on-FHIR (an R4 IG).

From the R5 resources of ``export.py``:

- every top-level action carries the recommendation's grades as the CPG extensions
  ``cqf-strengthOfRecommendation``, ``cpg-directionOfRecommendation`` and ``cqf-qualityOfEvidence``
  (R4 has no ArtifactAssessment, so the rating travels on the action), each only when the graph
  states that grade (``mkg:strength``, ``mkg:direction``, ``mkg:evidenceCertainty``), with the
  codes the graph maps it to; the reconstruction confidence is not a certainty of evidence and is
  not given here;
- ``action.code`` becomes a list, and the reference to the R5 ArtifactAssessment is dropped;
- the contained Medication's ingredients use ``itemCodeableConcept``.

They are checked with ``fhir.resources.R4B`` (the R4-line models the package has).
"""

from __future__ import annotations

import copy
from typing import Any

from .ids import CPG, CQF, grade_codings

# Which extension carries which grade of a recommendation row, in the order they are written.
RATING_EXTENSIONS = (("strength", CQF + "cqf-strengthOfRecommendation"),
                     ("direction", CPG + "cpg-directionOfRecommendation"),
                     ("certainty", CQF + "cqf-qualityOfEvidence"))


def _rating_extensions(rec: dict[str, Any]) -> list[dict[str, Any]]:
    """The extensions for the grades the graph states; a grade it does not state has none."""
    return [{"url": url, "valueCodeableConcept": {"coding": codings}}
            for key, url in RATING_EXTENSIONS if (codings := grade_codings(rec, key))]


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
        extensions = _rating_extensions(rec) + action.get("extension", [])
        if extensions:
            action["extension"] = extensions
    return out


def activity_definition_r4(activity: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(activity)
    for medication in out.get("contained", []):
        for ingredient in medication.get("ingredient", []):
            ingredient["itemCodeableConcept"] = ingredient.pop("item")["concept"]
    return out
