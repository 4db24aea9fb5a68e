"""Patient records in: plain JSON (JSON-LD under the project's context), explicit JSON-LD, or Turtle.

A record becomes a small set of RDF triples about one patient.  Values are carried over as they
are: a wrong type or an unknown word is not fixed here but left for the SHACL shapes to report in
clinical words.  Words (drug names, cytogenetic findings, responses, stop reasons, frailty) are
looked up in the vocabulary the graph itself provides (``queries/patient/vocabulary.rq``), so no
drug name or clinical term is written in this module.
"""

from __future__ import annotations

import datetime as dt
import difflib
import itertools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pyoxigraph as ox

from .._mkg import MKG
from ..config import context_file
from ..errors import UnreadableRecord
from ..namespaces import BASE, DRUG, PATIENT, PREFIXES
from .limits import RecordLimits

RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
RDFS_LABEL = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
XSD = "http://www.w3.org/2001/XMLSchema#"
CONTEXT_FILE = context_file()
CONTEXT_URL = BASE + "context.jsonld"


def m(name: str) -> ox.NamedNode:
    return ox.NamedNode(str(getattr(MKG, name)))


@dataclass
class Vocabulary:
    """Lower-case words to IRIs, by kind (drug, regimen, cytogenetics, response, stopReason, serology, frailty)."""

    words: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: Iterable[dict[str, Any]]) -> Vocabulary:
        words: dict[str, dict[str, str]] = {}
        for row in rows:
            words.setdefault(row["kind"], {}).setdefault(row["key"], row["term"])
        return cls(words)

    def lookup(self, kind: str, word: Any) -> str | None:
        """The IRI for a word (name, synonym, code), or for an IRI or CURIE of a known term."""
        if not isinstance(word, (str, int)):
            return None
        text = str(word).strip()
        table = self.words.get(kind, {})
        found = table.get(text.lower())
        if found:
            return found
        prefix, sep, local = text.partition(":")
        iri = PREFIXES[prefix] + local if sep and prefix in PREFIXES else text
        return iri if iri in self._iris(kind) else None

    def _iris(self, kind: str) -> set[str]:
        cache = self.__dict__.setdefault("_iri_cache", {})
        if kind not in cache:
            cache[kind] = set(self.words.get(kind, {}).values())
        return cache[kind]


@dataclass
class PatientRecord:
    iri: ox.NamedNode
    triples: list[ox.Triple]
    source: str  # "json", "jsonld", "turtle" or "fhir"
    patient_id: str = ""
    # a FHIR bundle's record: node IRI (or "IRI|field") -> the resource it came from, which the
    # validation messages name; and what the reader could not know, as (severity, message)
    origins: dict[str, str] = field(default_factory=dict)
    notes: list[tuple[str, str]] = field(default_factory=list)


# The keys a plain JSON record may have (contract section 5, and the JSON-LD context's terms); any
# other key is named in a warning, never ignored without a word.
RECORD_KEYS = frozenset({"@context", "id", "age", "asOf", "ecog", "frailty", "imwgFrailty", "charlson", "adl", "iadl",
                         "creatinineClearance", "cytogenetics", "extramedullaryDisease", "dialysis", "cardiacHistory",
                         "sameTargetReason", "therapyLines", "jurisdiction", "priorAllogeneicTransplant",
                         "plasmaCellLeukemia", "circulatingPlasmaCellsPercent", "ldhAboveUpperLimit", "hepatitisB",
                         "fev1PercentPredicted", "copd", "asthma"})
LINE_KEYS = frozenset({"line", "drugs", "start", "end", "progressionDate", "bestResponse", "stopReason", "toxicity", "toxicities",
                       "sameTargetReason"})
EXPOSURE_KEYS = frozenset({"drug", "start", "end"})
TOXICITY_KEYS = frozenset({"toxicity", "drug", "grade", "painful"})
FRAILTY_KEYS = frozenset({"charlson", "adl", "iadl"})
HEPATITIS_B_KEYS = frozenset({"hbsAg", "antiHBc"})
UNKNOWN_KEY = "is not a key the program reads, so it was ignored"


