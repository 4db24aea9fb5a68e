"""Which regimens the guideline supports for one patient, and why the others do not apply.

The steps: read the record, validate it (SHACL), put its triples into a temporary named graph of
the store, run the derivation rules of ``queries/rules/`` to a fixpoint, then read the verdicts
with the queries of ``queries/patient/``.  Every threshold and clinical term lives in those files
and in the graph; this module only orders the steps and combines verdicts (a regimen applies
under a recommendation when every one of its criteria is met).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from .._mkg import MKG
from ..config import Settings
from ..errors import QuerySyntaxError
from ..graph.store import KnowledgeGraph, to_python
from ..graph.version import graph_version
from ..namespaces import GRAPH, PREFIXES
from ..queries import catalog_of, expand_iri
from .limits import RecordLimits
from .read import read_text
from .records import PatientRecord, Vocabulary
from .rounds import criterion_rounds
from .validate import ValidationReport, load_patient_shapes, validate_records

MAX_ROUNDS = 12
ROUND = ox.Variable("round")  # bound to the fixpoint's round in the rules marked "rounds: true"
EVALUATION_ROUND = ox.NamedNode(str(MKG.evaluationRound))
RENEW_AFTER = 100  # patients between rebuilds of the working store (see Recommender._fresh_store)
CHUNK_AT_MOST = 100  # records derived together in one working graph (Recommender.recommend_many)


@dataclass
class Outcome:
    report: ValidationReport
    recommendation: dict[str, Any] | None


class Recommender:
    """Holds what does not change between patients: rules, queries, vocabulary, shapes."""

    #: When a dict (benchmarks/recommend.py sets one), the seconds of every step are appended
    #: under the step's name: validation, each rule in each round, each output query, assembly.
    stage_times: dict[str, list[float]] | None = None

    def _timed(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        if self.stage_times is not None:
            self.stage_times.setdefault(stage, []).append(now - since)
        return now

    def __init__(self, kg: KnowledgeGraph, settings: Settings | None = None) -> None:
        self.kg = kg
        self.settings = settings or kg.settings
        self.graph_version = graph_version(kg)
        folder = self.settings.queries_dir
        catalog = catalog_of(folder)
        self.rules = catalog.folder_queries("rules")
        self.repeated = [r for r in self.rules if r.extra.get("repeat")]
        # only a repeated rule can be skipped (every rule runs in the first round)
        self.reads = {r.path: RuleReads.kept(r.text, self.settings.cache_path) for r in self.repeated}
        patient_queries = catalog.folder_queries("patient")
        self.q = {q.path.stem: q.text for q in patient_queries}
        # what a rule or output query needs in the patients' graph to give anything ("needs:")
        self.needs = {q.path.stem: _needs(q.extra) for q in [*self.rules, *patient_queries] if q.extra.get("needs")}
        # the round in which each criterion is evaluated (see rounds.py), read by the rules
        # marked "rounds: true" from the working store, never written to the shipped graph
        self.criterion_rounds = criterion_rounds(kg.select(self.q["criterion-inputs"]))
        self.last_round = max(self.criterion_rounds.values(), default=0)
        self.vocabulary = Vocabulary.from_rows(kg.select(self.q["vocabulary"]))
        self.shapes = load_patient_shapes(self.settings.shapes_dir)
        self.limits = RecordLimits.of(self.settings)
        self.regimens = {r["regimen"]: r for r in kg.select(self.q["regimens"])}
        self.recommendations = {r["recommendation"]: r for r in kg.select(self.q["recommendation-info"])}
        self.pairs = [(r["recommendation"], r["regimen"]) for r in kg.select(self.q["pairs"])]
        # every pair's criteria and their texts (queries/patient/regimen-criteria.rq): the same for
        # every patient, so read once; a patient adds only its verdicts (read from its graph, _verdict_rows)
        self.pair_criteria = [(r["recommendation"], r["regimen"], r["criterion"],
                               {"met": r.get("metText"), "failed": r.get("failedText"), "unknown": r.get("unknownText")})
                              for r in kg.select(self.q["regimen-criteria"])]
        # the cautions a pair can carry (regimen-cautions.rq): a caution node is given when the
        # patient meets every criterion of it, a limit applied as a caution when one is failed
        cautions: dict[tuple[str, str, str, str, int], list[tuple[str | None, str]]] = {}
        for r in kg.select(self.q["regimen-cautions"]):
            key = (r["recommendation"], r["regimen"], r["caution"], r["text"], int(r["kind"]))
            cautions.setdefault(key, []).append((r.get("criterion"), r["when"]))
        # each as the set of criteria the patient's verdicts are tested against (see _outcome)
        self._caution_tests = [(rec, regimen, text, kind, frozenset(c for c, _ in needs if c is not None))
                               for (rec, regimen, _caution, text, kind), needs in cautions.items()]
        # the clinical actions and the criteria that decide them (supportive-care.rq), in its order
        actions: dict[tuple, list[tuple[str, str]]] = {}
        for r in kg.select(self.q["supportive-care"]):
            key = tuple(r.get(c) for c in _CARE_COLUMNS)
            needs = actions.setdefault(key, [])
            if r.get("criterion"):
                needs.append((r["scope"], r["criterion"]))
        # an action is given when the patient meets its own criteria, and, unless it goes with the
        # regimens offered, the criteria of its scope too (see _outcome)
        self._care_tests = []
        for key, needs in actions.items():
            row = dict(zip(_CARE_COLUMNS, key))
            self._care_tests.append(
                (row, frozenset(c for scope, c in needs if scope == "action" or not row["withRegimens"])))
        self.regimen_pairs: dict[str, list[tuple[str, str]]] = {}  # regimen -> its (recommendation, regimen) pairs
        for rec, regimen in self.pairs:
            self.regimen_pairs.setdefault(regimen, []).append((rec, regimen))
        self.action_regimens: dict[str, set[str]] = {}
        for row in kg.select(self.q["action-regimens"]):
            self.action_regimens.setdefault(row["action"], set()).add(row["regimen"])
        # preference (queries/patient/preference.rq) and regulatory status (regulatory-status.rq)
        self.preference = {(r["recommendation"], r["regimen"]): r for r in kg.select(self.q["preference"])}
        self.option_order = next((r["order"] for r in self.preference.values() if r.get("order")), None)
        self.jurisdictions: dict[str, dict[str, Any]] = {}
        self.statuses: dict[str, list[dict[str, Any]]] = {}
        for row in kg.select(self.q["regulatory-status"]):
            self.jurisdictions.setdefault(row["code"], {"code": row["code"], "label": row["place"],
                                                        "regulator": row.get("regulator"), "panel": bool(row["panel"])})
            if row.get("regimen"):
                self.statuses.setdefault(row["regimen"], []).append({
                    "jurisdiction": row["code"], "place": row["place"], "status": row["state"],
                    "date": row.get("date"), "what": row.get("statement"), "source": row.get("source"),
                    "evidenceStatus": row.get("status")})
        self.evidence: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for row in kg.select(self.q["evidence"]):
            self.evidence.setdefault((row["recommendation"], row["regimen"]), []).append(row)
        # what every result lists the same way: the regimens in order of full name, and the
        # order of the recommendations by their notation
        self._regimen_items = [
            (regimen, {"regimen": regimen, "label": info.get("label") or info["fullName"],
                       "components": sorted(c.lower() for c in info["components"].split("|"))})
            for regimen, info in sorted(self.regimens.items(), key=lambda kv: kv[1]["fullName"])
        ]
        self._notation_keys = {rec: _notation_key(info) for rec, info in self.recommendations.items()}
        self._lock = threading.Lock()
        self._base = list(kg.store.quads_for_pattern(None, None, None, None))
        rounds_graph = ox.NamedNode(f"{GRAPH}evaluation-rounds")
        self._base += [ox.Quad(ox.NamedNode(criterion), EVALUATION_ROUND, ox.Literal(number), rounds_graph)
                       for criterion, number in sorted(self.criterion_rounds.items())]
        self._served = 0
        self.work = self._fresh_store()

    def _fresh_store(self) -> KnowledgeGraph:
        """A private copy of the shipped graph that patient graphs are added to and removed from.

        A pyoxigraph store grows slower after many insert-and-remove cycles, so the copy is
        rebuilt every ``RENEW_AFTER`` patients, which keeps the time per patient flat.
        """
        store = ox.Store()
        store.extend(self._base)
        return KnowledgeGraph(store, self.settings, self.kg.digest)

    # -- steps ---------------------------------------------------------------------------

    def read(self, text: str, content_type: str | None = None, as_of: dt.date | None = None) -> PatientRecord:
        return read_text(text, self.vocabulary, content_type=content_type, as_of=as_of, limits=self.limits)

    def validate(self, record: PatientRecord) -> ValidationReport:
        return self.validate_many([record])[0]

    def validate_many(self, records: list[PatientRecord]) -> list[ValidationReport]:
        """The reports of several records, each with the date it was read at: all in one run, as
        the compiled shapes take them, or one record a run where the shapes could not be compiled
        (pySHACL's time per record grows with the records of a run)."""
        t0 = time.perf_counter()
        size = max(1, len(records)) if self.shapes.compiled is not None else 1
        reports: list[ValidationReport] = []
        for start in range(0, len(records), size):
            reports += validate_records(records[start:start + size], self.vocabulary, self.shapes)
        for record, report in zip(records, reports):
            report.as_of = next((t.object.value for t in record.triples
                                 if t.subject == record.iri and t.predicate.value == str(MKG.asOfDate)), None)
        self._timed("validate", t0)
        return reports

    @contextmanager
    def derived(self, record: PatientRecord) -> Iterator[ox.NamedNode]:
        """The record and everything the rules derive from it, in a temporary named graph
        (see ``_fixpoint``); the rules see only this patient (``?patient`` is substituted)."""
        with self._derived(record) as (patient, _graph, _present):
            yield patient

    @contextmanager
    def _derived(self, record: PatientRecord) -> Iterator[tuple[ox.NamedNode, ox.NamedNode, set[str]]]:
        """``derived``, with the temporary graph's name and the predicates it holds."""
        graph = ox.NamedNode(f"{GRAPH}patient-{uuid.uuid4()}")
        with self._lock:
            self._served += 1
            if self._served % RENEW_AFTER == 0:
                self.work = self._fresh_store()
            store = self.work.store
            t0 = time.perf_counter()
            store.extend([ox.Quad(t.subject, t.predicate, t.object, graph) for t in record.triples])
            self._timed("insert record", t0)
            try:
                options = {"prefixes": PREFIXES, "use_default_graph_as_union": True,
                           "substitutions": {ox.Variable("patient"): record.iri}}
                present = self._fixpoint(store, graph, set(record.triples), options)
                yield record.iri, graph, present
            finally:
                t0 = time.perf_counter()
                store.remove_graph(graph)
                self._timed("remove record", t0)

    #: Whether rules and output queries marked ``needs:`` are skipped when the patients' graph has
    #: none of the predicates they name (a test turns it off and compares the answers).
    skip_by_needs = True

    def _skipped(self, name: str, present: set[str], store: ox.Store, graph: ox.NamedNode) -> bool:
        """Whether the rule or query ``name`` is marked ``needs:`` and the patients' graph holds
        nothing it names: no triple with a predicate it names alone (``present``), no triple with
        a predicate and value it names together."""
        needs = self.needs.get(name)
        if not self.skip_by_needs or needs is None:
            return False
        for predicate, value in needs:
            if value is None:
                if predicate in present:
                    return False
            elif predicate in present and next(store.quads_for_pattern(
                    None, ox.NamedNode(predicate), ox.NamedNode(value), graph), None) is not None:
                return False
        return True

    def _fixpoint(self, store: ox.Store, graph: ox.NamedNode, known: set, options: dict[str, Any]) -> set[str]:
        """Run the rules of ``queries/rules/`` to a fixpoint, adding what they derive to ``graph``.

        The rules run in rounds: the first round runs every rule in file order, later rounds
        the rules marked ``repeat: true``, until every criterion has had its round and a round
        derives nothing new.  A rule marked ``rounds: true`` reads ``?round``, bound to the
        round's number, and evaluates only the criteria of that round (``mkg:evaluationRound``,
        see ``rounds.py``), once what they read is final.  Another rule is skipped when no
        triple it can read has been added since its last run (see ``RuleReads``): it would
        derive only what it derived then, so the rounds, and what they derive, are the same as
        running it.  A rule marked ``needs:`` is skipped while the patients' graph holds no
        triple with a predicate it names: it would derive nothing (most records name no
        toxicity, and the toxicity rules read nothing else).  Every rule is patient-scoped (what
        it derives for a patient reads only that patient's triples and the shipped graph), so the
        same rounds over the records of a chunk derive, for each of them, what they derive for it
        alone.  Returns the predicates of the patients' graph at the end.
        """
        t0 = time.perf_counter()
        present = {t.predicate.value for t in known}
        step = 0
        last_run: dict[Path, int] = {}  # rule file -> step of its last run
        added_at: dict[str, int] = {}  # predicate -> last step that added a triple with it
        rules = self.rules  # the first round runs every rule, in file order
        for round_number in range(max(MAX_ROUNDS, self.last_round + 2)):
            added = 0
            this_round = {**options, "substitutions": {**options.get("substitutions", {}),
                                                       ROUND: ox.Literal(round_number)}}
            for rule in rules:
                if self._skipped(rule.path.stem, present, store, graph):
                    continue
                if rule.extra.get("rounds"):
                    if round_number > self.last_round:
                        continue  # no criterion is evaluated in this round
                    rule_options = this_round
                else:
                    since = last_run.get(rule.path)
                    if since is not None and not self.reads[rule.path].changed(added_at, since):
                        continue
                    rule_options = options
                step += 1
                last_run[rule.path] = step
                new = [t for t in _run(store, rule.text, rule_options) if t not in known]
                if new:
                    known.update(new)
                    store.extend([ox.Quad(t.subject, t.predicate, t.object, graph) for t in new])
                    added += len(new)
                    for t in new:
                        added_at[t.predicate.value] = step
                    added_at[RuleReads.ANY] = step
                    present.update(t.predicate.value for t in new)
                t0 = self._timed(f"round {round_number} {rule.name}", t0)
            if not added and round_number >= self.last_round:
                break
            rules = self.repeated  # later rounds only the rules marked "repeat: true"
        return present

    def _outputs(self, store: ox.Store, options: dict[str, Any], graph: ox.NamedNode,
                 present: set[str]) -> dict[str, list[dict[str, Any]]]:
        """Every output query of ``OUTPUTS`` once, its rows as Python values (with ``patient``),
        and the criterion verdicts, read from ``graph`` (the patients' graph: the records and what
        the rules derived) without a query.  A query marked ``needs:`` gives no row, unrun, when
        none of the predicates it names is ``present`` in the patients' graph."""
        out = {}
        t0 = time.perf_counter()
        for name, columns in OUTPUTS:
            if self._skipped(name, present, store, graph):
                out[name] = []
                continue
            out[name] = _rows(_run(store, self.q[name], options), ("patient", *columns))
            t0 = self._timed(f"query {name}", t0)
        out["criterion-verdicts"] = _verdict_rows(store, graph, options.get("substitutions", {}).get(ox.Variable("patient")))
        self._timed("criterion verdicts", t0)
        return out

    def jurisdiction_of(self, code: Any) -> dict[str, Any] | None:
        """The jurisdiction a user asks for by its code (JP, US, EU), or None when the graph has none such."""
        return self.jurisdictions.get(str(code).strip().upper()) if code is not None else None

    def recommend(self, record: PatientRecord, report: ValidationReport | None = None,
                  jurisdiction: str | None = None) -> Outcome:
        report = report or self.validate(record)
        if not report.conforms:
            return Outcome(report, None)
        with self._derived(record) as (patient, graph, present):
            options = {"prefixes": PREFIXES, "use_default_graph_as_union": True,
                       "substitutions": {ox.Variable("patient"): patient}}
            rows = self._outputs(self.work.store, options, graph, present)
        return self._outcome(record, report, rows, jurisdiction)

    def recommend_many(self, records: list[PatientRecord], reports: list[ValidationReport] | None = None,
                       jurisdiction: str | None = None) -> list[Outcome]:
        """Recommendations for many records, set-at-a-time: the records that conform are put
        into one working graph together, each rule runs once a round over all of them, each
        output query once, and the rows are split by patient.  The answer for each record is
        the one ``recommend`` gives it alone (a test compares them byte for byte).

        Records that cannot share a graph are answered alone: two records with the same patient
        IRI go to different groups, and a record with a node outside its patient's IRIs (a
        Turtle or JSON-LD record may name any IRI) is answered by ``recommend``.
        """
        if reports is None:
            reports = [self.validate(record) for record in records]
        outcomes: list[Outcome | None] = [None] * len(records)
        groups: list[list[int]] = []
        group_of_iri: dict[str, int] = {}  # patient IRI -> the next group it may join
        for index, (record, report) in enumerate(zip(records, reports)):
            if not report.conforms:
                outcomes[index] = Outcome(report, None)
            elif not _own_nodes_only(record):
                outcomes[index] = self.recommend(record, report, jurisdiction)
            else:
                position = group_of_iri.get(record.iri.value, 0)
                if position == len(groups):
                    groups.append([])
                groups[position].append(index)
                group_of_iri[record.iri.value] = position + 1
        for group in groups:
            for start in range(0, len(group), CHUNK_AT_MOST):
                part = group[start:start + CHUNK_AT_MOST]
                rows = self._derive_many([records[i] for i in part])
                for i in part:
                    outcomes[i] = self._outcome(records[i], reports[i], rows.get(records[i].iri.value, {}),
                                                jurisdiction)
        return [outcome for outcome in outcomes if outcome is not None]

    def _derive_many(self, records: list[PatientRecord]) -> dict[str, dict[str, list[dict[str, Any]]]]:
        """The output rows of records with distinct patient IRIs, derived together: patient IRI
        -> query name -> that patient's rows, in the order the engine gives them."""
        graph = ox.NamedNode(f"{GRAPH}patients-{uuid.uuid4()}")
        triples = [t for record in records for t in record.triples]
        with self._lock:
            if self._served // RENEW_AFTER != (self._served + len(records)) // RENEW_AFTER:
                self.work = self._fresh_store()
            self._served += len(records)
            store = self.work.store
            t0 = time.perf_counter()
            store.extend([ox.Quad(t.subject, t.predicate, t.object, graph) for t in triples])
            self._timed("insert record", t0)
            try:
                options = {"prefixes": PREFIXES, "use_default_graph_as_union": True}
                present = self._fixpoint(store, graph, set(triples), options)
                rows = self._outputs(store, options, graph, present)
            finally:
                t0 = time.perf_counter()
                store.remove_graph(graph)
                self._timed("remove record", t0)
        per_patient: dict[str, dict[str, list[dict[str, Any]]]] = {
            record.iri.value: {name: [] for name in rows} for record in records}
        for name, found in rows.items():
            for row in found:
                mine = per_patient.get(row["patient"])
                if mine is not None:
                    mine[name].append(row)
        return per_patient

    def _outcome(self, record: PatientRecord, report: ValidationReport, rows: dict[str, list[dict[str, Any]]],
                 jurisdiction: str | None) -> Outcome:
        if jurisdiction is None:  # the record's own (mkg:careJurisdiction), when it names one
            jurisdiction = next((t.object.value for t in record.triples if t.subject == record.iri
                                 and t.predicate.value == str(MKG.careJurisdiction)), None)
        derived = (rows.get("derived") or [{}])[0]
        mine = {r["criterion"]: r["verdict"] for r in rows.get("criterion-verdicts", [])}
        verdicts = []
        for rec, regimen, criterion, texts in self.pair_criteria:
            verdict = mine.get(criterion, "unknown")  # neither met nor failed: unknown
            verdicts.append({"recommendation": rec, "regimen": regimen, "verdict": verdict, "text": texts[verdict]})
        history = {"currentLine": rows.get("current-line", []), "toxicity": rows.get("toxicity", []),
                   "targets": rows.get("prior-targets", [])}
        t0 = time.perf_counter()
        met = {criterion for criterion, verdict in mine.items() if verdict == "met"}
        failed = {criterion for criterion, verdict in mine.items() if verdict == "failed"}
        # a caution is given when every criterion of it is met (a caution without any: always), a
        # limit applied as a caution when one of its criteria failed
        given = [{"recommendation": rec, "regimen": regimen, "text": text}
                 for rec, regimen, text, kind, needs in self._caution_tests
                 if (needs <= met if kind == 0 else not needs.isdisjoint(failed))]
        care = [row for row, needs in self._care_tests if needs <= met]
        result = self._assemble(record, derived, verdicts,
                                rows.get("partner-refractoriness", []), given, care, report, history, jurisdiction)
        result["graphVersion"] = self.graph_version.as_json()  # which graph answered, so a user can pin it
        self._timed("assemble JSON", t0)
        return Outcome(report, result)

    # -- output (contract section 6) ---------------------------------------------------

    def _preference(self, regimen: str, recommendations: list[str]) -> dict[str, Any]:
        """The best preference any supporting recommendation gives the regimen, and its basis."""
        rows = [self.preference[(rec, regimen)] for rec in recommendations if (rec, regimen) in self.preference]
        if not rows:
            return {"preference": "not ranked", "preferenceBasis": None, "preferenceFrom": None}
        keys = self._notation_keys
        best = min(rows, key=lambda r: (PREFERENCE_ORDER.index(r["preference"]),
                                        keys.get(r["recommendation"], _notation_key({}))))
        return {"preference": best["preference"], "preferenceBasis": best["basis"],
                "preferenceFrom": best["recommendation"]}

    def _availability(self, regimen: str, place: dict[str, Any] | None) -> dict[str, Any]:
        """Every regulatory status the graph records for the regimen, and, for the jurisdiction asked
        for, whether it is approved there, approved elsewhere only, or not recorded (never guessed)."""
        statuses = self.statuses.get(regimen, [])
        out: dict[str, Any] = {"regulatoryStatus": statuses}
        if place is not None:
            here = [s for s in statuses if s["jurisdiction"] == place["code"]]
            elsewhere = [s["jurisdiction"] for s in statuses if s["jurisdiction"] != place["code"] and s["status"] == "approved"]
            if here:
                state = here[0]["status"]
            elif elsewhere:
                state = "approved elsewhere"
            else:
                state = "not recorded"
            out["availability"] = {
                "jurisdiction": place["code"], "status": state,
                "availableThere": True if state == "approved" else (False if here else None),
                "date": here[0]["date"] if here else None,
                "source": here[0]["source"] if here else None,
                "approvedIn": sorted(elsewhere)}
        return out

    def _assemble(self, record, derived, verdicts, partners, cautions, care, report, history=None,
                  jurisdiction=None) -> dict[str, Any]:
        history = history or {"currentLine": [], "toxicity": [], "targets": []}
        per_pair: dict[tuple[str, str], list[dict[str, Any]]] = {pair: [] for pair in self.pairs}
        for row in verdicts:
            per_pair.setdefault((row["recommendation"], row["regimen"]), []).append(row)
        for row in partners:
            per_pair.setdefault((row["recommendation"], row["regimen"]), []).append(
                {"verdict": "failed", "source": "partner", "text": row["text"]})
        caution_map: dict[tuple[str, str], list[str]] = {}
        for row in cautions:
            caution_map.setdefault((row["recommendation"], row["regimen"]), []).append(row["text"])
        # the toxicities of earlier lines (queries/patient/toxicity.rq, rules in ontology/content/toxicity.ttl):
        # a repeat of a line stopped for toxicity fails, a caution is a caution, and a drug to avoid
        # is avoided only while some option without it applies
        avoid: dict[str, list[dict[str, Any]]] = {}
        for row in history["toxicity"]:
            for pair in self.regimen_pairs.get(row["regimen"], []):
                if row["verdict"] == "failed":
                    per_pair.setdefault(pair, []).append({"verdict": "failed", "source": "toxicity", "text": row["text"]})
                elif row["verdict"] == "caution":
                    caution_map.setdefault(pair, []).append(row["text"])
            if row["verdict"] == "avoid":
                avoid.setdefault(row["regimen"], []).append(row)

        applying: dict[str, list[tuple[str, list[dict[str, Any]]]]] = {}
        failing: dict[str, list[str]] = {}
        for (rec, regimen), rows in sorted(per_pair.items()):
            notation = self.recommendations.get(rec, {}).get("notation") or rec
            if all(r["verdict"] == "met" for r in rows):
                applying.setdefault(regimen, []).append((rec, rows))
            else:
                for r in rows:
                    if r["verdict"] != "met" and r.get("text"):
                        failing.setdefault(regimen, []).append(f"{notation}: {r['text']}")
        if any(regimen not in avoid for regimen in applying):
            for regimen, rows in avoid.items():
                applying.pop(regimen, None)
                failing.setdefault(regimen, []).extend(row["text"] for row in rows)
        else:  # every option that applies contains a drug to avoid: they stay, with a caution
            for regimen, rows in avoid.items():
                for rec, _ in applying.get(regimen, []):
                    caution_map.setdefault((rec, regimen), []).extend(
                        (row["text"][:1].upper() + row["text"][1:] + ". " + (row.get("fallback") or "")).strip()
                        for row in rows)
        place = self.jurisdiction_of(jurisdiction)
        warnings = [i.message for i in report.issues if i.severity != "violation"]
        if jurisdiction is not None and place is None:
            warnings.append(f"jurisdiction {str(jurisdiction)[:20]!r} is not one the graph records "
                            f"({', '.join(sorted(self.jurisdictions))}): availability is not shown")
        recommended, not_recommended = [], []
        keys = self._notation_keys
        unknown_key = _notation_key({})
        for regimen, base in self._regimen_items:
            base = dict(base, components=list(base["components"]))
            if regimen in applying:
                entries = applying[regimen]
                rec, rows = sorted(entries, key=lambda e: keys.get(e[0], unknown_key))[0]
                rinfo = self.recommendations.get(rec, {})
                studies = self.evidence.get((rec, regimen), [])
                own = [s for s in studies if s["evaluates"]]
                because = _unique(r["text"] for _, rs in entries for r in rs if r.get("text"))
                item = dict(base)
                item.update({
                    "recommendation": rec,
                    "recommendations": sorted({e[0] for e in entries}, key=lambda x: keys.get(x, unknown_key)),
                    "strength": rinfo.get("strengthLabel") or rinfo.get("strength"),
                    "evidenceStatus": rinfo.get("status"),
                    # a rechallenge only for a patient who has received an anti-CD38 antibody
                    "rechallenge": derived.get("antiCD38Status") in ("exposed", "refractory")
                                   and all(self.recommendations.get(e[0], {}).get("rechallenge") for e in entries),
                    "evidence": [{"trial": s["study"], "nctId": s.get("nctId"), "name": s["name"]} for s in own],
                    "because": because,
                    "cautions": _unique(c for e in entries for c in caution_map.get((e[0], regimen), [])),
                })
                item.update(self._preference(regimen, [e[0] for e in entries]))
                item.update(self._availability(regimen, place))
                recommended.append(item)
            else:
                item = dict(base)
                item["reasons"] = _unique(failing.get(regimen, [])) or [
                    "no recommendation of the guideline covers this patient for this regimen"]
                not_recommended.append(item)

        recommended.sort(key=lambda i: (PREFERENCE_ORDER.index(i["preference"]),
                                        keys.get(i["preferenceFrom"] or i["recommendation"], unknown_key), i["label"]))
        as_of = derived.get("asOf")
        offered = {item["regimen"] for item in recommended}
        supporting = {rec for item in recommended for rec in item["recommendations"]}
        labels = {regimen: base["label"] for regimen, base in self._regimen_items}
        care_items: dict[str, dict[str, Any]] = {}
        for r in care:
            # an action of a regimen-naming recommendation only when it supports an offered regimen;
            # an action naming drugs only when an offered regimen contains one
            if r["withRegimens"] and r["recommendation"] not in supporting:
                continue
            serves = self.action_regimens.get(r["action"], set()) & offered
            if r["drugSpecific"] and not serves:
                continue
            item = care_items.setdefault(r["action"], {
                "recommendation": r["recommendation"], "notation": r.get("notation"), "kind": r["kindLabel"],
                "action": r["action"], "statement": r["statement"], "evidenceStatus": r.get("status"),
                "source": r.get("source"), "forRegimens": []})
            for regimen in sorted(serves, key=lambda g: labels.get(g, g)):
                if labels.get(regimen) not in item["forRegimens"]:
                    item["forRegimens"].append(labels.get(regimen))
        current = history["currentLine"][0] if history["currentLine"] else None
        return {
            "patient": record.iri.value,
            "asOf": as_of,
            "derived": {
                "priorLines": derived.get("priorLines"),
                "exposedTo": sorted(x.lower() for x in (derived.get("exposed") or "").split("|") if x),
                "refractoryTo": sorted(x.lower() for x in (derived.get("refractory") or "").split("|") if x),
                "antiCD38Status": derived.get("antiCD38Status"),
                "monthsSinceLastAntiCD38": None if derived.get("months") is None else round(derived["months"], 1),
                "highRiskCytogenetics": derived.get("highRisk"),
                "frailty": derived.get("frailty"),
                "priorTargetedTherapy": [
                    {"target": t["target"], "drug": t["drugLabel"], "line": t["number"],
                     "progressedOrRefractory": bool(t["progressed"])} for t in history["targets"]],
            },
            "currentLine": None if current is None else {
                "line": current["number"], "state": current["state"], "bestResponse": current.get("response"),
                "start": current.get("start"), "end": current.get("end"), "progressionDate": current.get("progression"),
                "drugs": sorted(x.lower() for x in (current.get("drugs") or "").split("|") if x)},
            "recommended": recommended,
            "notRecommended": not_recommended,
            "supportiveCare": list(care_items.values()) if recommended else [],
            "optionOrder": self.option_order,
            "jurisdiction": None if place is None else {k: place[k] for k in ("code", "label", "regulator")},
            "warnings": warnings,
        }


PREFERENCE_ORDER = ("preferred", "alternative", "not ranked")

_DERIVED = ("priorLines", "months", "asOf", "antiCD38Status", "highRisk", "frailty", "exposed", "refractory")

_CARE_COLUMNS = ("recommendation", "notation", "action", "kindLabel", "statement", "status", "source",
                 "withRegimens", "drugSpecific")

#: The output queries of ``queries/patient/`` run for each patient, and the columns read from them
#: (each also projects ``?patient``, by which the rows of a chunk are split).
OUTPUTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("derived", _DERIVED),
    ("partner-refractoriness", ("recommendation", "regimen", "text")),
    ("current-line", ("number", "start", "end", "progression", "response", "state", "drugs")),
    ("toxicity", ("regimen", "verdict", "text", "fallback")),
    ("prior-targets", ("target", "drugLabel", "number", "progressed")),
)


