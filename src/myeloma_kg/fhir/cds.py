"""A CDS Hooks service (``patient-view``): discovery, the request read into a FHIR bundle, and cards.

The cards are built from the project's own recommendation (``Recommender.recommend``) of the
record the prefetch stands for (``fhir.patient``), so they say what ``/api/recommend`` says:
one card per recommendation that applies, listing its regimens with the reasons and the
cautions; a warning card for what the record leaves unknown; and, when the record cannot be
evaluated, a card that names what is missing.  Nothing here fetches anything: the web layer
(``web/cds.py``) decides whether the FHIR server may be asked for what the prefetch lacks.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any

from ..config import program_version
from ..errors import CdsRequestError
from ..namespaces import BASE, ONTOLOGY_IRI
from ..patients.fhir_bundle import mapping
from ..patients.recommend import availability_text
from ..patients.records import iso_date

SERVICE_ID = "myeloma-kg-anti-cd38"
HOOK = "patient-view"
SUMMARY_MAX = 139  # CDS Hooks: a card's summary has fewer than 140 characters
VERSION = program_version() or "(version unknown)"  # None: a source tree that was never installed
SOURCE_LABEL = f"myeloma-kg {VERSION}: Pan-Pacific MM WG 2025 anti-CD38 consensus (reconstructed)"
GRAPH_VERSION_EXTENSION = "org.w3id.myeloma-kg.graphVersion"  # card extension key (reverse-domain, as CDS Hooks asks)
OVERRIDE_SYSTEM = BASE + "fhir/CodeSystem/override-reason"
OVERRIDE_REASONS = [
    {"system": OVERRIDE_SYSTEM, "code": "patient-preference", "display": "Patient preference"},
    {"system": OVERRIDE_SYSTEM, "code": "data-incorrect", "display": "Record data are wrong or incomplete"},
    {"system": OVERRIDE_SYSTEM, "code": "clinical-judgement", "display": "Clinical judgement differs"},
]


# -- discovery ----------------------------------------------------------------------------------

def prefetch_template() -> dict[str, str]:
    """The FHIR queries the service wants filled in, built from the codes of ``mapping.json``."""
    table = mapping()
    systems = table["systems"]
    codes = sorted({f"{systems.get(c['system'], c['system'])}|{c['code']}"
                    for rule in table["observations"] for c in rule["codes"]})
    category = table["lines"]["explicit"]["category"]
    patient = "{{context.patientId}}"
    return {
        "patient": f"Patient/{patient}",
        "conditions": f"Condition?patient={patient}",
        "administrations": f"MedicationAdministration?patient={patient}",
        "statements": f"MedicationStatement?patient={patient}",
        "requests": f"MedicationRequest?patient={patient}",
        "observations": f"Observation?patient={patient}&code=" + ",".join(codes),
        "carePlans": f"CarePlan?patient={patient}&category={systems[category['system']]}|{category['code']}",
    }


#: Prefetch keys without which the record cannot be built at all (the others may be empty).
REQUIRED_PREFETCH = ("patient",)
MEDICATION_PREFETCH = ("administrations", "statements", "requests")


def discovery() -> dict[str, Any]:
    return {"services": [{
        "hook": HOOK,
        "id": SERVICE_ID,
        "title": "Anti-CD38 therapy at relapse (Pan-Pacific MM WG 2025, reconstructed)",
        "description": ("Which regimens the consensus supports for this patient with relapsed multiple myeloma, "
                        "with the reasons, the cautions and the trials; and what in the record is missing "
                        "for a full assessment."),
        "prefetch": prefetch_template(),
    }]}


# -- the request ----------------------------------------------------------------------------------

def check_request(body: Any, service_id: str) -> dict[str, Any]:
    """The parts of a CDS Hooks call that the service needs, or ``CdsRequestError`` (400/404)."""
    if service_id != SERVICE_ID:
        raise CdsRequestError(404, f"no CDS service '{service_id}' here (the service is '{SERVICE_ID}')")
    if not isinstance(body, dict):
        raise CdsRequestError(400, "a CDS Hooks request is a JSON object with hook, hookInstance and context")
    if body.get("hook") != HOOK:
        raise CdsRequestError(400, f"this service answers the '{HOOK}' hook (got {json.dumps(body.get('hook'))[:60]})")
    instance = body.get("hookInstance")
    if not isinstance(instance, str) or not instance.strip():
        raise CdsRequestError(400, "the request needs a hookInstance (a UUID)")
    context = body.get("context")
    if not isinstance(context, dict) or not isinstance(context.get("patientId"), str) or not context["patientId"]:
        raise CdsRequestError(400, "the request's context needs a patientId")
    prefetch = body.get("prefetch", {})
    if prefetch is None:
        prefetch = {}
    if not isinstance(prefetch, dict):
        raise CdsRequestError(400, "prefetch must be an object of the keys the discovery document lists")
    unknown = sorted(set(prefetch) - set(prefetch_template()))
    if unknown:
        raise CdsRequestError(400, f"unknown prefetch keys: {', '.join(unknown)[:200]}")
    fhir_server = body.get("fhirServer")
    if fhir_server is not None and not isinstance(fhir_server, str):
        raise CdsRequestError(400, "fhirServer must be a URL")
    return {"hookInstance": instance, "patientId": context["patientId"], "prefetch": prefetch,
            "fhirServer": fhir_server, "fhirAuthorization": body.get("fhirAuthorization"),
            "asOf": _context_date(context.get("asOf")), "jurisdiction": _context_jurisdiction(context.get("jurisdiction"))}


def _context_jurisdiction(value: Any) -> str | None:
    """``context.jurisdiction``: the code (JP, US, EU...) whose approvals the cards mark, when given."""
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= 8:
        raise CdsRequestError(400, "context.jurisdiction is the code of a jurisdiction, such as JP or US")
    return value.strip().upper()


def _context_date(value: Any) -> dt.date | None:
    """The date the record is read at, when the hook's context gives one (``context.asOf``,
    YYYY-MM-DD; patient-view itself defines no date, so without it the record is read as of today)."""
    if value is None:
        return None
    found = iso_date(value)
    if found is None:
        raise CdsRequestError(400, "context.asOf is the date the record is read at, written YYYY-MM-DD")
    return found


def missing_prefetch(prefetch: dict[str, Any]) -> list[str]:
    """Keys the service needs that the prefetch does not fill (absent, or null as the EHR's
    'could not fetch')."""
    wanted = list(REQUIRED_PREFETCH)
    if all(prefetch.get(key) is None for key in MEDICATION_PREFETCH):
        wanted += list(MEDICATION_PREFETCH)
    return [key for key in wanted if prefetch.get(key) is None]


def bundle_of(prefetch: dict[str, Any], patient_id: str) -> dict[str, Any]:
    """The prefetch as one collection Bundle of FHIR resources, the shape ``fhir.patient`` reads."""
    entries: list[dict[str, Any]] = []
    for key in prefetch_template():
        value = prefetch.get(key)
        if value is None:
            continue
        if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
            raise CdsRequestError(400, f"prefetch '{key}' is not a FHIR resource")
        if value["resourceType"] == "Bundle":
            entries_of = value.get("entry") or []
            if not isinstance(entries_of, list):
                raise CdsRequestError(400, f"prefetch '{key}' is a Bundle whose 'entry' is not a list")
            for entry in entries_of:
                search = entry.get("search") if isinstance(entry, dict) else None
                if isinstance(search, dict) and search.get("mode") == "outcome":
                    continue  # an OperationOutcome about the search, not data
                entries.append(entry)
        else:
            entries.append({"resource": value})
    patient = prefetch.get("patient")
    if isinstance(patient, dict) and patient.get("resourceType") == "Patient" and patient.get("id") != patient_id:
        raise CdsRequestError(400, f"the prefetched Patient ({str(patient.get('id'))[:64]}) is not the context's patient")
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


# -- the cards -------------------------------------------------------------------------------------

def _card_id(instance: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:myeloma-kg:cds:{instance}:{name}"))


def _local(iri: str) -> str:
    return iri.rstrip("/").rsplit("/", 1)[-1]


# References to FHIR resources that open a message about a record read from FHIR ("Condition/c1: ...",
# "line derived from MedicationStatement/a, MedicationStatement/b: ..."): the detail keeps them.
_ORIGIN = re.compile(r"^(?:line derived from )?[A-Z][A-Za-z]+/[^\s,:]+(?:, [A-Z][A-Za-z]+/[^\s,:]+)*: ")
_CLAUSE_ENDS = ("; ", ": ", ", ", " (", " - ")


def _shorten(text: str, room: int) -> str:
    """``text`` if it fits in ``room`` characters, else its first clause or words that fit, and '…'."""
    if len(text) <= room:
        return text
    cut = text[:room]  # the ellipsis takes the place of the character after the cut
    clause = max(cut.rfind(end) for end in _CLAUSE_ENDS)
    space = cut.rfind(" ")
    end = clause if clause >= room // 2 else space if space > 0 else room - 1
    return text[:end].rstrip(" ,;:(-") + "…"


def _summary(head: str, items: list[str]) -> str:
    """``head`` and as many whole items as fit in fewer than 140 characters, then '+N more'; a
    first item too long to fit is shortened at a clause or word boundary."""
    items = [_ORIGIN.sub("", item) for item in items]
    shown: list[str] = []
    for index, item in enumerate(items):
        rest = len(items) - index - 1
        candidate = head + ", ".join(shown + [item]) + (f" +{rest} more" if rest else "")
        if len(candidate) > SUMMARY_MAX:
            break
        shown.append(item)
    more = len(items) - len(shown)
    tail = f" +{more} more" if more else ""
    if not shown and items:  # the first item alone is too long: its first words
        more = len(items) - 1
        tail = f" +{more} more" if more else ""
        return head + _shorten(items[0], SUMMARY_MAX - len(head) - len(tail)) + tail
    return _shorten(head + ", ".join(shown) + tail, SUMMARY_MAX)


def cards_for(outcome, instance: str, base_url: str, version=None) -> list[dict[str, Any]]:
    """Cards for one recommendation outcome (``recommend.Outcome``): the regimens that apply
    grouped by each recommendation that names them, what the record leaves unknown, or why the
    record cannot be evaluated.  ``version`` (a ``version.GraphVersion``) is the graph that
    answered: every card names it in its source label and carries it whole as an extension, so a
    clinician's system can log which version of the guideline produced the advice."""
    cards = _cards(outcome, instance, base_url)
    if version is not None:
        for card in cards:
            card["source"]["label"] = f"{card['source']['label']} [graph {version.label()}]"
            card["extension"] = {GRAPH_VERSION_EXTENSION: {k: v for k, v in version.as_json().items() if v}}
    return cards