def unknown_keys(data: dict[str, Any]) -> list[str]:
    """Warnings naming every key of a plain JSON record that the program does not read."""
    found: list[str] = []

    def check(obj: Any, known: frozenset[str], where: str) -> None:
        if not isinstance(obj, dict):
            return
        for key in obj:
            if key not in known:
                near = difflib.get_close_matches(str(key), known, n=1) or [k for k in known if k.lower() == str(key).lower()]
                hint = f" (did you mean '{near[0]}'?)" if near else ""
                found.append(f"{where}'{key}' {UNKNOWN_KEY}{hint}")

    check(data, RECORD_KEYS, "")
    check(data.get("imwgFrailty"), FRAILTY_KEYS, "imwgFrailty: ")
    check(data.get("hepatitisB"), HEPATITIS_B_KEYS, "hepatitisB: ")
    for index, line in enumerate(data.get("therapyLines") or [], start=1):
        check(line, LINE_KEYS, f"therapy line {index}: ")
        for entry in (line.get("drugs") or []) if isinstance(line, dict) and isinstance(line.get("drugs"), list) else []:
            check(entry, EXPOSURE_KEYS, f"therapy line {index}, drug: ")
        for entry in toxicity_entries(line) if isinstance(line, dict) else []:
            check(entry, TOXICITY_KEYS, f"therapy line {index}, toxicity: ")
    return found


def record_as_of(data: dict[str, Any]) -> dt.date | None:
    """The record's own ``asOf`` date, if it gives one; ``UnreadableRecord`` when it is not a date."""
    value = data.get("asOf")
    if value is None:
        return None
    found = iso_date(value)
    if found is None:
        raise UnreadableRecord(f"'asOf' must be a date written YYYY-MM-DD, not {str(value)[:40]!r}")
    return found


