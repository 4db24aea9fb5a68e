"""The guideline as FHIR: a Bundle (type ``collection``) built from the graph by the SPARQL queries
of ``queries/fhir/``.

FHIR R5 (the default) gives, in this order:

- a PlanDefinition (CPG recommendation definition, ``type = eca-rule``) per recommendation:
  statement, topics, applicability criteria as conditions, and actions for its regimens, its
  supportive-care actions and its cautions; evidence links as ``relatedArtifact``;
- an ActivityDefinition per regimen a recommendation names, with its drugs as the ingredients of
  a contained Medication (RxNorm and NCIt codes only where verified) and its dosing;
- an ArtifactAssessment per recommendation: the grades the graph states (strength, direction,
  certainty of the body of evidence, with the HL7 codes it maps them to) and the reconstruction
  confidence; a grade the graph does not state is left out, never filled in;
- an Evidence per reported outcome with a figure (hazard or risk ratio with its interval, the
  arms' values, the population or subgroup);
- a Citation per publication.

R4 (``fhir_version="R4"``, checked with ``fhir.resources.R4B``) gives the PlanDefinitions with the
CPG action extensions for the same grades (strength, direction, quality of evidence), and the
ActivityDefinitions they point at (see ``r4.py``).

Reconstructed content is marked three ways: ``status = draft`` with ``experimental = true`` (both
given by ``fhir-recommendations``, from the evidence status and the review state), a ``meta.tag``
with the graph's evidence status (system: the ontology's IRI, code ``reconstructed``), and the
status's definition in ``usage``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import MyelomaKGError
from ..graph.store import KnowledgeGraph
from ..graph.version import graph_version
from ..namespaces import BASE, MKG, ONTOLOGY_IRI
from . import graphdata
from .graphdata import distinct
from .ids import CPG, FHIR_BASE, NCIT, RXNORM, URI, concept, fhir_id, fhir_name, grade_codings, local_name

FHIR_VERSIONS = ("R5", "R4")
PLAN_TYPE = "http://terminology.hl7.org/CodeSystem/plan-definition-type"
STATISTIC = "http://terminology.hl7.org/CodeSystem/statistic-type"
ESTIMATE = "http://terminology.hl7.org/CodeSystem/attribute-estimate-type"
ROLE = "http://terminology.hl7.org/CodeSystem/variable-role"
RESOURCE_ORDER = ("PlanDefinition", "ActivityDefinition", "ArtifactAssessment", "Evidence", "Citation")


@dataclass
class Export:
    """A built export: the Bundle, and how long each step took (seconds)."""

    bundle: dict[str, Any]
    fhir_version: str
    timings: dict[str, float] = field(default_factory=dict)

    def resources(self, resource_type: str | None = None) -> list[dict[str, Any]]:
        return [e["resource"] for e in self.bundle["entry"]
                if resource_type is None or e["resource"]["resourceType"] == resource_type]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for resource in self.resources():
            out[resource["resourceType"]] = out.get(resource["resourceType"], 0) + 1
        return out


CONTENT_HASH_SYSTEM = BASE + "content-hash"


def build(kg: KnowledgeGraph, queries_dir, fhir_version: str = "R5") -> Export:
    """The Bundle of the graph in ``fhir_version`` (``R5`` or ``R4``)."""
    if fhir_version not in FHIR_VERSIONS:
        raise MyelomaKGError(f"FHIR version {fhir_version!r} is not exported; choose R5 or R4")
    started = time.perf_counter()
    data = graphdata.read(kg, queries_dir)
    timings = {"queries": time.perf_counter() - started}
    started = time.perf_counter()
    version = data.version["versionInfo"]
    content_hash = graph_version(kg).content_hash  # the graph's files, so an export can be pinned
    context = _Context(version=version, publisher=data.version.get("creator") or "myeloma-kg")
    plans = [plan_definition(rec, data.parts.get(rec["rec"], []), context) for rec in data.recommendations]
    activities = [activity_definition(iri, rows, data.dosing.get(iri, []), context)
                  for iri, rows in sorted(data.regimens.items())]
    if fhir_version == "R4":
        from .r4 import activity_definition_r4, plan_definition_r4

        by_rec = {rec["rec"]: rec for rec in data.recommendations}
        resources = [plan_definition_r4(p, by_rec[p["url"]]) for p in plans]
        resources += [activity_definition_r4(a) for a in activities]
    else:
        resources = plans + activities
        resources += [artifact_assessment(rec, context) for rec in data.recommendations]
        resources += [evidence(iri, rows, context) for iri, rows in sorted(data.outcomes.items())]
        resources += [citation(row, context) for row in data.publications]
    timings["resources"] = time.perf_counter() - started
    bundle = {
        "resourceType": "Bundle",
        "id": fhir_id(f"myeloma-kg-{version}-{fhir_version}"),
        "meta": {"tag": [{"system": ONTOLOGY_IRI, "code": "fhir-" + fhir_version,
                          "display": f"myeloma-kg {version} as FHIR {fhir_version}"}]
                 + ([{"system": CONTENT_HASH_SYSTEM, "code": content_hash,
                      "display": "SHA-256 of the graph's content files"}] if content_hash else [])},
        "identifier": {"system": URI, "value": f"{data.version.get('versionIRI') or data.version['ontology']}/fhir/{fhir_version}"},
        "type": "collection",
        "entry": [{"fullUrl": f"{FHIR_BASE}/{r['resourceType']}/{r['id']}", "resource": r} for r in resources],
    }
    return Export(bundle=bundle, fhir_version=fhir_version, timings=timings)


@dataclass(frozen=True)
class _Context:
    version: str
    publisher: str


def _tag(notation: str | None, label: str | None = None) -> dict[str, Any]:
    """``meta`` with the graph's evidence status of the resource as a tag."""
    if not notation:
        return {}
    return {"meta": {"tag": [{"system": ONTOLOGY_IRI, "code": notation, "display": label or notation}]}}


