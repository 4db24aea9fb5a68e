"""The R4 variant of the PlanDefinitions and ActivityDefinitions, for CPG-on-FHIR (an R4 IG).

From the R5 resources of ``export.py``:

- every top-level action carries the recommendation's grades as the CPG extensions
  ``cqf-strengthOfRecommendation``, ``cpg-directionOfRecommendation`` and ``cqf-qualityOfEvidence``
  (R4 has no ArtifactAssessment, so the rating travels on the action), each only when the graph
  states that grade (``mkg:strength``, ``mkg:direction``, ``mkg:evidenceCertainty``), with the
  codes the graph maps it to; the reconstruction confidence is not a certainty of evidence and is
  not given here;
- ``action.code`` becomes a list, and the reference to the R5 ArtifactAssessment is dropped;
- the contained Medication's ingredients use ``itemCodeableConcept``;
- an applicability condition names its criterion in CQL: R4 allows only ``text/cql``,
  ``text/fhirpath`` and ``application/x-fhir-query`` as ``Expression.language``, so the R5
  language ``text/x-myeloma-kg-criterion`` cannot be kept.  The expression becomes the criterion's
  label as a CQL quoted identifier (``"lenalidomide-refractory"``), the way a shareable CPG
  artifact names logic that a CQL library is still to define (none exists yet: an engine that
  tries to run it finds nothing, rather than something wrong); the criterion's IRI, which R5
  gives as ``expression.reference``, moves to the extension ``CRITERION_EXTENSION``, since a
  reference with language CQL would claim that the IRI holds CQL.  Description and label are kept.

They are checked with ``fhir.resources.R4B`` (the R4-line models the package has) and with HL7's
R4 JSON schema (``conformance.py``).
"""

from __future__ import annotations

import copy
from typing import Any

from ..namespaces import BASE
from .ids import CPG, CQF, grade_codings

R5_CRITERION_LANGUAGE = "text/x-myeloma-kg-criterion"
CRITERION_EXTENSION = BASE + "fhir/StructureDefinition/criterion"  # valueUri: the graph's criterion

# Which extension carries which grade of a recommendation row, in the order they are written.
RATING_EXTENSIONS = (("strength", CQF + "cqf-strengthOfRecommendation"),
                     ("direction", CPG + "cpg-directionOfRecommendation"),
                     ("certainty", CQF + "cqf-qualityOfEvidence"))


def _rating_extensions(rec: dict[str, Any]) -> list[dict[str, Any]]:
    """The extensions for the grades the graph states; a grade it does not state has none."""
    return [{"url": url, "valueCodeableConcept": {"coding": codings}}
            for key, url in RATING_EXTENSIONS if (codings := grade_codings(rec, key))]


def cql_identifier(label: str) -> str:
    """``label`` as a CQL quoted identifier."""
    return '"' + label.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _condition_r4(condition: dict[str, Any]) -> dict[str, Any]:
    expression = condition.get("expression") or {}
    if expression.get("language") != R5_CRITERION_LANGUAGE:
        return condition
    r4 = {key: value for key, value in expression.items() if key not in ("language", "expression", "reference")}
    if expression.get("reference"):
        r4["extension"] = [*r4.get("extension", []), {"url": CRITERION_EXTENSION, "valueUri": expression["reference"]}]
    r4["language"] = "text/cql"
    r4["expression"] = cql_identifier(expression.get("expression") or expression.get("description") or "criterion")
    return {**condition, "expression": dict(sorted(r4.items(), key=lambda kv: kv[0] != "extension"))}


def _actions_r4(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for action in actions:
        if "code" in action:
            action["code"] = [action["code"]]
        if "condition" in action:
            action["condition"] = [_condition_r4(c) for c in action["condition"]]
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