def iso_date(value: Any) -> dt.date | None:
    """A date written exactly YYYY-MM-DD, or None for anything else (the callers word the refusal)."""
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def from_json(data: dict[str, Any], vocabulary: Vocabulary, *, as_of: dt.date | None = None) -> PatientRecord:
    """Plain JSON (contract section 5) to RDF, keeping every value for the shapes to judge.

    ``as_of`` (a request's or the command line's date) wins over the record's own ``asOf``; without
    either the record is read as of today."""
    for key, expected in (("therapyLines", list), ("cytogenetics", list), ("imwgFrailty", dict), ("hepatitisB", dict)):
        if key in data and data[key] is not None and not isinstance(data[key], expected):
            what = "a list" if expected is list else "an object"
            raise UnreadableRecord(f"'{key}' must be {what}")
    as_of = as_of or record_as_of(data)
    warnings = unknown_keys(data)
    raw_id = data.get("id")
    pid = str(raw_id) if isinstance(raw_id, (str, int)) and str(raw_id).strip() else "unidentified"
    patient = ox.NamedNode(str(PATIENT) + quote(pid, safe=""))
    out: list[ox.Triple] = []
    add = lambda s, p, o: out.append(ox.Triple(s, m(p) if isinstance(p, str) else p, o))  # noqa: E731

    out.append(ox.Triple(patient, RDF_TYPE, m("Patient")))
    if raw_id is not None:
        add(patient, "patientId", literal(raw_id, "string"))
    for key, prop, kind in (("age", "age", "integer"), ("ecog", "ecog", "integer"),
                            ("creatinineClearance", "creatinineClearance", "decimal"),
                            ("extramedullaryDisease", "extramedullaryDisease", "boolean"),
                            ("dialysis", "dialysis", "boolean"),
                            ("priorAllogeneicTransplant", "priorAllogeneicTransplant", "boolean"),
                            ("plasmaCellLeukemia", "plasmaCellLeukemia", "boolean"),
                            ("circulatingPlasmaCellsPercent", "circulatingPlasmaCellsPercent", "decimal"),
                            ("ldhAboveUpperLimit", "ldhAboveUpperLimit", "boolean"),
                            ("fev1PercentPredicted", "fev1PercentPredicted", "decimal"),
                            ("copd", "copd", "boolean"), ("asthma", "asthma", "boolean")):
        if data.get(key) is not None:
            add(patient, prop, literal(data[key], kind))
    for key, prop in (("hbsAg", "hbsAg"), ("antiHBc", "antiHBc")):  # positive or negative, words of the graph
        value = (data.get("hepatitisB") or {}).get(key)
        if value is not None:
            add(patient, prop, term_or_word(vocabulary, "serology", value))
    reasons = [data.get("sameTargetReason")] + [line.get("sameTargetReason") for line in data.get("therapyLines") or []
                                                 if isinstance(line, dict)]
    for reason in dict.fromkeys(r for r in reasons if r is not None and not isinstance(r, (dict, list))):
        add(patient, "sameTargetReason", text_literal(reason))
    if data.get("jurisdiction") is not None:
        add(patient, "careJurisdiction", text_literal(data["jurisdiction"]))
    cardiac = data.get("cardiacHistory")
    if isinstance(cardiac, list):  # the conditions themselves: history is true when any is named
        add(patient, "cardiacHistory", literal(bool(cardiac), "boolean"))
        for condition in cardiac:
            add(patient, "cardiacCondition", text_literal(condition))
    elif cardiac is not None:
        add(patient, "cardiacHistory", literal(cardiac, "boolean"))
    frailty = data.get("imwgFrailty") or {}
    for key, prop in (("charlson", "charlsonIndex"), ("adl", "adlScore"), ("iadl", "iadlScore")):
        value = frailty.get(key) if frailty.get(key) is not None else data.get(key)  # nested, or at the top as the context has it
        if value is not None:
            add(patient, prop, literal(value, "integer"))
    if data.get("frailty") is not None:
        add(patient, "frailtyCategory", term_or_word(vocabulary, "frailty", data["frailty"]))
    if "cytogenetics" in data and data["cytogenetics"] is not None:
        add(patient, "cytogeneticsReported", literal(True, "boolean"))
        for finding in data["cytogenetics"]:
            add(patient, "hasFinding", term_or_word(vocabulary, "cytogenetics", finding))
    add(patient, "asOfDate", literal((as_of or dt.date.today()).isoformat(), "date"))

    for index, line in enumerate(data.get("therapyLines") or [], start=1):
        node = ox.NamedNode(f"{patient.value}/line/{index}")
        add(patient, "hasTherapyLine", node)
        out.append(ox.Triple(node, RDF_TYPE, m("TherapyLine")))
        if not isinstance(line, dict):
            add(node, "note", ox.Literal(f"entry {index} of therapyLines is not an object"))
            continue
        if line.get("line") is not None:
            add(node, "lineNumber", literal(line["line"], "integer"))
        for key, prop in (("start", "startDate"), ("end", "endDate"), ("progressionDate", "progressionDate")):
            if line.get(key) is not None:
                add(node, prop, literal(line[key], "date"))
        if line.get("bestResponse") is not None:
            add(node, "bestResponse", term_or_word(vocabulary, "response", line["bestResponse"]))
        if line.get("stopReason") is not None:
            add(node, "stopReason", term_or_word(vocabulary, "stopReason", line["stopReason"]))
        for t_index, entry in enumerate(toxicity_entries(line), start=1):
            event = ox.NamedNode(f"{node.value}/toxicity/{t_index}")
            add(node, "hasToxicity", event)
            out.append(ox.Triple(event, RDF_TYPE, m("ToxicityEvent")))
            own = entry if isinstance(entry, dict) else {"toxicity": entry}
            text = own.get("toxicity")
            if text is None:  # a toxicity given only by its drug and grade
                text = "toxicity"
            add(event, "toxicityText", text_literal(text))
            if own.get("drug") is not None:
                add(event, "toxicityDrug", drug_term(vocabulary, own["drug"]))
            if own.get("grade") is not None:
                add(event, "toxicityGrade", literal(own["grade"], "integer"))
            if own.get("painful") is not None:
                add(event, "toxicityPainful", literal(own["painful"], "boolean"))
        drugs = line.get("drugs")
        if drugs is not None and not isinstance(drugs, list):
            drugs = [drugs]
        for d_index, entry in enumerate(drugs or [], start=1):
            exposure = ox.NamedNode(f"{node.value}/drug/{d_index}")
            add(node, "hasExposure", exposure)
            out.append(ox.Triple(exposure, RDF_TYPE, m("DrugExposure")))
            name = entry.get("drug") if isinstance(entry, dict) else entry
            agent = unknown_agent(vocabulary, name)
            if agent is not None:  # kept by its name, counted for no drug or class (the shapes warn)
                add(exposure, "exposureDrugText", ox.Literal(agent))
            else:
                add(exposure, "exposureDrug", drug_term(vocabulary, name))
            if isinstance(name, (str, int)):
                out.append(ox.Triple(exposure, RDFS_LABEL, ox.Literal(str(name))))
            own = entry if isinstance(entry, dict) else {}
            for key, prop in (("start", "startDate"), ("end", "endDate")):
                if own.get(key) is not None:  # otherwise the line's dates apply
                    add(exposure, prop, literal(own[key], "date"))
    return PatientRecord(patient, out, "json", pid, notes=[("warning", w) for w in warnings])