def _clean(value: Any) -> Any:
    """Drop empty values (FHIR JSON forbids empty strings, lists and objects)."""
    if isinstance(value, dict):
        out = {k: _clean(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        out = [_clean(v) for v in value]
        return [v for v in out if v not in (None, "", [], {})]
    return value


def _codeable(coding: dict | None, text: str | None = None) -> dict | None:
    out = {"coding": [coding] if coding else [], "text": text}
    return _clean(out) or None


def _number(value: Any) -> int | float:
    """A figure as FHIR JSON wants it (a decimal, with whole numbers kept whole)."""
    number = float(value)
    return int(number) if number.is_integer() and abs(number) < 1e15 else number


# -- PlanDefinition -------------------------------------------------------------------------

def plan_definition(rec: dict[str, Any], parts: list[dict[str, Any]], context: _Context) -> dict[str, Any]:
    by_part: dict[str, list[dict[str, Any]]] = {}
    for row in parts:
        by_part.setdefault(row["part"], []).append(row)
    conditions = [_condition(row) for row in distinct(by_part.get("criterion", []), "item", "label", "text")]
    actions = []
    regimens = distinct(by_part.get("regimen", []), "item", "label", "flag")
    if regimens:
        actions.append({
            "id": "regimens",
            "title": "Regimens",
            "description": "Regimens this recommendation supports when its conditions hold"
                           + ("; preferred ones are marked." if any(r["flag"] for r in regimens) else "."),
            "condition": conditions,
            "selectionBehavior": "at-most-one",
            "action": [_regimen_action(r, by_part.get("regimen", [])) for r in regimens],
        })
    steps = distinct(by_part.get("action", []), "item", "label", "text")
    if steps:
        actions.append({
            "id": "supportive-care",
            "title": "Supportive care and other actions",
            "condition": conditions,
            "selectionBehavior": "all",
            "action": [_care_action(s, by_part["action"]) for s in steps],
        })
    cautions = distinct(by_part.get("caution", []), "item", "label", "text")
    if cautions:
        actions.append({
            "id": "cautions",
            "title": "Cautions",
            "description": "Points to weigh when following this recommendation.",
            "selectionBehavior": "all",
            "action": [{"id": fhir_id(c["item"]), "title": c["label"], "description": c["text"],
                        "code": _codeable(concept(str(MKG.Caution), "caution"))} for c in cautions],
        })
    if not actions:  # the CPG profile wants at least one action
        actions.append({"id": "recommendation", "title": rec["label"], "description": rec["statement"],
                        "condition": conditions})
    related = [{"type": "justification", "resourceReference": {"reference": f"ArtifactAssessment/{fhir_id(rec['rec'], '-rating')}"},
                "display": "grading and reconstruction confidence of this recommendation"}]
    for ev in distinct(by_part.get("evidence", []), "item", "label", "code", "text"):
        if ev["code"] == "outcome":
            related.append({"type": "justification", "display": ev["label"], "resource": ev["item"]})
        else:
            link = {"type": "justification", "display": ev["label"]}
            if ev["text"]:
                link["document"] = {"url": f"https://clinicaltrials.gov/study/{ev['text']}", "title": ev["label"]}
            else:
                link["document"] = {"url": ev["item"], "title": ev["label"]}
            related.append(link)
    for pub in distinct(by_part.get("derivedFrom", []), "item", "label"):
        related.append({"type": "derived-from", "display": pub["label"], "resource": pub["item"]})
    usage = " ".join(t for t in (
        f"Evidence status: {rec['statusLabel']}." if rec.get("statusLabel") else "",
        rec.get("statusDefinition") or "",
        f"Strength: {rec['strengthLabel']}." if rec.get("strengthLabel") else "",
        f"Direction: {rec['directionLabel']}." if rec.get("directionLabel") else "",
        f"Certainty of the evidence: {rec['certaintyLabel']}." if rec.get("certaintyLabel") else "",
        f"Reconstruction confidence: {rec['confidenceLabel']} ({rec['confidenceNote']})" if rec.get("confidenceLabel") else "",
    ) if t)
    return _clean({
        "resourceType": "PlanDefinition",
        "id": fhir_id(rec["rec"]),
        "extension": [{"url": CPG + "cpg-knowledgeCapability", "valueCode": "shareable"}],
        "url": rec["rec"],
        "identifier": [{"system": URI, "value": rec["rec"]}],
        "version": context.version,
        "name": fhir_name(rec["identifier"]),
        "title": rec["label"],
        "subtitle": rec.get("lineContextLabel"),
        "type": {"coding": [{"system": PLAN_TYPE, "code": "eca-rule", "display": "ECA Rule"}]},
        "status": rec["fhirStatus"],
        "experimental": rec["experimental"],
        "publisher": context.publisher,
        "description": rec["statement"],
        "usage": usage,
        "approvalDate": (rec.get("approvalDate") or "")[:10] or None,  # FHIR date: the day of the approval step
        "lastReviewDate": (rec.get("lastReviewDate") or "")[:10] or None,
        "reviewer": [{"name": name} for name in sorted(set((rec.get("reviewers") or "").split("|"))) if name],
        "topic": [_codeable(concept(t["item"], t["label"])) for t in distinct(by_part.get("topic", []), "item", "label")],
        "relatedArtifact": related,
        "action": actions,
    }) | {"meta": _plan_meta(rec)}


def _plan_meta(rec: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {"profile": [CPG + "cpg-recommendationdefinition"]}
    if rec.get("statusNotation"):
        meta["tag"] = [{"system": ONTOLOGY_IRI, "code": rec["statusNotation"], "display": rec.get("statusLabel") or rec["statusNotation"]}]
    return meta


def _care_action(step: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A supportive-care action; its kind is the code (the first, when the graph gives several,
    with every kind's label in the text)."""
    kinds = distinct([r for r in rows if r["item"] == step["item"]], "code", "codeLabel")
    code = None
    if kinds:
        code = _codeable(concept(kinds[0]["code"], kinds[0]["codeLabel"]),
                         ", ".join(k["codeLabel"] for k in kinds if k["codeLabel"]))
    return {"id": fhir_id(step["item"]), "title": step["label"], "description": step["text"], "code": code}


def _condition(criterion: dict[str, Any]) -> dict[str, Any]:
    """An applicability condition: the graph's criterion, evaluated by the project's SPARQL rules
    (there is no CQL library yet), named by its IRI."""
    return _clean({"kind": "applicability", "expression": {
        "description": criterion.get("text") or criterion["label"],
        "language": "text/x-myeloma-kg-criterion",
        "expression": criterion["label"],
        "reference": criterion["item"],
    }})


def _regimen_action(regimen: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    own = [r for r in rows if r["item"] == regimen["item"] and r.get("extra")]
    action = {
        "id": fhir_id(regimen["item"]),
        "title": regimen["label"],
        "description": "preferred regimen" if regimen["flag"] else None,
        "code": _codeable(concept(str(MKG.preferredRegimen), "preferred regimen")) if regimen["flag"] else None,
        "definitionCanonical": regimen["item"],
    }
    if own:
        action["textEquivalent"] = own[0]["text"]
        action["condition"] = [{"kind": "applicability", "expression": {
            "description": row["extra"], "language": "text/x-myeloma-kg-criterion", "expression": row["extra"]}}
            for row in distinct(own, "extra")]
    return _clean(action)


# -- ActivityDefinition ---------------------------------------------------------------------

def activity_definition(iri: str, rows: list[dict[str, Any]], dosing: list[dict[str, Any]],
                        context: _Context) -> dict[str, Any]:
    head = rows[0]
    ingredients = []
    for drug in distinct(rows, "drug", "drugLabel"):
        drug_rows = [r for r in rows if r["drug"] == drug["drug"]]
        codings = [{"system": RXNORM, "code": c["rxcui"], "display": drug["drugLabel"]} for c in distinct(drug_rows, "rxcui")]
        codings += [{"system": NCIT, "code": c["ncit"], "display": drug["drugLabel"]} for c in distinct(drug_rows, "ncit")]
        ingredients.append({"item": {"concept": {"coding": codings, "text": drug["drugLabel"]}}, "isActive": True})
    medication_id = "regimen"
    return _clean({
        "resourceType": "ActivityDefinition",
        "id": fhir_id(iri),
        "meta": {"profile": [CPG + "cpg-medicationrequestactivity"]},
        "contained": [{"resourceType": "Medication", "id": medication_id,
                       "code": {"coding": [concept(iri, head["label"])], "text": head.get("fullName") or head["label"]},
                       "ingredient": ingredients}],
        "url": iri,
        "identifier": [{"system": URI, "value": iri}],
        "version": context.version,
        "name": fhir_name(local_name(iri)),
        "title": head["label"],
        "status": "active",
        "publisher": context.publisher,
        "description": head.get("definition"),
        "kind": "MedicationRequest",
        "intent": "proposal",
        "doNotPerform": False,
        "code": _codeable(concept(iri, head["label"]), head.get("fullName")),
        "productReference": {"reference": f"#{medication_id}", "display": head["label"]},
        "dosage": list(_dosages(dosing)),
    })


def _dosages(rows: list[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    """One Dosage per phase of each schedule (the schedule itself when it has no phases)."""
    for schedule in distinct(rows, "schedule", "scheduleLabel", "drugLabel", "routeLabel", "routeNotation",
                             "route", "dose", "doseUnit", "cycleLengthDays", "note", "status"):
        phases = distinct([r for r in rows if r["schedule"] == schedule["schedule"]], "phase", "phaseLabel", "phaseOrder",
                          "fromCycle", "toCycle", "daysOfCycle", "untilProgression", "frequencyLabel",
                          "timesPer", "period", "periodUnit") or [{}]
        for phase in phases:
            repeat = None
            if phase.get("period"):
                repeat = {"frequency": int(phase["timesPer"]), "period": _number(phase["period"]),
                          "periodUnit": phase["periodUnit"]}
            cycles = ""
            if phase.get("fromCycle"):
                cycles = f"cycles {phase['fromCycle']}-{phase['toCycle']}" if phase.get("toCycle") else f"from cycle {phase['fromCycle']}"
            text = "; ".join(t for t in (
                f"{schedule['drugLabel']}: {phase.get('phaseLabel') or schedule['scheduleLabel']}",
                f"{schedule['cycleLengthDays']}-day cycles" if schedule.get("cycleLengthDays") else "",
                f"days {phase['daysOfCycle']} of the cycle" if phase.get("daysOfCycle") else "",
                "until progression" if phase.get("untilProgression") else "",
            ) if t)
            dosage = {
                "sequence": int(phase["phaseOrder"]) if phase.get("phaseOrder") else None,
                "text": text,
                "patientInstruction": schedule.get("note") if not phase.get("phaseOrder") or phase["phaseOrder"] == 1 else None,
                "additionalInstruction": [{"text": cycles}] if cycles else [],
                "timing": {"repeat": repeat, "code": {"text": phase["frequencyLabel"]} if phase.get("frequencyLabel") else None},
                "route": _codeable(concept(schedule["route"], schedule["routeLabel"]) if schedule.get("route") else None),
                "doseAndRate": [{"doseQuantity": {"value": _number(schedule["dose"]), "unit": schedule["doseUnit"]}}]
                if schedule.get("dose") is not None else [],
            }
            yield _clean(dosage)


# -- ArtifactAssessment ---------------------------------------------------------------------

# The grades of a recommendation row and the words an ArtifactAssessment rating names them by.
GRADES = (("strength", "strength of recommendation"),
          ("direction", "direction of recommendation"),
          ("certainty", "certainty of the body of evidence"))


def artifact_assessment(rec: dict[str, Any], context: _Context) -> dict[str, Any]:
    """The rating of a recommendation: one rating per grade the graph states (strength, direction,
    certainty of the body of evidence, each with the HL7 code the graph maps it to), and the
    reconstruction confidence.  A grade the graph does not state gets no rating."""
    content = [{"informationType": "rating", "type": {"text": kind},
                "classifier": [{"coding": codings, "text": rec.get(key + "Label")}]}
               for key, kind in GRADES if (codings := grade_codings(rec, key))]
    if rec.get("confidence"):
        content.append({"informationType": "rating", "type": {"text": "reconstruction confidence (not a certainty of evidence)"},
                        "classifier": [{"coding": [concept(rec["confidence"], rec.get("confidenceLabel"))]}],
                        "summary": rec.get("confidenceNote")})
    if rec.get("evidenceNote"):
        content.append({"informationType": "comment", "summary": rec["evidenceNote"]})
    return _clean({
        "resourceType": "ArtifactAssessment",
        "id": fhir_id(rec["rec"], "-rating"),
        **_tag(rec.get("statusNotation"), rec.get("statusLabel")),
        "identifier": [{"system": URI, "value": rec["rec"] + "#rating"}],
        "title": f"Rating of {rec['identifier']}",
        "artifactCanonical": f"{rec['rec']}|{context.version}",
        "content": content,
    })


# -- Evidence -------------------------------------------------------------------------------

def _role(code: str) -> dict[str, Any]:
    return {"coding": [{"system": ROLE, "code": code}]}


def evidence(iri: str, rows: list[dict[str, Any]], context: _Context) -> dict[str, Any]:
    head = rows[0]
    trials = distinct(rows, "trial", "trialLabel", "nctId", "population")
    experimental = distinct(rows, "experimentalArm", "experimentalLabel")
    comparators = distinct(rows, "comparatorArm", "comparatorLabel")
    groups = [g["groupLabel"] for g in distinct(rows, "group", "groupLabel")]
    exp_names = " + ".join(a["experimentalLabel"] for a in experimental)
    cmp_names = " or ".join(a["comparatorLabel"] for a in comparators)
    unit = head.get("unitLabel")
    statistics = []
    for key, code, display in (("hazardRatio", "C93150", "Hazard Ratio"), ("riskRatio", "C93152", "Relative Risk")):
        if head.get(key) is None:
            continue
        interval = ""
        if head.get("ciLower") is not None:
            level = f"{_number(head['ciLevel']) * 100:g}% " if head.get("ciLevel") is not None else ""
            interval = f" ({level}CI {head['ciLower']}-{head['ciUpper']})"
        statistic = {"statisticType": {"coding": [{"system": STATISTIC, "code": code, "display": display}]},
                     "quantity": {"value": _number(head[key])},
                     "description": f"{display} {head[key]}{interval}, {exp_names or 'the experimental arm'}"
                                    + (f" vs {cmp_names}" if cmp_names else "")}
        if head.get("ciLower") is not None:
            estimate = {"type": {"coding": [{"system": ESTIMATE, "code": "C53324", "display": "Confidence interval"}]},
                        "range": {"low": {"value": _number(head["ciLower"])}, "high": {"value": _number(head["ciUpper"])}}}
            if head.get("ciLevel") is not None:
                estimate["level"] = _number(head["ciLevel"])
            statistic["attributeEstimate"] = [estimate]
        if head.get("pValue") is not None:
            statistic["note"] = [{"text": f"p = {head['pValue']}"}]
        statistics.append(statistic)
    for key, size, arms, role in (("experimentalValue", "experimentalArmSize", exp_names, "experimental arm"),
                                  ("comparatorValue", "comparatorArmSize", cmp_names, "comparator arm")):
        if head.get(key) is None:
            continue
        statistic = {"description": f"{role}" + (f" ({arms})" if arms else "") + f": {head[key]}" + (f" {unit}" if unit else ""),
                     "quantity": {"value": _number(head[key]), "unit": unit},
                     "sampleSize": {"numberOfParticipants": int(head[size])} if head.get(size) is not None else None}
        statistics.append(statistic)
    population = " / ".join(groups) if groups else "; ".join(t["population"] for t in trials if t.get("population"))
    variables = [{"variableRole": _role("population"),
                  "description": ("Subgroup: " if groups else "") + (population or "the trial population")}]
    variables += [{"variableRole": _role("exposure"), "description": a["experimentalLabel"]} for a in experimental]
    variables += [{"variableRole": _role("referenceExposure"), "description": a["comparatorLabel"]} for a in comparators]
    if head.get("endpointLabel"):
        variables.append({"variableRole": _role("measuredVariable"), "description": head["endpointLabel"]})
    related = []
    if head.get("source"):
        related.append({"type": "cite-as", "resource": head["source"],
                        "document": {"url": f"https://doi.org/{head['sourceDoi']}"} if head.get("sourceDoi") else None})
    for trial in trials:
        if trial.get("nctId"):
            related.append({"type": "derived-from", "label": trial["trialLabel"],
                            "document": {"url": f"https://clinicaltrials.gov/study/{trial['nctId']}", "title": trial["trialLabel"]}})
    description = "; ".join(s["description"] for s in statistics)
    details = [t for t in (head.get("analysisLabel"), f"follow-up {head['followUpMonths']} months" if head.get("followUpMonths") else "",
                           f"at {head['timepointMonths']} months" if head.get("timepointMonths") else "",
                           "experimental arm median not reached" if head.get("experimentalNotReached") else "") if t]
    return _clean({
        "resourceType": "Evidence",
        "id": fhir_id(iri),
        **_tag(head.get("status")),
        "url": iri,
        "identifier": [{"system": URI, "value": iri}],
        "version": context.version,
        "name": fhir_name(local_name(iri).replace("-", "_")),
        "title": head["label"],
        "status": head["fhirStatus"],
        "publisher": context.publisher,
        "description": description + (f" [{'; '.join(details)}]" if details else ""),
        "note": [{"text": head["note"]}] if head.get("note") else [],
        "relatedArtifact": related,
        "variableDefinition": variables,
        "statistic": statistics,
    })


# -- Citation -------------------------------------------------------------------------------

def citation(row: dict[str, Any], context: _Context) -> dict[str, Any]:
    identifiers = []
    if row.get("doi"):
        identifiers.append({"system": "https://doi.org", "value": row["doi"]})
    if row.get("pmid"):
        identifiers.append({"system": "https://pubmed.ncbi.nlm.nih.gov", "value": row["pmid"]})
    if row.get("pmcid"):
        identifiers.append({"system": "https://www.ncbi.nlm.nih.gov/pmc", "value": row["pmcid"]})
    form = {
        "publishedIn": {"title": row.get("journal")} if row.get("journal") else None,
        "volume": row.get("volume"),
        "issue": row.get("issue"),
        "publicationDateText": str(row["year"]) if row.get("year") else None,
        "pageString": row.get("pages"),
    }
    web = [{"url": f"https://doi.org/{row['doi']}"}] if row.get("doi") else []
    if row.get("pmid"):
        web.append({"url": f"https://pubmed.ncbi.nlm.nih.gov/{row['pmid']}/"})
    return _clean({
        "resourceType": "Citation",
        "id": fhir_id(row["publication"]),
        **_tag(row.get("status")),
        "url": row["publication"],
        "identifier": [{"system": URI, "value": row["publication"]}],
        "version": context.version,
        "title": row["label"],
        "status": row["fhirStatus"],
        "publisher": context.publisher,
        "summary": [{"text": row["citation"]}] if row.get("citation") else [],
        "citedArtifact": {
            "identifier": identifiers,
            "title": [{"text": row.get("title") or row["label"]}],
            "publicationForm": [_clean(form)] if _clean(form) else [],
            "webLocation": web,
        },
    })
