"""A synthetic OMOP CDM 5.4 cohort of people with relapsed myeloma, to try the audit on.

Nothing here describes a real person.  Each person gets a diagnosis, one to six lines of therapy
with realistic regimens and dates (induction with a transplant and lenalidomide maintenance, or
continuous therapy; later lines chosen partly the way the guideline would and partly not), best
responses and progressions (on treatment, so refractory, or later), cytogenetics, creatinine
clearance, ECOG, frailty, dialysis, heart failure, extramedullary disease and sometimes death.
Some lines use subcutaneous daratumumab (a product with hyaluronidase), regimens the guideline does
not assess, a drug the graph does not know or an investigational agent; a few records are wrong
on purpose (an ECOG of 7, a line that ends before it starts, a creatinine clearance of 300).

Codes: drug ingredients carry the RXCUI the graph records for them as ``concept_code`` (a drug
with none gets ``synthetic-<name>``, which is not an RXCUI, so the audit matches it by name);
every concept id the cohort invents is at or above 2,000,000,000, the range OMOP leaves to local
concepts.  The OMOP ids it uses from outside are the contract's (32941 Cancer Drug Treatment,
1147094 drug_exposure.drug_exposure_id), the OMOP gender concepts 8507 and 8532, 437233
(Multiple myeloma, as OHDSI ETL-LambdaBuilder's myeloma rules name it) and 0 (no matching concept).
The measurement, observation and condition concepts are those of ``queries/audit/default-mapping.csv``.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Settings
from .rules import GraphDrugs, LineRule, Mapping

CUTOFF = dt.date(2025, 6, 30)  # the data end: nothing is dated after it
LINE_EPISODE = 32941
DRUG_EXPOSURE_FIELD = 1147094
MYELOMA = 437233
LOCAL = 2_000_000_000

# The concepts of default-mapping.csv that the cohort writes.
CRCL, ECOG = 2000100001, 2000100002
FINDING = {"del(17p)": 2000100010, "t(4;14)": 2000100011, "t(14;16)": 2000100012, "gain(1q21)": 2000100013,
           "amp(1q21)": 2000100014, "t(11;14)": 2000100015, "del(1p32)": 2000100016, "t(14;20)": 2000100017}
NO_FINDING = 2000100019
RESPONSE = {"sCR": 2000100020, "CR": 2000100021, "VGPR": 2000100022, "PR": 2000100023, "MR": 2000100024,
            "SD": 2000100025, "PD": 2000100026}
PROGRESSION = 2000100030
PLASMACYTOMA, DIALYSIS, HEART_FAILURE = 2000100040, 2000100041, 2000100042
NO_PLASMACYTOMA, NO_DIALYSIS, NO_HEART_DISEASE, HEART_DISEASE = 2000100043, 2000100047, 2000100048, 2000100049
HEART_CONDITIONS = {"heart failure": HEART_FAILURE, "atrial fibrillation": 2000100045}
FRAILTY = {"fit": 2000100050, "intermediate": 2000100051, "frail": 2000100052}
SCORES = {"charlson": 2000100060, "adl": 2000100061, "iadl": 2000100062}
STOP = {"progression": 2000100070, "toxicity": 2000100071, "completed": 2000100072, "other": 2000100073}
TOXICITY = 2000100074
TOXICITIES = ("peripheral neuropathy grade 3", "thrombocytopenia grade 4", "rash grade 3", "infection grade 3")

# Drugs by INN. Those in OUTSIDE_GRAPH are given a synthetic code: bendamustine, once unknown to the
# graph, is in its vocabulary but without a verified RXCUI, so the audit finds it by name.
DRUGS = ["bortezomib", "lenalidomide", "dexamethasone", "daratumumab", "carfilzomib", "pomalidomide",
         "isatuximab", "cyclophosphamide", "melphalan", "elotuzumab", "ixazomib", "selinexor", "venetoclax",
         "teclistamab", "talquetamab", "elranatamab", "linvoseltamab", "ciltacabtagene autoleucel",
         "idecabtagene vicleucel", "belantamab mafodotin", "hyaluronidase", "bendamustine"]
OUTSIDE_GRAPH = {"bendamustine"}
SC_DARATUMUMAB = LOCAL + 501  # a clinical drug: daratumumab with hyaluronidase, for subcutaneous use
LOCAL_INVESTIGATIONAL = LOCAL + 601  # a trial drug coded with a local concept and no ingredient

REGIMENS: dict[str, list[str]] = {
    # first line
    "VRd": ["bortezomib", "lenalidomide", "dexamethasone"],
    "DVRd": ["daratumumab", "bortezomib", "lenalidomide", "dexamethasone"],
    "DRd": ["daratumumab", "lenalidomide", "dexamethasone"],
    "Rd": ["lenalidomide", "dexamethasone"],
    "VCd": ["bortezomib", "cyclophosphamide", "dexamethasone"],
    "KRd": ["carfilzomib", "lenalidomide", "dexamethasone"],
    # relapse: regimens the guideline assesses
    "DPd": ["daratumumab", "pomalidomide", "dexamethasone"],
    "DKd": ["daratumumab", "carfilzomib", "dexamethasone"],
    "DVd": ["daratumumab", "bortezomib", "dexamethasone"],
    "IsaPd": ["isatuximab", "pomalidomide", "dexamethasone"],
    "IsaKd": ["isatuximab", "carfilzomib", "dexamethasone"],
    "Kd": ["carfilzomib", "dexamethasone"],
    "Pd": ["pomalidomide", "dexamethasone"],
    "PVd": ["pomalidomide", "bortezomib", "dexamethasone"],
    "SVd": ["selinexor", "bortezomib", "dexamethasone"],
    "Sd": ["selinexor", "dexamethasone"],
    "VenD": ["venetoclax", "dexamethasone"],
    "TecMono": ["teclistamab"],
    "TalMono": ["talquetamab"],
    "ElraMono": ["elranatamab"],
    "LinvoMono": ["linvoseltamab"],
    "TecDara": ["teclistamab", "daratumumab"],
    "TalD": ["talquetamab", "daratumumab"],
    "CiltaCel": ["ciltacabtagene autoleucel"],
    "IdeCel": ["idecabtagene vicleucel"],
    # relapse: regimens the guideline does not assess
    "EPd": ["elotuzumab", "pomalidomide", "dexamethasone"],
    "KCd": ["carfilzomib", "cyclophosphamide", "dexamethasone"],
    "IRd": ["ixazomib", "lenalidomide", "dexamethasone"],
    "Bd": ["bendamustine", "dexamethasone"],
    # investigational agents: one unmapped (concept 0), one with a local concept
    "iberdomide-d": ["iberdomide", "dexamethasone"],
    "mezigdomide-d": ["mezigdomide", "dexamethasone"],
}
ONE_DAY = {"ciltacabtagene autoleucel", "idecabtagene vicleucel", "melphalan"}
CAR_T = {"CiltaCel", "IdeCel"}
OFF_GUIDELINE = ["KRd", "EPd", "KCd", "IRd", "VCd", "Bd", "iberdomide-d", "mezigdomide-d", "Pd", "Kd", "DPd", "PVd"]

TABLE_COLUMNS: dict[str, list[str]] = {
    "person": ["person_id", "gender_concept_id", "year_of_birth", "month_of_birth", "day_of_birth", "birth_datetime",
               "race_concept_id", "ethnicity_concept_id", "location_id", "provider_id", "care_site_id",
               "person_source_value", "gender_source_value", "gender_source_concept_id", "race_source_value",
               "race_source_concept_id", "ethnicity_source_value", "ethnicity_source_concept_id"],
    "observation_period": ["observation_period_id", "person_id", "observation_period_start_date",
                           "observation_period_end_date", "period_type_concept_id"],
    "drug_exposure": ["drug_exposure_id", "person_id", "drug_concept_id", "drug_exposure_start_date",
                      "drug_exposure_start_datetime", "drug_exposure_end_date", "drug_exposure_end_datetime",
                      "verbatim_end_date", "drug_type_concept_id", "stop_reason", "refills", "quantity", "days_supply",
                      "sig", "route_concept_id", "lot_number", "provider_id", "visit_occurrence_id", "visit_detail_id",
                      "drug_source_value", "drug_source_concept_id", "route_source_value", "dose_unit_source_value"],
    "condition_occurrence": ["condition_occurrence_id", "person_id", "condition_concept_id", "condition_start_date",
                             "condition_start_datetime", "condition_end_date", "condition_end_datetime",
                             "condition_type_concept_id", "condition_status_concept_id", "stop_reason", "provider_id",
                             "visit_occurrence_id", "visit_detail_id", "condition_source_value",
                             "condition_source_concept_id", "condition_status_source_value"],
    "measurement": ["measurement_id", "person_id", "measurement_concept_id", "measurement_date", "measurement_datetime",
                    "measurement_time", "measurement_type_concept_id", "operator_concept_id", "value_as_number",
                    "value_as_concept_id", "unit_concept_id", "range_low", "range_high", "provider_id",
                    "visit_occurrence_id", "visit_detail_id", "measurement_source_value", "measurement_source_concept_id",
                    "unit_source_value", "unit_source_concept_id", "value_source_value", "measurement_event_id",
                    "meas_event_field_concept_id"],
    "observation": ["observation_id", "person_id", "observation_concept_id", "observation_date", "observation_datetime",
                    "observation_type_concept_id", "value_as_number", "value_as_string", "value_as_concept_id",
                    "qualifier_concept_id", "unit_concept_id", "provider_id", "visit_occurrence_id", "visit_detail_id",
                    "observation_source_value", "observation_source_concept_id", "unit_source_value",
                    "qualifier_source_value", "value_source_value", "observation_event_id", "obs_event_field_concept_id"],
    "death": ["person_id", "death_date", "death_datetime", "death_type_concept_id", "cause_concept_id",
              "cause_source_value", "cause_source_concept_id"],
    "episode": ["episode_id", "person_id", "episode_concept_id", "episode_start_date", "episode_start_datetime",
                "episode_end_date", "episode_end_datetime", "episode_parent_id", "episode_number",
                "episode_object_concept_id", "episode_type_concept_id", "episode_source_value", "episode_source_concept_id"],
    "episode_event": ["episode_id", "event_id", "episode_event_field_concept_id"],
    "concept": ["concept_id", "concept_name", "domain_id", "vocabulary_id", "concept_class_id", "standard_concept",
                "concept_code", "valid_start_date", "valid_end_date", "invalid_reason"],
    "concept_ancestor": ["ancestor_concept_id", "descendant_concept_id", "min_levels_of_separation",
                         "max_levels_of_separation"],
}


@dataclass
class Line:
    number: int
    regimen: str
    drugs: list[str]
    start: dt.date
    end: dt.date | None  # None: ongoing at the data end
    drug_spans: dict[str, tuple[dt.date, dt.date]] = field(default_factory=dict)
    progression: dt.date | None = None
    response: tuple[dt.date, str] | None = None
    stop: tuple[str, str | None] | None = None  # stop reason, toxicity
    sc_daratumumab: bool = False
    transplant: dt.date | None = None


class Cohort:
    """Rows of every table, filled person by person."""

    def __init__(self, drugs: GraphDrugs, rule: LineRule) -> None:
        self.tables: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLE_COLUMNS}
        self.next_id: dict[str, int] = {}
        self.drug_concepts = self._concepts(drugs)
        self.rule = rule

    def new_id(self, table: str) -> int:
        self.next_id[table] = self.next_id.get(table, 0) + 1
        return self.next_id[table]

    def add(self, table: str, **values: Any) -> None:
        self.tables[table].append(values)

    # -- concepts ---------------------------------------------------------------------------

    def _concepts(self, drugs: GraphDrugs) -> dict[str, int]:
        rows = self.tables["concept"]
        ids: dict[str, int] = {}
        for index, name in enumerate(DRUGS, start=1):
            code = None if name in OUTSIDE_GRAPH else drugs.ingredient_code(name)
            ids[name] = LOCAL + index
            rows.append(_concept(LOCAL + index, name, "Drug", "RxNorm", "Ingredient", code or f"synthetic-{name.replace(' ', '-')}"))
        product = drugs.product_code("daratumumab and hyaluronidase", "clinical-drug")
        rows.append(_concept(SC_DARATUMUMAB, "daratumumab and hyaluronidase, injection for subcutaneous use", "Drug",
                             "RxNorm", "Clinical Drug", product or "synthetic-daratumumab-hyaluronidase"))
        for ingredient in ("daratumumab", "hyaluronidase"):
            self.add("concept_ancestor", ancestor_concept_id=ids[ingredient], descendant_concept_id=SC_DARATUMUMAB,
                     min_levels_of_separation=1, max_levels_of_separation=1)
        rows.append(_concept(LOCAL_INVESTIGATIONAL, "mezigdomide (investigational)", "Drug", "Local",
                             "Investigational Drug", "local-mezigdomide", standard=None))
        ids["mezigdomide"] = LOCAL_INVESTIGATIONAL
        ids["iberdomide"] = 0  # given, but never coded: drug_concept_id 0
        for name in DRUGS:  # every ingredient is its own ancestor, as OMOP's concept_ancestor has it
            self.add("concept_ancestor", ancestor_concept_id=ids[name], descendant_concept_id=ids[name],
                     min_levels_of_separation=0, max_levels_of_separation=0)
        rows += [
            _concept(0, "No matching concept", "Metadata", "None", "Undefined", "No matching concept", standard=None),
            _concept(8507, "MALE", "Gender", "Gender", "Gender", "M"),
            _concept(8532, "FEMALE", "Gender", "Gender", "Gender", "F"),
            _concept(MYELOMA, "Multiple myeloma", "Condition", "SNOMED", "Clinical Finding", "109989006"),
            _concept(LINE_EPISODE, "Cancer Drug Treatment", "Episode", "Episode", "Episode", ""),
            _concept(DRUG_EXPOSURE_FIELD, "drug_exposure.drug_exposure_id", "Metadata", "CDM", "Field", "", standard=None),
        ]
        local = [(CRCL, "Creatinine clearance (mL/min)", "Measurement"), (ECOG, "ECOG performance status", "Measurement"),
                 (NO_FINDING, "Cytogenetics tested: no abnormality", "Observation"),
                 (PROGRESSION, "Disease progression (IMWG)", "Observation"),
                 (PLASMACYTOMA, "Extramedullary plasmacytoma", "Condition"),
                 (NO_PLASMACYTOMA, "No extramedullary disease", "Observation"),
                 (DIALYSIS, "Dependence on renal dialysis", "Observation"),
                 (NO_DIALYSIS, "Not on dialysis", "Observation"),
                 (HEART_FAILURE, "Heart failure", "Condition"),
                 (HEART_CONDITIONS["atrial fibrillation"], "Atrial fibrillation", "Condition"),
                 (NO_HEART_DISEASE, "No history of heart disease", "Observation"),
                 (HEART_DISEASE, "History of heart disease", "Observation"),
                 (SCORES["charlson"], "Charlson comorbidity index", "Measurement"),
                 (SCORES["adl"], "Katz activities of daily living score", "Measurement"),
                 (SCORES["iadl"], "Lawton instrumental activities of daily living score", "Measurement"),
                 (TOXICITY, "Toxicity that stopped the line", "Observation")]
        local += [(cid, f"Line stopped: {name}", "Observation") for name, cid in STOP.items()]
        local += [(cid, f"{name} detected", "Observation") for name, cid in FINDING.items()]
        local += [(cid, f"Best response: {name}", "Observation") for name, cid in RESPONSE.items()]
        local += [(cid, f"IMWG frailty: {name}", "Observation") for name, cid in FRAILTY.items()]
        for cid, name, domain in local:
            rows.append(_concept(cid, name, domain, "Local", domain, f"local-{cid}", standard=None))
        return ids

    # -- one person -------------------------------------------------------------------------

    def person(self, rng: random.Random, person_id: int) -> None:
        # a few records are wrong on purpose, one kind each, at fixed places so that every cohort
        # has them (in people with a second line, where they show)
        invalid = {5: "ecog", 18: "line-dates", 31: "crcl"}.get(person_id % 40, "")
        diagnosis = _day(rng, dt.date(2012, 1, 1), dt.date(2016 if invalid else 2021, 12, 31))
        age = min(89, max(38, int(rng.gauss(66, 9))))
        birth = diagnosis - dt.timedelta(days=int(age * 365.25) + rng.randrange(365))
        year_only = rng.random() < 0.1
        self.add("person", person_id=person_id, gender_concept_id=rng.choice((8507, 8532)), year_of_birth=birth.year,
                 month_of_birth=None if year_only else birth.month, day_of_birth=None if year_only else birth.day,
                 race_concept_id=0, ethnicity_concept_id=0,
                 care_site_id=None if rng.random() < 0.05 else rng.choices((1, 2, 3), (5, 3, 2))[0],
                 person_source_value=f"synthetic-{person_id}")
        self.add("condition_occurrence", condition_occurrence_id=self.new_id("condition_occurrence"),
                 person_id=person_id, condition_concept_id=MYELOMA, condition_start_date=diagnosis,
                 condition_type_concept_id=0, condition_source_value="C90.0")

        frail = age >= 78 and rng.random() < 0.6 or rng.random() < 0.05
        renal = rng.random() < 0.15
        findings = self._cytogenetics(rng, person_id, diagnosis)
        if rng.random() < 0.35:
            category = "frail" if frail else ("intermediate" if age >= 70 else "fit")
            self._observation(person_id, FRAILTY[category], diagnosis)
        if renal and rng.random() < 0.2:
            self._observation(person_id, DIALYSIS, diagnosis + dt.timedelta(days=rng.randrange(10, 60)))
        if rng.random() < 0.1:
            self.add("condition_occurrence", condition_occurrence_id=self.new_id("condition_occurrence"),
                     person_id=person_id, condition_concept_id=HEART_FAILURE,
                     condition_start_date=diagnosis - dt.timedelta(days=rng.randrange(30, 2000)),
                     condition_type_concept_id=0)
        self._vitals(rng, person_id, diagnosis, frail, renal, None)

        wanted = rng.choices((1, 2, 3, 4, 5, 6), (12, 30, 24, 16, 11, 7))[0]
        if invalid:
            wanted = max(wanted, 3)
        lines: list[Line] = []
        start = diagnosis + dt.timedelta(days=rng.randrange(5, 40))
        death: dt.date | None = None
        for number in range(1, wanted + 1):
            if start > CUTOFF - dt.timedelta(days=20):
                break
            regimen = self._choose(rng, number, lines, findings, age, frail)
            line = self._line(rng, number, regimen, start, age, frail)
            if number >= 2:  # what was measured when the line was chosen
                self._vitals(rng, person_id, start - dt.timedelta(days=rng.randrange(0, 15)), frail, renal,
                             invalid if number == 2 else None)
            if rng.random() < 0.05 and number >= 2:
                self.add("condition_occurrence", condition_occurrence_id=self.new_id("condition_occurrence"),
                         person_id=person_id, condition_concept_id=PLASMACYTOMA,
                         condition_start_date=start - dt.timedelta(days=rng.randrange(1, 20)), condition_type_concept_id=0)
            lines.append(line)
            if line.end is None:
                break
            if line.progression is None:  # not recorded: the next line still follows, some months later
                next_start = line.end + dt.timedelta(days=rng.randrange(120, 300))
                missing_progression = True
            else:
                next_start = line.progression + dt.timedelta(days=rng.randrange(14, 46))
                missing_progression = False
            if rng.random() < 0.05 * number and not missing_progression and not (invalid and number < 3):
                death = (line.progression or line.end) + dt.timedelta(days=rng.randrange(10, 200))
                break
            start = next_start
            if number == wanted and rng.random() < 0.45:
                death = (line.progression or line.end) + dt.timedelta(days=rng.randrange(30, 500))
        if death is not None and death > CUTOFF:
            death = None
        if invalid == "line-dates" and lines and lines[0].end is not None:
            lines[0].end = lines[0].start - dt.timedelta(days=10)  # the episode says so; its exposures do not
        for line in lines:
            self._write_line(rng, person_id, line, death)
        if death is not None:
            self.add("death", person_id=person_id, death_date=death, death_type_concept_id=0)
        last = min(CUTOFF, death) if death else CUTOFF
        self.add("observation_period", observation_period_id=self.new_id("observation_period"), person_id=person_id,
                 observation_period_start_date=diagnosis - dt.timedelta(days=30), observation_period_end_date=last,
                 period_type_concept_id=0)

    def _cytogenetics(self, rng: random.Random, person_id: int, diagnosis: dt.date) -> set[str]:
        if rng.random() >= 0.75:
            return set()
        found = {name for name, p in (("del(17p)", 0.1), ("t(4;14)", 0.12), ("t(14;16)", 0.03), ("gain(1q21)", 0.28),
                                      ("t(11;14)", 0.15)) if rng.random() < p}
        when = diagnosis + dt.timedelta(days=rng.randrange(0, 20))
        for name in sorted(found) or ["none"]:
            self._observation(person_id, FINDING.get(name, NO_FINDING), when)
        return found

    def _vitals(self, rng: random.Random, person_id: int, when: dt.date, frail: bool, renal: bool,
                invalid: str | None) -> None:
        if rng.random() < 0.85 or invalid == "ecog":
            ecog = 7 if invalid == "ecog" else (rng.choice((2, 3, 3)) if frail else rng.choices((0, 1, 2), (4, 4, 1))[0])
            self._measurement(person_id, ECOG, when, ecog)
        if rng.random() < 0.85 or invalid == "crcl":
            if invalid == "crcl":
                crcl = 300.0
            else:
                crcl = rng.gauss(32, 10) if renal else rng.gauss(78, 18)
            self._measurement(person_id, CRCL, when, round(max(6.0, crcl), 1))

    def _measurement(self, person_id: int, concept: int, when: dt.date, value: float) -> None:
        self.add("measurement", measurement_id=self.new_id("measurement"), person_id=person_id,
                 measurement_concept_id=concept, measurement_date=when, measurement_type_concept_id=0,
                 value_as_number=value)

    def _observation(self, person_id: int, concept: int, when: dt.date, text: str | None = None) -> None:
        self.add("observation", observation_id=self.new_id("observation"), person_id=person_id,
                 observation_concept_id=concept, observation_date=when, observation_type_concept_id=0,
                 value_as_string=text)

    # -- therapy ----------------------------------------------------------------------------

    def _choose(self, rng: random.Random, number: int, lines: list[Line], findings: set[str], age: int,
                frail: bool) -> str:
        if number == 1:
            if age < 70 and not frail:
                return rng.choices(("VRd", "DVRd", "KRd", "VCd"), (6, 3, 1, 1))[0]
            return rng.choices(("DRd", "VRd", "Rd", "VCd"), (5, 3, 2, 1))[0]
        exposed = {d for line in lines for d in line.drugs}
        refractory = {d for line in lines if _refractory(line) for d in line.drugs}
        cd38 = {"daratumumab", "isatuximab"}
        if not exposed & cd38:
            pool = ["DPd", "DKd", "IsaKd", "IsaPd", "DVd"] if "lenalidomide" in refractory else ["DRd", "DKd", "DVd", "IsaKd"]
        elif refractory & cd38 and refractory & {"bortezomib", "carfilzomib"} and refractory & {"lenalidomide", "pomalidomide"}:
            pool = ["TecMono", "TalMono", "ElraMono", "LinvoMono", "CiltaCel", "IdeCel", "TecDara", "TalD", "Sd"]
        elif refractory & cd38:
            pool = ["Kd", "PVd", "SVd", "Pd", "TecMono", "CiltaCel", "TalMono", "IsaKd", "IsaPd"]
        else:
            pool = ["DPd", "IsaPd", "Kd", "PVd", "DKd", "IsaKd"]
        if "t(11;14)" in findings:
            pool.append("VenD")
        previous = set(lines[-1].drugs)
        for _ in range(20):
            regimen = rng.choice(pool) if rng.random() < 0.65 else rng.choice(OFF_GUIDELINE)
            if not set(REGIMENS[regimen]) <= previous:  # a new line brings a drug the last one lacked
                return regimen
        return "TecMono"

    def _line(self, rng: random.Random, number: int, regimen: str, start: dt.date, age: int, frail: bool) -> Line:
        drugs = list(REGIMENS[regimen])
        line = Line(number, regimen, drugs, start, None, sc_daratumumab="daratumumab" in drugs and rng.random() < 0.5)
        months = {1: 30, 2: 14, 3: 10}.get(number, 7)
        duration = max(60, int(rng.expovariate(1 / (months * 30.4))))
        transplant = number == 1 and regimen in ("VRd", "DVRd", "KRd") and age < 70 and not frail and rng.random() < 0.7
        spans: dict[str, tuple[dt.date, dt.date]] = {}
        if transplant:
            induction_end = start + dt.timedelta(days=rng.randrange(110, 170))
            mel = induction_end + dt.timedelta(days=rng.randrange(30, 61))
            maintenance = mel + dt.timedelta(days=rng.randrange(95, 121))
            kept = ["lenalidomide"] + (["daratumumab"] if regimen == "DVRd" else [])
            end = maintenance + dt.timedelta(days=max(400, duration))
            for drug in drugs:
                spans[drug] = (start, induction_end)
            spans["melphalan"] = (mel, mel)
            line.drugs.append("melphalan")
            line.transplant = mel
            stop = end
            for drug in kept:
                spans[drug + "@maintenance"] = (maintenance, stop)
        elif regimen in CAR_T:
            end = start
            spans[drugs[0]] = (start, start)
        else:
            end = start + dt.timedelta(days=duration)
            for drug in drugs:
                spans[drug] = (start, end)
            if regimen in ("DVd", "PVd", "SVd", "VRd", "VCd") and duration > 200:
                spans["bortezomib"] = (start, start + dt.timedelta(days=rng.randrange(150, 200)))  # stopped after 8 cycles
        on_treatment = regimen not in CAR_T and rng.random() < 0.7
        if on_treatment:
            line.progression = end
            end = end + dt.timedelta(days=rng.randrange(0, 11))
            spans = {d: (a, end if b >= line.progression else b) for d, (a, b) in spans.items()}
        else:
            line.progression = end + dt.timedelta(days=rng.randrange(90, 400))
        if rng.random() < 0.6:
            if on_treatment:
                line.stop = ("progression", None)
            elif regimen not in CAR_T and rng.random() < 0.3:
                line.stop = ("toxicity", rng.choice(TOXICITIES))
            else:
                line.stop = ("completed", None)
        if rng.random() < 0.06:
            line.progression = None  # never recorded
        if rng.random() < 0.85 and end - start > dt.timedelta(days=50):
            when = start + dt.timedelta(days=rng.randrange(50, min(121, (end - start).days + 1)))
            weights = (1, 3, 6, 8, 2, 3, 1) if number < 3 else (1, 1, 3, 6, 3, 4, 3)
            line.response = (when, rng.choices(list(RESPONSE), weights)[0])
        if end > CUTOFF:
            end = None
            spans = {d: (a, min(b, CUTOFF)) for d, (a, b) in spans.items() if a <= CUTOFF}
            line.progression = line.progression if line.progression and line.progression <= CUTOFF else None
        elif line.progression and line.progression > CUTOFF:
            line.progression = None
        if line.response and line.response[0] > CUTOFF:
            line.response = None
        line.end = end
        line.drug_spans = spans
        return line

    def _write_line(self, rng: random.Random, person_id: int, line: Line, death: dt.date | None) -> None:
        episode = self.new_id("episode")
        exposures: list[int] = []
        last = dt.date.min
        for key, (first, final) in sorted(line.drug_spans.items()):
            drug = key.split("@")[0]
            if death is not None:
                if first > death:
                    continue
                final = min(final, death)
            concept = SC_DARATUMUMAB if drug == "daratumumab" and line.sc_daratumumab else self.drug_concepts[drug]
            source = drug
            for a, b in _blocks(first, final, one_day=drug in ONE_DAY):
                exposure = self.new_id("drug_exposure")
                self.add("drug_exposure", drug_exposure_id=exposure, person_id=person_id, drug_concept_id=concept,
                         drug_exposure_start_date=a, drug_exposure_end_date=b, drug_type_concept_id=0,
                         drug_source_value=source, days_supply=(b - a).days + 1)
                exposures.append(exposure)
                last = max(last, b)
        end = line.end
        if end is not None and end >= line.start:
            end = last  # the line ends with its last dose (a wrong end date is left wrong)
        if death is not None and end is not None:
            end = min(end, death)
        self.add("episode", episode_id=episode, person_id=person_id, episode_concept_id=LINE_EPISODE,
                 episode_start_date=line.start, episode_end_date=end, episode_number=line.number,
                 episode_object_concept_id=0, episode_type_concept_id=0, episode_source_value=line.regimen)
        for exposure in exposures:
            self.add("episode_event", episode_id=episode, event_id=exposure, episode_event_field_concept_id=DRUG_EXPOSURE_FIELD)
        if line.response and (death is None or line.response[0] <= death):
            self._observation(person_id, RESPONSE[line.response[1]], line.response[0])
        if line.progression and (death is None or line.progression <= death):
            self._observation(person_id, PROGRESSION, line.progression)
        if line.stop and end is not None and end >= line.start:
            self._observation(person_id, STOP[line.stop[0]], end)
            if line.stop[1]:
                self._observation(person_id, TOXICITY, end, text=line.stop[1])


    # -- twins of patient records -----------------------------------------------------------

    def twin(self, person_id: int, record: dict[str, Any], as_of: dt.date, vocabulary, drugs: GraphDrugs) -> None:
        """The person of a plain-JSON record as OMOP rows, with a line starting on ``as_of``, so that
        the decision point of that day holds what the record says."""
        age = int(record["age"])
        birth = _years_before(as_of, age)
        self.add("person", person_id=person_id, gender_concept_id=8532 if person_id % 2 else 8507, year_of_birth=birth.year,
                 month_of_birth=birth.month, day_of_birth=birth.day, race_concept_id=0, ethnicity_concept_id=0,
                 person_source_value=str(record["id"]))
        known = as_of - dt.timedelta(days=1)
        if record.get("ecog") is not None:
            self._measurement(person_id, ECOG, known, record["ecog"])
        if record.get("creatinineClearance") is not None:
            self._measurement(person_id, CRCL, known, record["creatinineClearance"])
        frailty = {key: record[key] for key in SCORES if record.get(key) is not None}  # at the top, or nested
        for key, value in {**frailty, **(record.get("imwgFrailty") or {})}.items():
            self._measurement(person_id, SCORES[key], known, value)
        if record.get("frailty") is not None:
            self._observation(person_id, FRAILTY[record["frailty"]], known)
        for key, present, absent in (("extramedullaryDisease", PLASMACYTOMA, NO_PLASMACYTOMA),
                                     ("dialysis", DIALYSIS, NO_DIALYSIS)):
            if record.get(key) is True and present == PLASMACYTOMA:
                self.add("condition_occurrence", condition_occurrence_id=self.new_id("condition_occurrence"),
                         person_id=person_id, condition_concept_id=present, condition_start_date=known,
                         condition_type_concept_id=0)
            elif record.get(key) is not None:
                self._observation(person_id, present if record[key] else absent, known)
        cardiac = record.get("cardiacHistory")
        if isinstance(cardiac, list):
            for condition in cardiac:
                self.add("condition_occurrence", condition_occurrence_id=self.new_id("condition_occurrence"),
                         person_id=person_id, condition_concept_id=HEART_CONDITIONS[condition],
                         condition_start_date=known, condition_type_concept_id=0)
        elif cardiac is not None:
            self._observation(person_id, HEART_DISEASE if cardiac else NO_HEART_DISEASE, known)
        if record.get("cytogenetics") is not None:
            for finding in record["cytogenetics"] or ["none"]:
                self._observation(person_id, FINDING.get(finding, NO_FINDING), known)
        lines = record.get("therapyLines") or []
        for line in lines:
            start = dt.date.fromisoformat(line["start"])
            end = dt.date.fromisoformat(line["end"]) if line.get("end") else None
            episode = self.new_id("episode")
            self.add("episode", episode_id=episode, person_id=person_id, episode_concept_id=LINE_EPISODE,
                     episode_start_date=start, episode_end_date=end, episode_number=line["line"],
                     episode_object_concept_id=0, episode_type_concept_id=0, episode_source_value=str(record["id"]))
            for entry in line["drugs"]:
                own = entry if isinstance(entry, dict) else {"drug": entry}
                first = dt.date.fromisoformat(own["start"]) if own.get("start") else start
                last = own.get("end") or line.get("end")
                # a drug still given on the as-of date: its exposure runs past it, so its end is not known then
                final = dt.date.fromisoformat(last) if last else as_of + dt.timedelta(days=27)
                self._twin_exposure(person_id, episode, self._drug_concept(own["drug"], vocabulary, drugs), own["drug"],
                                    first, final)
            if line.get("bestResponse"):
                self._observation(person_id, RESPONSE[line["bestResponse"]], start)
            if line.get("stopReason"):
                self._observation(person_id, STOP[line["stopReason"]], start)
            if line.get("toxicity"):
                self._observation(person_id, TOXICITY, start, text=line["toxicity"])
            if line.get("progressionDate"):
                self._observation(person_id, PROGRESSION, dt.date.fromisoformat(line["progressionDate"]))
        episode = self.new_id("episode")  # the line that starts on the as-of date: its decision point holds the record
        self.add("episode", episode_id=episode, person_id=person_id, episode_concept_id=LINE_EPISODE,
                 episode_start_date=as_of, episode_end_date=None, episode_number=len(lines) + 1,
                 episode_object_concept_id=0, episode_type_concept_id=0, episode_source_value="next line")
        self._twin_exposure(person_id, episode, self.drug_concepts["dexamethasone"], "dexamethasone", as_of,
                            as_of + dt.timedelta(days=27))
        self.add("observation_period", observation_period_id=self.new_id("observation_period"), person_id=person_id,
                 observation_period_start_date=min([as_of] + [dt.date.fromisoformat(x["start"]) for x in lines]),
                 observation_period_end_date=as_of + dt.timedelta(days=27), period_type_concept_id=0)

    def _drug_concept(self, name: str, vocabulary, drugs: GraphDrugs) -> int:
        iri = vocabulary.lookup("drug", name)
        if iri is None or iri not in drugs.labels:
            raise ValueError(f"the graph does not know the drug {name!r}")
        label = drugs.labels[iri]
        if drugs.ingredients.get(iri) and "daratumumab" in {drugs.labels[i] for i in drugs.ingredients[iri]}:
            return SC_DARATUMUMAB
        if label not in self.drug_concepts:
            concept = LOCAL + 100 + len(self.drug_concepts)
            code = drugs.ingredient_code(label) or f"synthetic-{label.replace(' ', '-')}"
            self.tables["concept"].append(_concept(concept, label, "Drug", "RxNorm", "Ingredient", code))
            self.drug_concepts[label] = concept
        return self.drug_concepts[label]

    def _twin_exposure(self, person_id: int, episode: int, concept: int, name: str, first: dt.date, final: dt.date) -> None:
        exposure = self.new_id("drug_exposure")
        self.add("drug_exposure", drug_exposure_id=exposure, person_id=person_id, drug_concept_id=concept,
                 drug_exposure_start_date=first, drug_exposure_end_date=final, drug_type_concept_id=0,
                 drug_source_value=name, days_supply=(final - first).days + 1)
        self.add("episode_event", episode_id=episode, event_id=exposure, episode_event_field_concept_id=DRUG_EXPOSURE_FIELD)


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _refractory(line: Line) -> bool:
    """Progression on the line or within 60 days of its end (what the generator means by it)."""
    if line.progression is None or line.end is None:
        return False
    return line.progression <= line.end + dt.timedelta(days=60)


def _blocks(first: dt.date, final: dt.date, one_day: bool) -> list[tuple[dt.date, dt.date]]:
    """A drug given from ``first`` to ``final`` as exposures of up to 12 weeks each, back to back."""
    if one_day or final <= first:
        return [(first, first if one_day else max(first, final))]
    out = []
    a = first
    while a <= final:
        b = min(final, a + dt.timedelta(days=83))
        out.append((a, b))
        a = b + dt.timedelta(days=1)
    return out


def _day(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    return first + dt.timedelta(days=rng.randrange((last - first).days + 1))


def _concept(concept_id: int, name: str, domain: str, vocabulary: str, klass: str, code: str,
             standard: str | None = "S") -> dict[str, Any]:
    return {"concept_id": concept_id, "concept_name": name, "domain_id": domain, "vocabulary_id": vocabulary,
            "concept_class_id": klass, "standard_concept": standard, "concept_code": code,
            "valid_start_date": dt.date(1970, 1, 1), "valid_end_date": dt.date(2099, 12, 31), "invalid_reason": None}


def generate(persons: int, seed: int, settings: Settings | None = None, kg=None) -> dict[str, list[dict[str, Any]]]:
    """The tables of a synthetic cohort of ``persons`` people, the same for the same seed."""
    from ..graph.load import load_graph

    settings = settings or Settings.load()
    kg = kg or load_graph(settings)
    cohort = Cohort(GraphDrugs.of(kg, settings), LineRule.load(settings))
    rng = random.Random(seed)
    for person_id in range(1, persons + 1):
        cohort.person(rng, person_id)
    return cohort.tables


def twins(records: list[dict[str, Any]], as_of: dt.date, settings: Settings | None = None,
          kg=None) -> dict[str, list[dict[str, Any]]]:
    """OMOP twins of plain-JSON patient records (person 1 is the first record ...): the decision
    point of each twin on ``as_of`` holds its record, so that the audit gives the record's answer."""
    from ..graph.load import load_graph
    from ..patients.records import Vocabulary
    from ..queries import catalog_of

    settings = settings or Settings.load()
    kg = kg or load_graph(settings)
    drugs = GraphDrugs.of(kg, settings)
    vocabulary = Vocabulary.from_rows(kg.select(catalog_of(settings.queries_dir).program_query("patient", "vocabulary").text))
    cohort = Cohort(drugs, LineRule.load(settings))
    mapped = {row.field for row in Mapping.load(Mapping.default_path(settings)).rows}
    for person_id, record in enumerate(records, start=1):
        if not_twinned(record, mapped, vocabulary, drugs) is None:  # otherwise no person (its number is kept free)
            cohort.twin(person_id, record, as_of, vocabulary, drugs)
    return cohort.tables