def _cards(outcome, instance: str, base_url: str) -> list[dict[str, Any]]:
    base = base_url.rstrip("/")
    report = outcome.report
    if outcome.recommendation is None:
        problems = [i.message for i in report.issues if i.severity == "violation"]
        return [{
            "uuid": _card_id(instance, "not-evaluated"),
            "summary": _summary("Cannot evaluate the record: ", problems),
            "indicator": "warning",
            "detail": "The record could not be evaluated. What is missing or wrong:\n\n"
                      + "\n".join(f"- {p}" for p in problems),
            "source": {"label": SOURCE_LABEL + " record check"},
        }]
    result = outcome.recommendation
    cards: list[dict[str, Any]] = []
    # One card per group of options: the regimens recommended under the same recommendations, so
    # that no regimen appears on two cards; what all of a group's options share is said once.
    by_rec: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for item in result["recommended"]:
        recs = tuple(dict.fromkeys(item.get("recommendations") or [item["recommendation"]]))
        by_rec.setdefault(recs, []).append(item)
    for recs, items in by_rec.items():
        notations = [_local(rec) for rec in recs]
        status = (items[0].get("evidenceStatus") or "").lower()
        head = f"{', '.join(notations)}{' (reconstructed)' if 'reconstructed' in status else ''}: consider "
        shared_because = [t for t in items[0].get("because") or [] if all(t in (i.get("because") or []) for i in items)]
        shared_cautions = [t for t in items[0].get("cautions") or [] if all(t in (i.get("cautions") or []) for i in items)]
        lines = [f"Recommended under {', '.join(notations)}."]
        if len(items) > 1 and (shared_because or shared_cautions):
            lines.append("For each option below:")
            lines += [f"  - because: {text}" for text in shared_because]
            lines += [f"  - caution: {text}" for text in shared_cautions]
        for item in items:
            lines.append(f"**{item['label']}** ({', '.join(item['components'])})"
                         + (" - rechallenge" if item.get("rechallenge") else ""))
            own = len(items) > 1
            if item.get("preference") and item["preference"] != "not ranked":
                lines.append(f"  - {item['preference']}: {item.get('preferenceBasis') or ''}".rstrip(": "))
            if availability_text(item):
                lines.append(f"  - {availability_text(item)}")
            for text in item.get("because") or []:
                if not own or text not in shared_because:
                    lines.append(f"  - because: {text}")
            for text in item.get("cautions") or []:
                if not own or text not in shared_cautions:
                    lines.append(f"  - caution: {text}")
            trials = [e["name"] + (f" ({e['nctId']})" if e.get("nctId") else "") for e in item.get("evidence") or []]
            if trials:
                lines.append(f"  - evidence: {', '.join(trials)}")
        strength = items[0].get("strength")
        detail = "\n".join(lines) + (f"\n\nStrength: {strength}." if strength else "") + (
            f"\n\nEvidence status: {items[0].get('evidenceStatus')}; the consensus's recommendations are reconstructed "
            "from its abstract, not quoted." if status else "")
        cards.append({
            "uuid": _card_id(instance, "+".join(notations)),
            "summary": _summary(head, [i["label"] for i in items]),
            "indicator": "info",
            "detail": detail,
            "source": {"label": SOURCE_LABEL, "url": f"{base}/recommendation/{notations[0]}",
                       "topic": {"system": ONTOLOGY_IRI, "code": notations[0],
                                 "display": f"recommendation {', '.join(notations)}"}},
            "overrideReasons": OVERRIDE_REASONS,
            "links": [{"label": f"{i['label']}: regimen, dosing and trials", "url": f"{base}/regimen/{_local(i['regimen'])}",
                       "type": "absolute"} for i in items]
                     + [{"label": f"recommendation {n}", "url": f"{base}/recommendation/{n}", "type": "absolute"}
                        for n in notations[1:]],
        })
    if not by_rec:
        cards.append({
            "uuid": _card_id(instance, "none-applies"),
            "summary": "No regimen of the anti-CD38 consensus applies to this patient as recorded",
            "indicator": "info",
            "detail": "\n".join(f"- **{i['label']}**: {'; '.join(i['reasons'][:3])}" for i in result["notRecommended"][:12]),
            "source": {"label": SOURCE_LABEL, "url": f"{base}/"},
        })
    warnings = result.get("warnings") or []
    if warnings:
        cards.append({
            "uuid": _card_id(instance, "unknown"),
            "summary": _summary("Record incomplete: ", warnings),
            "indicator": "warning",
            "detail": "\n".join(f"- {w}" for w in warnings),
            "source": {"label": SOURCE_LABEL + " record check"},
        })
    return cards