def _needs(header: dict[str, Any]) -> frozenset[tuple[str, str | None]]:
    """What a query's ``needs:`` header names, as (predicate, value) IRIs: each entry a predicate
    ("mkg:hasToxicity") or a predicate and the IRI it must have as its value ("mkg:stopReason
    mkg:StopToxicity"), in prefixed names or full IRIs in angle brackets."""
    names = header["needs"]
    found: set[tuple[str, str | None]] = set()
    for entry in [names] if isinstance(names, str) else names:
        parts = str(entry).split()
        try:
            if len(parts) not in (1, 2):
                raise ValueError(entry)
            found.add((expand_iri(parts[0]), expand_iri(parts[1]) if len(parts) == 2 else None))
        except ValueError:
            raise QuerySyntaxError(f"needs: {entry!r} is neither a predicate nor a predicate and its value") from None
    return frozenset(found)


_MEETS = ox.NamedNode(str(MKG.meetsCriterion))
_FAILS = ox.NamedNode(str(MKG.failsCriterion))


def _verdict_rows(store: ox.Store, graph: ox.NamedNode, only: ox.NamedNode | None = None) -> list[dict[str, Any]]:
    """Each patient's verdict on each criterion, as the rules wrote it into ``graph``
    (mkg:meetsCriterion, mkg:failsCriterion): "met" or "failed", met winning over failed; a
    criterion with neither is unknown for the patient.  Each criterion is evaluated once, in its
    round, so a patient has one of them (tests/patients/test_rounds.py); met winning only matters
    for a record that states a verdict of its own.  With ``only``, that patient's verdicts."""
    verdicts: dict[tuple[str, str], str] = {}
    for predicate, verdict in ((_FAILS, "failed"), (_MEETS, "met")):  # met last: it wins
        for quad in store.quads_for_pattern(only, predicate, None, graph):
            verdicts[(quad.subject.value, quad.object.value)] = verdict
    return [{"patient": patient, "criterion": criterion, "verdict": verdict}
            for (patient, criterion), verdict in verdicts.items()]