# The keys of a plain record that a twin carries without a mapping row: the person, the lines, and
# the IMWG frailty components, whose rows the mapping names one by one.
TWIN_KEYS = frozenset({"id", "age", "asOf", "therapyLines", "imwgFrailty"})


def not_twinned(record: dict[str, Any], mapped: set[str], vocabulary, drugs: GraphDrugs) -> str | None:
    """Why a record has no OMOP twin, or None: a key no row of the mapping fills, or an agent the
    graph does not know (the twin's drug concepts are the graph's drugs)."""
    keys = sorted(k for k in record if k not in TWIN_KEYS and k not in mapped)
    if keys:
        return "the OMOP mapping carries no " + ", ".join(keys)
    lines = record.get("therapyLines") or []
    if any(line.get("toxicities") is not None or not isinstance(line.get("toxicity"), (str, type(None))) for line in lines):
        return "the OMOP mapping carries a line's toxicity as words only (one text, no drug or grade fields)"
    names = [e.get("drug") if isinstance(e, dict) else e for line in lines for e in line.get("drugs") or []]
    unknown = [n for n in names if vocabulary.lookup("drug", n) not in drugs.labels]
    if unknown:
        return f"the graph does not know {', '.join(map(str, unknown))}"
    # a drug made of others is read back from OMOP as its ingredients (subcutaneous daratumumab is
    # daratumumab either way), so the drug itself - a transplant, a liposomal form - is lost
    made_of = sorted({drugs.labels[iri] for iri in (vocabulary.lookup("drug", n) for n in names)
                      if drugs.ingredients.get(iri) and "daratumumab" not in {drugs.labels[i] for i in drugs.ingredients[iri]}})
    return f"the audit reads {', '.join(made_of)} back as its ingredients only" if made_of else None


def write_tables(tables: dict[str, list[dict[str, Any]]], folder: Path, fmt: str = "csv") -> list[Path]:
    """One file per table (``person.csv`` ...), or with ``fmt`` "parquet" Parquet files, or "duckdb"
    one database file ``omop.duckdb`` holding the tables."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, columns in TABLE_COLUMNS.items():
        path = folder / f"{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(columns)
            for row in tables[name]:
                writer.writerow(["" if row.get(c) is None else _text(row.get(c)) for c in columns])
        written.append(path)
    if fmt == "csv":
        return written
    import duckdb

    con = duckdb.connect(str(folder / "omop.duckdb") if fmt == "duckdb" else ":memory:")
    try:
        out = []
        for path in written:
            name = path.stem
            relation = f"read_csv('{_sql_path(path)}', header=true, sample_size=-1)"
            if fmt == "parquet":
                target = folder / f"{name}.parquet"
                con.execute(f"COPY (SELECT * FROM {relation}) TO '{_sql_path(target)}' (FORMAT PARQUET)")
                out.append(target)
            else:
                con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM {relation}')
        if fmt == "duckdb":
            out.append(folder / "omop.duckdb")
    finally:
        con.close()
    for path in written:
        path.unlink()
    return out


def _text(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
