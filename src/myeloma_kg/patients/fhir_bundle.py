"""Patient records from FHIR R4 Bundles of mCODE-style resources.

The bundle is read with the ``fhir.resources.R4B`` models (mCODE and CDS Hooks are R4), so a
resource that is not valid FHIR is refused with its name and the element at fault.  The valid
bundle becomes the project's plain-JSON record (contract section 5) by the table in
``mapping.json`` (codes, and the rule that derives lines of therapy), and that record goes through
``patients.from_json`` and the same SHACL shapes as any other.  The record remembers which FHIR
resource each of its parts came from, so the shapes' messages name the resource
("MedicationStatement/ms-3: ...").  What the bundle does not say is left out, so the shapes and
rules report it as unknown; nothing is filled in.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import quote

from ..namespaces import PATIENT
from .records import PatientRecord, UnreadableRecord, Vocabulary, from_json

FHIR_JSON = "application/fhir+json"


@functools.cache
def mapping() -> dict[str, Any]:
    """The FHIR-to-record table (``mapping.json`` beside this module)."""
    return json.loads(resources.files(__package__).joinpath("mapping.json").read_text(encoding="utf-8"))


def is_bundle(data: Any) -> bool:
    return isinstance(data, dict) and data.get("resourceType") == "Bundle"


# -- reading and checking the bundle ------------------------------------------------------------

def resources_of(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """The bundle's resources, each checked against its FHIR R4B model; ``UnreadableRecord`` names
    the first one that is not valid FHIR.  Nested search-set bundles (CDS Hooks prefetch) are
    opened."""
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    entries = bundle.get("entry")
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise UnreadableRecord("the FHIR Bundle's 'entry' must be a list")
    found: list[dict[str, Any]] = []
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise UnreadableRecord(f"entry {index + 1} of the FHIR Bundle has no resource with a resourceType")
        kind = resource["resourceType"]
        name = f"{kind}/{resource.get('id', '?')}"
        if kind == "Bundle":
            found += resources_of(resource)
            continue
        try:
            model = get_fhir_model_class(kind)
        except (KeyError, ValueError):
            raise UnreadableRecord(f"{name}: '{kind}' is not a FHIR R4 resource type") from None
        try:
            model.model_validate(resource)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()) if p != "__root__") or kind
            raise UnreadableRecord(f"{name}: not valid FHIR R4 at {where}: {first.get('msg')}") from None
        except (TypeError, ValueError) as exc:  # the models raise these for some shapes
            raise UnreadableRecord(f"{name}: not valid FHIR R4: {str(exc).splitlines()[0]}") from None
        if isinstance(entry.get("fullUrl"), str) and entry["fullUrl"]:
            resource = {**resource, "_fullUrl": entry["fullUrl"]}
        found.append(resource)
    return found


def validate_bundle(data: Any) -> None:
    """Refuse what is not a FHIR Bundle at all (the checks of its resources are ``resources_of``)."""
    if not is_bundle(data):
        raise UnreadableRecord("a FHIR patient record is a Bundle (resourceType 'Bundle')")


# -- small readers of FHIR values ----------------------------------------------------------------

def _system(alias: str) -> str:
    return mapping()["systems"].get(alias, alias)


def _codings(concept: Any) -> list[dict[str, Any]]:
    if not isinstance(concept, dict):
        return []
    return [c for c in concept.get("coding") or [] if isinstance(c, dict)]


def _matches(concept: Any, codes: list[dict[str, Any]]) -> bool:
    wanted = {(_system(c["system"]), c["code"]) for c in codes}
    return any((c.get("system"), c.get("code")) in wanted for c in _codings(concept))


def _date(value: Any) -> str | None:
    """The date part of a FHIR date or dateTime (a partial date is kept as written)."""
    if not isinstance(value, str) or not value:
        return None
    return value[:10]


def _period(resource: dict[str, Any], paths: list[str]) -> tuple[str | None, str | None, bool]:
    """(start, end, dated) from the first of ``paths`` that the resource has."""
    for path in paths:
        value: Any = resource
        for step in path.split("."):
            if isinstance(value, list):
                value = value[0] if value else None
            value = value.get(step) if isinstance(value, dict) else None
        if isinstance(value, dict) and (value.get("start") or value.get("end")):
            return _date(value.get("start")), _date(value.get("end")), True
        if isinstance(value, str):
            return _date(value), _date(value), True
    return None, None, False


def _effective(resource: dict[str, Any]) -> str | None:
    return _date(resource.get("effectiveDateTime")) or _date((resource.get("effectivePeriod") or {}).get("start")) \
        or _date(resource.get("issued"))


def _words(concept: Any) -> list[str]:
    """What a CodeableConcept may stand for: codes of the record system, displays, the text."""
    words = [c["code"] for c in _codings(concept) if c.get("system") == _system("record") and c.get("code")]
    words += [c["display"] for c in _codings(concept) if c.get("display")]
    if isinstance(concept, dict) and concept.get("text"):
        words.append(concept["text"])
    return words


def _pick_word(vocabulary: Vocabulary, kind: str, words: list[str]) -> str | None:
    """The first word the graph knows as a term of ``kind``, else the first word as written."""
    for word in words:
        if vocabulary.lookup(kind, word):
            return word
    return words[0] if words else None


def _age(birth: Any, as_of: dt.date) -> int | None:
    """Whole years at ``as_of``; for a partial birth date only when every day it allows agrees."""
    if not isinstance(birth, str):
        return None
    parts = birth[:10].split("-")
    try:
        year = int(parts[0])
        months = [int(parts[1])] if len(parts) > 1 else list(range(1, 13))
        if len(parts) > 2:
            days = {months[0]: [int(parts[2])]}
        else:
            days = {m: [1, calendar.monthrange(year, m)[1]] for m in months}
        ages = {as_of.year - year - ((as_of.month, as_of.day) < (m, d)) for m in months for d in days[m]}
    except (ValueError, IndexError):
        return None
    return ages.pop() if len(ages) == 1 else None


# -- the conversion -----------------------------------------------------------------------------

@dataclass
class Exposure:
    ref: str
    drug: Any  # the word or code the record will carry
    key: str  # the drug's IRI, or the word when the graph does not know it
    start: str | None
    end: str | None
    dated: bool
    stop: str | None = None


@dataclass
class Line:
    exposures: list[Exposure] = field(default_factory=list)
    ref: str | None = None  # the CarePlan, for explicit lines
    number: int | None = None
    start: str | None = None
    end: str | None = None
    stop: str | None = None
    progression: str | None = None
    response: str | None = None
    events_from: list[str] = field(default_factory=list)


class _Bundle:
    def __init__(self, found: list[dict[str, Any]], vocabulary: Vocabulary, as_of: dt.date) -> None:
        self.vocabulary = vocabulary
        self.as_of = as_of
        self.table = mapping()
        self.by_ref: dict[str, dict[str, Any]] = {}
        for resource in found:
            ref = f"{resource['resourceType']}/{resource.get('id', '?')}"
            self.by_ref[ref] = resource
            if resource.get("_fullUrl"):
                self.by_ref[resource["_fullUrl"]] = resource
        self.resources = found
        self.notes: list[tuple[str, str]] = []
        self.origins: dict[str, str] = {}

    @staticmethod
    def ref(resource: dict[str, Any]) -> str:
        return f"{resource['resourceType']}/{resource.get('id', '?')}"

    def of_type(self, *kinds: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["resourceType"] in kinds]

    def resolve(self, reference: Any) -> dict[str, Any] | None:
        if isinstance(reference, dict):
            reference = reference.get("reference")
        return self.by_ref.get(reference) if isinstance(reference, str) else None

    # -- medications

    def exposure(self, resource: dict[str, Any]) -> Exposure | None:
        kind = resource["resourceType"]
        meds = self.table["medications"]
        if resource.get("status") in meds["skipStatuses"].get(kind, []):
            return None
        if kind == "MedicationRequest" and resource.get("intent") not in meds["requestIntentsGiven"]:
            return None
        concept = resource.get("medicationCodeableConcept")
        if concept is None and resource.get("medicationReference"):
            medication = self.resolve(resource["medicationReference"])
            concept = medication.get("code") if medication else None
        ref = self.ref(resource)
        drug, key = self.drug(concept)
        if drug is None:
            self.notes.append(("violation", f"{ref}: the medication is not named (no coding and no text), so the drug is unknown."))
            return None
        start, end, dated = _period(resource, meds["dates"][kind])
        return Exposure(ref, drug, key, start, end, dated, self.stop_reason(resource))

    def drug(self, concept: Any) -> tuple[Any, str]:
        systems = {_system(s) for s in self.table["medications"]["drugCodeSystems"]}
        codings = _codings(concept)
        for coding in codings:
            if coding.get("system") in systems and coding.get("code"):
                iri = self.vocabulary.lookup("drug", coding["code"])
                if iri:
                    display = coding.get("display")
                    shown = display if display and self.vocabulary.lookup("drug", display) == iri else coding["code"]
                    return shown, iri
        names = [c["display"] for c in codings if c.get("display")]
        if isinstance(concept, dict) and concept.get("text"):
            names.append(concept["text"])
        for name in names:
            iri = self.vocabulary.lookup("drug", name)
            if iri:
                return name, iri
        if names:
            return names[0], names[0]
        coded = next((c for c in codings if c.get("code")), None)
        if coded is None:
            return None, ""
        # a code the graph does not know is named with its system, so it is never read as an RXCUI
        if coded.get("system") == _system("rxnorm"):
            written = f"RxNorm code {coded['code']}"
        else:
            written = f"{coded.get('system') or 'no system'}|{coded['code']}"
        return written, written

    def stop_reason(self, resource: dict[str, Any]) -> str | None:
        concepts = list(resource.get("statusReason") or []) if isinstance(resource.get("statusReason"), list) \
            else [resource.get("statusReason")] if resource.get("statusReason") else []
        urls = set(self.table["medications"]["stopReasons"]["extensions"]) | {self.table["lines"]["explicit"]["stopReasonExtension"]}
        for ext in resource.get("extension") or []:
            if ext.get("url") in urls:
                concepts.append(ext.get("valueCodeableConcept") or {"text": ext.get("valueCode") or ext.get("valueString")})
        words = [w for c in concepts for w in _words(c) + [x.get("code") for x in _codings(c) if x.get("code")]]
        return _pick_word(self.vocabulary, "stopReason", [w for w in words if w])

    # -- observations

    def observations(self, rule: dict[str, Any]) -> list[dict[str, Any]]:
        skip = set(self.table["skipObservationStatuses"])
        return [o for o in self.of_type("Observation")
                if o.get("status") not in skip and _matches(o.get("code"), rule["codes"])]

    def latest(self, rule: dict[str, Any]) -> dict[str, Any] | None:
        found = self.observations(rule)
        dated = [o for o in found if _effective(o)]
        usable = [o for o in dated if _effective(o) <= self.as_of.isoformat()]
        if usable:
            return max(usable, key=_effective)
        if dated:  # only observations after the as-of date: not known at that date
            return None
        return found[-1] if found else None

    def value(self, rule: dict[str, Any], obs: dict[str, Any]) -> Any:
        kind = rule["value"]
        if kind == "integer":
            if "valueInteger" in obs:
                return obs["valueInteger"]
            quantity = obs.get("valueQuantity") or {}
            if isinstance(quantity.get("value"), (int, float)) and float(quantity["value"]).is_integer():
                return int(quantity["value"])
            answers = rule.get("answerCodes", {})
            for coding in _codings(obs.get("valueCodeableConcept")):
                if coding.get("code") in answers:
                    return answers[coding["code"]]
            return _show_value(obs)
        if kind == "quantity":
            quantity = obs.get("valueQuantity") or {}
            if isinstance(quantity.get("value"), (int, float)) and (
                    quantity.get("unit") in rule["unit"] or quantity.get("code") in rule["unit"]):
                return quantity["value"]
            return _show_value(obs)
        if kind == "boolean":
            return obs["valueBoolean"] if "valueBoolean" in obs else _show_value(obs)
        if kind == "word":
            return _pick_word(self.vocabulary, _VOCAB_KIND.get(rule["field"], rule["field"]),
                              _words(obs.get("valueCodeableConcept")) + ([obs["valueString"]] if obs.get("valueString") else []))
        return None

    def field_rule(self, name: str) -> dict[str, Any]:
        return next(r for r in self.table["observations"] if r["field"] == name)

    # -- the record

    def record(self) -> tuple[dict[str, Any], dict[str, str]]:
        patients = self.of_type("Patient")
        if len(patients) != 1:
            raise UnreadableRecord(f"a FHIR patient record holds exactly one Patient resource (found {len(patients)})")
        patient = patients[0]
        self.same_patient(patient)
        pid = str(patient.get("id") or "")
        record: dict[str, Any] = {"id": pid} if pid else {}
        origin = {"age": self.ref(patient), "patientId": self.ref(patient)}
        age = _age(patient.get("birthDate"), self.as_of)
        if age is not None:
            record["age"] = age
        elif patient.get("birthDate"):
            self.notes.append(("warning", f"{self.ref(patient)}: the birth date {patient['birthDate']} does not fix the age on "
                                          f"{self.as_of.isoformat()}, so the age is unknown."))
        self.condition()
        for rule in self.table["observations"]:
            name = rule["field"]
            if rule["pick"] != "latest":
                continue
            obs = self.latest(rule)
            if obs is None:
                continue
            value = self.value(rule, obs)
            if value is None:
                continue
            if name.startswith("imwgFrailty."):
                record.setdefault("imwgFrailty", {})[name.split(".", 1)[1]] = value
            else:
                record[name] = value
            origin[_FIELD.get(name, name)] = self.ref(obs)
        cyto = self.cytogenetics(record, origin)
        if cyto is not None:
            record["cytogenetics"] = cyto
        lines = self.lines()
        record["therapyLines"] = [self.line_json(line, n) for n, line in enumerate(lines, start=1)]
        iri = str(PATIENT) + quote(pid or "unidentified", safe="")
        origins = {f"{iri}|{name}": ref for name, ref in origin.items()}
        for n, line in enumerate(lines, start=1):
            node = f"{iri}/line/{n}"
            origins[node] = line.ref or ("line derived from " + ", ".join(e.ref for e in line.exposures))
            for d, group in enumerate(self.grouped(line), start=1):
                origins[f"{node}/drug/{d}"] = ", ".join(e.ref for e in group)
        return record, origins

    def same_patient(self, patient: dict[str, Any]) -> None:
        """Every resource that names its patient must name this one (data of two patients never mix)."""
        own = {self.ref(patient), patient.get("_fullUrl")}
        for resource in self.resources:
            subject = resource.get("subject") or resource.get("patient")
            reference = subject.get("reference") if isinstance(subject, dict) else None
            if isinstance(reference, str) and reference not in own and (
                    reference.startswith("Patient/") or reference.startswith("urn:") or "/Patient/" in reference):
                self.notes.append(("violation", f"{self.ref(resource)}: it is about {reference}, not {self.ref(patient)}: "
                                                "a record must hold one patient's data only."))

    def condition(self) -> None:
        codes = self.table["condition"]["codes"]
        conditions = [c for c in self.of_type("Condition") if _matches(c.get("code"), codes)]
        if not conditions:
            self.notes.append(("warning", "No Condition of multiple myeloma (SNOMED CT 109989006, ICD-10 C90.0) in the "
                                          "bundle: the guideline's recommendations are for relapsed multiple myeloma only."))

    def cytogenetics(self, record: dict[str, Any], origin: dict[str, str]) -> list[str] | None:
        rule = self.field_rule("cytogenetics")
        found = [o for o in self.observations(rule) if (_effective(o) or "") <= self.as_of.isoformat()]
        if not found:
            return None
        findings: list[str] = []
        for obs in found:
            concept = obs.get("valueCodeableConcept")
            if _matches(concept, rule["noFinding"]):
                continue
            word = _pick_word(self.vocabulary, "cytogenetics",
                              _words(concept) + ([obs["valueString"]] if obs.get("valueString") else []))
            if word is None:
                self.notes.append(("violation", f"{self.ref(obs)}: the cytogenetic observation has no value, so it "
                                                "cannot be read as a finding."))
                continue
            if word not in findings:
                findings.append(word)
        origin["hasFinding"] = ", ".join(self.ref(o) for o in found)
        return findings

    # -- lines of therapy

    def lines(self) -> list[Line]:
        exposures = [e for r in self.of_type(*self.table["medications"]["resourceTypes"]) if (e := self.exposure(r))]
        explicit = self.table["lines"]["explicit"]
        plans = [p for p in self.of_type("CarePlan") if _matches({"coding": [c for cat in p.get("category") or []
                                                                          for c in _codings(cat)]}, [explicit["category"]])]
        lines = self.explicit_lines(plans, exposures) if plans else self.derived_lines(exposures)
        self.attach_events(lines, bool(plans))
        return lines

    def explicit_lines(self, plans: list[dict[str, Any]], exposures: list[Exposure]) -> list[Line]:
        by_ref = {e.ref: e for e in exposures}
        placed: set[str] = set()
        lines: list[Line] = []
        url = self.table["lines"]["explicit"]["lineNumberExtension"]
        for plan in plans:
            line = Line(ref=self.ref(plan))
            start, end, _ = _period(plan, ["period"])
            line.start, line.end = start, end
            line.stop = self.stop_reason(plan)
            number = next((x.get("valueInteger") for x in plan.get("extension") or [] if x.get("url") == url), None)
            line.number = number if isinstance(number, int) else None
            for activity in plan.get("activity") or []:
                refs = [activity.get("reference")] + list(activity.get("outcomeReference") or [])
                for reference in refs:
                    target = self.resolve(reference)
                    if target is None:
                        if reference:
                            self.notes.append(("violation", f"{line.ref}: the activity {reference.get('reference')} is not in the bundle."))
                        continue
                    exposure = by_ref.get(self.ref(target))
                    if exposure is not None and exposure.ref not in placed:
                        placed.add(exposure.ref)
                        line.exposures.append(exposure)
            starts = [e.start for e in line.exposures if e.start]
            if line.start is None and starts:
                line.start = min(starts)
            if line.end is None and line.exposures and all(e.end for e in line.exposures):
                line.end = max(e.end for e in line.exposures)
            lines.append(line)
        for exposure in exposures:
            if exposure.ref not in placed:
                self.notes.append(("violation", f"{exposure.ref}: the lines of therapy are given as CarePlans, but this "
                                                "medication belongs to none of them, so its line is unknown."))
        given = [line.number for line in lines]
        if all(isinstance(n, int) for n in given):
            lines.sort(key=lambda line: line.number)
        else:
            lines.sort(key=lambda line: (line.start or "9999"))
        return lines

    def derived_lines(self, exposures: list[Exposure]) -> list[Line]:
        rule = self.table["lines"]["derived"]
        undated = [e for e in exposures if not e.start]
        for exposure in undated:
            self.notes.append(("violation", f"{exposure.ref}: the medication has no start date, so its line of therapy "
                                            "cannot be derived (give its period, or group the lines in CarePlans)."))
        progressions = sorted(self.events()) if rule["newLineAfterProgression"] else []
        unplanned = set(rule["newLineAfterStopReasons"])
        lines: list[Line] = []
        for exposure in sorted((e for e in exposures if e.start), key=lambda e: e.start):
            current = lines[-1] if lines else None
            if current is not None:
                progressed = any(current.start <= p <= exposure.start for p, _ in progressions)
                switched = exposure.key not in {e.key for e in current.exposures} and any(
                    e.stop in unplanned and e.end and e.end <= exposure.start for e in current.exposures)
                if not (progressed or switched):
                    current.exposures.append(exposure)
                    continue
            lines.append(Line(exposures=[exposure], start=exposure.start))
        for line in lines:
            ends = [e.end for e in line.exposures]
            line.end = max(ends) if all(ends) else None
            stops = {e.stop for e in line.exposures}
            line.stop = stops.pop() if len(stops) == 1 else None  # only when every drug says the same
        return lines

    def events(self) -> list[tuple[str, str]]:
        """(date, resource) of every progression the bundle records."""
        rule = self.field_rule("line.progression")
        return [(d, self.ref(o)) for o in self.observations(rule)
                if _matches(o.get("valueCodeableConcept"), rule["eventValues"]) and (d := _effective(o))]

    def attach_events(self, lines: list[Line], explicit: bool) -> None:
        responses = [(d, self.ref(o), o) for o in self.observations(self.field_rule("line.bestResponse")) if (d := _effective(o))]
        rule = self.field_rule("line.bestResponse")
        progressions = sorted(self.events())
        for index, line in enumerate(lines):
            nxt = lines[index + 1].start if index + 1 < len(lines) else None

            def mine(date: str, resource: dict[str, Any] | None, line=line, nxt=nxt) -> bool:
                focus = [self.resolve(f) for f in (resource or {}).get("focus") or []]
                if explicit and any(f is not None and f.get("resourceType") == "CarePlan" for f in focus):
                    return any(f is not None and self.ref(f) == line.ref for f in focus)
                return bool(line.start) and line.start <= date and (nxt is None or date < nxt)

            for date, ref in progressions:
                if mine(date, self.by_ref.get(ref)):
                    line.progression, line.events_from = date, line.events_from + [ref]
                    break
            own = [(d, ref, o) for d, ref, o in responses if mine(d, o)]
            if own:
                date, ref, obs = max(own, key=lambda t: t[0])
                line.response = self.value(rule, obs)
                line.events_from.append(ref)

    @staticmethod
    def grouped(line: Line) -> list[list[Exposure]]:
        groups: dict[str, list[Exposure]] = {}
        for exposure in line.exposures:
            groups.setdefault(exposure.key, []).append(exposure)
        return list(groups.values())

    def line_json(self, line: Line, number: int) -> dict[str, Any]:
        out: dict[str, Any] = {"line": line.number if line.number is not None else number}
        drugs = []
        for group in self.grouped(line):
            entry: dict[str, Any] = {"drug": group[0].drug}
            starts = [e.start for e in group if e.start]
            ends = [e.end for e in group]
            if starts:
                entry["start"] = min(starts)
            if ends and all(ends):
                entry["end"] = max(ends)
            drugs.append(entry)
        out["drugs"] = drugs
        for key, value in (("start", line.start), ("end", line.end), ("progressionDate", line.progression),
                           ("bestResponse", line.response), ("stopReason", line.stop)):
            if value is not None:
                out[key] = value
        return out


_FIELD = {"frailty": "frailtyCategory", "imwgFrailty.charlson": "charlsonIndex", "imwgFrailty.adl": "adlScore",
          "imwgFrailty.iadl": "iadlScore"}
_VOCAB_KIND = {"frailty": "frailty", "line.bestResponse": "response"}


def _show_value(obs: dict[str, Any]) -> Any:
    """An observation's value as written, for the shapes to report when it is not of the kind expected."""
    for key, value in obs.items():
        if key.startswith("value"):
            if isinstance(value, dict):
                if "value" in value:
                    return f"{value['value']} {value.get('unit') or value.get('code') or ''}".strip()
                return (_words(value) or [json.dumps(value)])[0]
            return value
    return None


def to_record(bundle: dict[str, Any], vocabulary: Vocabulary, *,
              as_of: dt.date | None = None) -> tuple[dict[str, Any], dict[str, str], list[tuple[str, str]]]:
    """The plain-JSON record a bundle stands for, where each of its parts came from, and notes."""
    validate_bundle(bundle)
    reader = _Bundle(resources_of(bundle), vocabulary, as_of or dt.date.today())
    record, origins = reader.record()
    return record, origins, reader.notes


def from_bundle(bundle: dict[str, Any], vocabulary: Vocabulary, *, as_of: dt.date | None = None,
                check: Callable[[dict[str, Any]], None] | None = None) -> PatientRecord:
    """A FHIR Bundle as a patient record, ready for the shapes (``patients.read.read_text`` calls this).
    ``check`` sees the plain-JSON record before it becomes triples (the record's limits)."""
    record, origins, notes = to_record(bundle, vocabulary, as_of=as_of)
    if check is not None:
        check(record)
    result = from_json(record, vocabulary, as_of=as_of)
    result.source = "fhir"
    result.origins = origins
    result.notes = notes
    return result


__all__ = ["FHIR_JSON", "from_bundle", "is_bundle", "mapping", "resources_of", "to_record"]