def _rows(result, wanted: tuple[str, ...]) -> list[dict[str, Any]]:
    """The wanted columns of SELECT rows, in the order the engine gives them, as Python values
    (``store.to_python``: IRIs and strings as str, numbers as numbers)."""
    if not isinstance(result, ox.QuerySolutions):
        raise QuerySyntaxError("expected a SELECT query")
    position = {v.value: i for i, v in enumerate(result.variables)}
    columns = [(name, position[name]) for name in wanted]
    rows = []
    for solution in result:
        values = tuple(solution)
        rows.append({name: _python(values[i]) for name, i in columns})
    return rows


def _python(term: Any) -> Any:
    return term.value if type(term) is ox.NamedNode else to_python(term)


def _run(store: ox.Store, text: str, options: dict[str, Any]):
    try:
        return store.query(text, **options)
    except (SyntaxError, RuntimeError) as exc:
        raise QuerySyntaxError(str(exc)) from exc


class RuleReads:
    """The predicates a rule's WHERE clause can read, found by parsing it (rdflib's SPARQL parser):
    every predicate of a triple pattern, in EXISTS and NOT EXISTS too, and every IRI of a
    property path.  A rule with a variable predicate, a negated property set, or a text the
    parser does not read, can read anything (``predicates`` is None)."""

    ANY = ""  # the key under which any addition is noted

    def __init__(self, predicates: frozenset[str] | None) -> None:
        self.predicates = predicates

    def changed(self, added_at: dict[str, int], since: int) -> bool:
        """Whether a triple this rule can read was added at or after step ``since``."""
        if self.predicates is None:
            return added_at.get(self.ANY, -1) >= since
        return any(added_at.get(p, -1) >= since for p in self.predicates)

    @classmethod
    def kept(cls, text: str, folder: Path | None) -> RuleReads:
        """``of(text)``, kept in ``folder`` (the cache folder) under the hash of the text: parsing a
        rule with rdflib's parser takes a fifth of a second, at every start."""
        if folder is None:
            return cls.of(text)
        path = folder / "rules" / f"reads-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:40]}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data is None or (isinstance(data, list) and all(isinstance(p, str) for p in data)):
                return cls(None if data is None else frozenset(data))
        except (OSError, ValueError):
            pass
        found = cls.of(text)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.part")
            partial.write_text(json.dumps(None if found.predicates is None else sorted(found.predicates)),
                               encoding="utf-8")
            partial.replace(path)
        except OSError:
            pass  # a cache that cannot be written is no error
        return found

    @classmethod
    def of(cls, text: str) -> RuleReads:
        from rdflib.paths import AlternativePath, InvPath, MulPath, SequencePath
        from rdflib.plugins.sparql import prepareQuery
        from rdflib.plugins.sparql.parserutils import CompValue
        from rdflib.term import URIRef

        def path_iris(path) -> set[str]:
            if isinstance(path, URIRef):
                return {str(path)}
            if isinstance(path, (SequencePath, AlternativePath)):
                return set().union(*(path_iris(p) for p in path.args))
            if isinstance(path, MulPath):
                return path_iris(path.path)
            if isinstance(path, InvPath):
                return path_iris(path.arg)
            raise ValueError(f"cannot list the predicates of {path!r}")  # a variable, a negated set

        found: set[str] = set()

        def walk(node) -> None:
            if isinstance(node, CompValue):
                for key, value in node.items():
                    if key == "template":  # what a CONSTRUCT writes, not what it reads
                        continue
                    if key == "triples":
                        for _s, p, _o in value:
                            found.update(path_iris(p))
                    else:
                        walk(value)
            elif isinstance(node, (list, tuple, set)):
                for item in node:
                    walk(item)
            elif isinstance(node, dict):
                for item in node.values():
                    walk(item)

        try:
            walk(prepareQuery(text, initNs=PREFIXES).algebra)
        except Exception:  # noqa: BLE001 - any doubt means: the rule can read anything
            return cls(None)
        return cls(frozenset(found))