def toxicity_entries(line: dict[str, Any]) -> list[Any]:
    """The toxicities a line lists, whatever its stop reason: ``toxicity`` (words, an object with
    ``toxicity``, ``drug``, ``grade`` and ``painful``, or a list of either) and ``toxicities`` (a list)."""
    entries: list[Any] = []
    for key in ("toxicity", "toxicities"):
        value = line.get(key)
        if value is None:
            continue
        entries.extend(value if isinstance(value, list) else [value])
    return [e for e in entries if e is not None]
# An agent the graph does not know (an investigational drug: "mezigdomide", "ABC-123") is kept by its
# name when the name looks like one: a text of AGENT_NAME_CHARS characters, at least one of them a
# letter.  A number or a code (an RXCUI the graph lacks), an empty or a longer text, a regimen's name ("IsaPd":
# a line lists the regimen's drugs) and a near miss of a known drug ("carfilzomab", which would
# otherwise hide a carfilzomib exposure) stay unknown drugs, which the shapes refuse.
AGENT_NAME_CHARS = range(5, 81)
# a code the graph lacks, as the FHIR reader names it ("RxNorm code 99999999", "system|code"): a code, not a name
CODE_LIKE = re.compile(r"\||://|^rxnorm code ", re.IGNORECASE)
NEAR_MISS = 0.85  # difflib ratio from which a name is taken for a misspelt known drug


def unknown_agent(vocabulary: Vocabulary, name: Any) -> str | None:
    """The name of an agent the graph does not know, to be kept as written; None for a known drug
    and for anything that is not taken for a drug's name."""
    if not isinstance(name, str) or vocabulary.lookup("drug", name):
        return None
    text = " ".join(name.split())
    if len(text) not in AGENT_NAME_CHARS or not any(ch.isalpha() for ch in text) or CODE_LIKE.search(text):
        return None
    if vocabulary.lookup("regimen", text):
        return None
    if difflib.get_close_matches(text.lower(), vocabulary.words.get("drug", {}).keys(), n=1, cutoff=NEAR_MISS):
        return None
    return text


def drug_term(vocabulary: Vocabulary, name: Any) -> ox.NamedNode:
    iri = vocabulary.lookup("drug", name)
    if iri:
        return ox.NamedNode(iri)
    slug = re.sub(r"[^a-z0-9]+", "-", str(name).strip().lower()).strip("-") or "unnamed"
    return ox.NamedNode(f"{DRUG}unknown/{quote(slug)}")


def term_or_word(vocabulary: Vocabulary, kind: str, word: Any) -> ox.NamedNode | ox.Literal:
    """The IRI a word stands for, or the word itself as a literal (which the shapes will name)."""
    iri = vocabulary.lookup(kind, word)
    return ox.NamedNode(iri) if iri else ox.Literal(str(word))