def check_feedback(body: Any) -> list[dict[str, Any]]:
    """The feedback items of a CDS Hooks feedback call, or ``CdsRequestError`` (400)."""
    if not isinstance(body, dict) or not isinstance(body.get("feedback"), list) or not body["feedback"]:
        raise CdsRequestError(400, "feedback is a JSON object with a non-empty 'feedback' list")
    items = []
    for index, item in enumerate(body["feedback"][:100], start=1):
        if not isinstance(item, dict) or not isinstance(item.get("card"), str):
            raise CdsRequestError(400, f"feedback item {index} needs the card's uuid ('card')")
        if item.get("outcome") not in ("accepted", "overridden"):
            raise CdsRequestError(400, f"feedback item {index}: outcome must be 'accepted' or 'overridden'")
        if not isinstance(item.get("outcomeTimestamp"), str):
            raise CdsRequestError(400, f"feedback item {index} needs an outcomeTimestamp")
        reason = item.get("overrideReason")
        code = None
        if reason is not None:
            coding = reason.get("reason") if isinstance(reason, dict) else None
            if not isinstance(coding, dict):
                raise CdsRequestError(400, f"feedback item {index}: overrideReason needs a 'reason' Coding")
            code = coding.get("code")
        items.append({"outcome": item["outcome"], "reason": code if isinstance(code, str) else None})
    return items


__all__ = ["CdsRequestError", "SERVICE_ID", "bundle_of", "cards_for", "check_feedback", "check_request",
           "discovery", "missing_prefetch", "prefetch_template"]