def _own_nodes_only(record: PatientRecord) -> bool:
    """Whether every subject of the record is its patient, a node under the patient's IRI (its
    lines, exposures, toxicities: what a plain JSON record makes) or a blank node, so that it can
    share a working graph with other patients without one record's triples joining another's."""
    iri = record.iri.value
    for t in record.triples:
        subject = t.subject
        if type(subject) is ox.NamedNode and subject.value != iri and not subject.value.startswith(iri + "/"):
            return False
    return True


def _unique(items) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


def _notation_key(info: dict[str, Any]) -> tuple[int, str]:
    notation = str(info.get("notation") or "")
    digits = "".join(ch for ch in notation if ch.isdigit())
    return (int(digits) if digits else 999, notation)


def render_text(result: dict[str, Any]) -> str:
    """The recommendation as text for the terminal."""
    d = result["derived"]
    lines = [
        f"Patient {result['patient']} (as of {result['asOf']})",
        f"  prior lines: {d['priorLines']}; anti-CD38: {d['antiCD38Status']}"
        + (f", last dose {d['monthsSinceLastAntiCD38']} months ago" if d.get("monthsSinceLastAntiCD38") is not None else ""),
        f"  exposed to: {', '.join(d['exposedTo']) or 'nothing'}",
        f"  refractory to: {', '.join(d['refractoryTo']) or 'nothing'}",
        f"  high-risk cytogenetics: {_yes_no(d['highRiskCytogenetics'])}; frailty: {d.get('frailty') or 'not given'}",
    ]
    if result.get("currentLine"):
        c = result["currentLine"]
        lines.append(f"  current line: {c['line']} ({', '.join(c['drugs']) or 'no drugs'}), {c['state']}"
                     + (f", best response {c['bestResponse']}" if c.get("bestResponse") else ""))
    for t in d.get("priorTargetedTherapy") or []:
        lines.append(f"  earlier {t['target']}-directed therapy: {t['drug']} (line {t['line']})"
                     + (", progressed on it or refractory" if t["progressedOrRefractory"] else ""))
    lines += [
        "",
        "Recommended" + (f" (availability in {result['jurisdiction']['label']})" if result.get("jurisdiction") else "") + ":",
    ]
    for item in result["recommended"]:
        tag = " [rechallenge]" if item.get("rechallenge") else ""
        lines.append(f"  {item['label']} ({', '.join(item['components'])}){tag}"
                     f" - {item.get('preference', 'not ranked')}, {item['recommendation'].rsplit('/', 1)[-1]},"
                     f" {item['evidenceStatus']}, {item['strength']}")
        if availability_text(item):
            lines.append(f"      {availability_text(item)}")
        for text in item["because"]:
            lines.append(f"      because: {text}")
        for text in item["cautions"]:
            lines.append(f"      caution: {text}")
        if item["evidence"]:
            studies = (f"{e['name']}" + (f" ({e['nctId']})" if e.get("nctId") else "") for e in item["evidence"])
            lines.append("      evidence: " + ", ".join(studies))
    if not result["recommended"]:
        lines.append("  none")
    lines += ["", "Not recommended:"]
    for item in result["notRecommended"]:
        lines.append(f"  {item['label']}: " + "; ".join(item["reasons"]))
    if result.get("supportiveCare"):
        lines += ["", "Supportive care and next steps with the options offered:"]
        for action in result["supportiveCare"]:
            lines.append(f"  [{action['kind']}] {action['statement']}")
    if result.get("warnings"):
        lines += ["", "Warnings:"] + [f"  {w}" for w in result["warnings"]]
    if result.get("graphVersion"):
        v = result["graphVersion"]
        lines += ["", f"Answered by graph version {v['version']}" + (f" ({v['contentHash']})" if v.get("contentHash") else "")
                  + (f", rules {v['rulesHash'][:19]}" if v.get("rulesHash") else "")]
    return "\n".join(lines)


def availability_text(item: dict[str, Any]) -> str | None:
    """One option's availability in words: in the jurisdiction asked for, or where it is approved;
    None when the graph records nothing for it and no jurisdiction was asked for."""
    if item.get("availability"):
        a = item["availability"]
        where = f" (approved in {', '.join(a['approvedIn'])})" if a.get("approvedIn") and a["status"] != "approved" else ""
        return f"in {a['jurisdiction']}: {a['status']}{where}" + (f", {a['date']}" if a.get("date") else "")
    approved = [s["jurisdiction"] + (f" ({s['date']})" if s.get("date") else "")
                for s in item.get("regulatoryStatus") or [] if s["status"] == "approved"]
    return "approved in: " + ", ".join(approved) if approved else None


def _yes_no(value: Any) -> str:
    return "unknown" if value is None else ("yes" if value else "no")