def text_literal(value: Any) -> ox.Literal:
    """A free text of the record (a toxicity, a heart condition): anything but a string is kept as
    JSON (rdf:JSON), which the shapes reject by naming the value."""
    if isinstance(value, str):
        return ox.Literal(value)
    return ox.Literal(json.dumps(value), datatype=ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON"))


def literal(value: Any, kind: str) -> ox.Literal:
    """A typed literal when the value fits the type, otherwise a plain string the shapes reject."""
    if kind == "boolean" and isinstance(value, bool):
        return ox.Literal("true" if value else "false", datatype=ox.NamedNode(XSD + "boolean"))
    if kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return ox.Literal(str(value), datatype=ox.NamedNode(XSD + "integer"))
    if kind == "decimal" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return ox.Literal(repr(float(value)) if isinstance(value, float) else str(value),
                          datatype=ox.NamedNode(XSD + "decimal"))
    if kind == "date" and isinstance(value, str):
        try:
            return ox.Literal(dt.date.fromisoformat(value).isoformat(), datatype=ox.NamedNode(XSD + "date"))
        except ValueError:
            pass
    if kind == "string" and isinstance(value, (str, int)) and not isinstance(value, bool):
        return ox.Literal(str(value))
    return ox.Literal(json.dumps(value) if not isinstance(value, str) else value)


def from_turtle(text: str, as_of: dt.date | None, limits: RecordLimits | None = None) -> PatientRecord:
    try:
        triples = _at_most(ox.parse(text, format=ox.RdfFormat.TURTLE, base_iri=str(PATIENT)), limits)
    except SyntaxError as exc:
        raise UnreadableRecord(f"the record is neither JSON nor valid Turtle ({exc})") from None
    return _from_triples(triples, "turtle", as_of)


def from_jsonld(data: dict[str, Any] | str, as_of: dt.date | None, limits: RecordLimits | None = None) -> PatientRecord:
    """A JSON-LD record (its text, or its value as ``json.loads`` gives it)."""
    data = json.loads(data) if isinstance(data, str) else dict(data)
    if data.get("@context") == CONTEXT_URL:
        data["@context"] = json.loads(CONTEXT_FILE.read_text())["@context"]
    remote = _remote_contexts(data)
    if remote:
        raise UnreadableRecord(
            f"the record names a JSON-LD context by address ({remote[0]}); this service never fetches one: "
            "write the context inline, or leave '@context' out to use the project's own")
    try:
        triples = _at_most(ox.parse(json.dumps(data), format=ox.RdfFormat.JSON_LD, base_iri=str(PATIENT)), limits)
    except (SyntaxError, ValueError) as exc:
        raise UnreadableRecord(f"the JSON-LD record cannot be read ({exc})") from None
    return _from_triples(triples, "jsonld", as_of)


def _at_most(parsed: Iterable[ox.Triple], limits: RecordLimits | None) -> list[ox.Triple]:
    """The parser's triples, read no further than one past the limit (then refused)."""
    if limits is None:
        return list(parsed)
    triples = list(itertools.islice(parsed, limits.max_record_triples + 1))
    limits.check_triples(len(triples), more=True)
    return triples


def _remote_contexts(node: Any) -> list[str]:
    """Addresses of contexts a JSON-LD document would load (``@context`` or ``@import`` strings)."""
    found: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            for key, value in item.items():
                if key in ("@context", "@import"):
                    values = value if isinstance(value, list) else [value]
                    found.extend(v for v in values if isinstance(v, str) and v != CONTEXT_URL)
                stack.append(value)
    return found


_NUMBERS = {XSD + name for name in ("decimal", "double", "float")}
_NAN = {"nan", "+nan", "-nan", "snan", "+snan", "-snan"}


def _from_triples(triples: list[ox.Triple], source: str, as_of: dt.date | None) -> PatientRecord:
    for t in triples:  # a NaN cannot be compared, so no shape could judge it
        if isinstance(t.object, ox.Literal) and t.object.datatype.value in _NUMBERS and t.object.value.strip().lower() in _NAN:
            raise UnreadableRecord(f"<{t.predicate.value}> is {t.object.value}, which is not a number: "
                                   "give the value as a number, or leave it out")
    patients = {t.subject for t in triples if t.predicate == RDF_TYPE and t.object == m("Patient")}
    if len(patients) != 1:
        raise UnreadableRecord(f"the record must describe exactly one mkg:Patient (found {len(patients)})")
    (patient,) = patients
    if not isinstance(patient, ox.NamedNode):
        raise UnreadableRecord("the patient must have an IRI")
    stated = any(t.subject == patient and t.predicate == m("asOfDate") for t in triples)
    if as_of is not None and stated:  # a request's or the command line's date wins over the record's own
        triples = [t for t in triples if not (t.subject == patient and t.predicate == m("asOfDate"))]
    if as_of is not None or not stated:
        triples.append(ox.Triple(patient, m("asOfDate"), literal((as_of or dt.date.today()).isoformat(), "date")))
    pid = next((t.object.value for t in triples
                if t.subject == patient and t.predicate == m("patientId") and isinstance(t.object, (ox.Literal, ox.NamedNode))), "")
    return PatientRecord(patient, triples, source, pid)
