"""What the audit reads from an OMOP CDM 5.4 source: the tables, their columns and their types.

An engine (``duckdb.py``, ``spark.py``) finds each table, checks that its columns are there and
that their values have the right type, and makes a typed table ``omop_<name>`` of the columns
below (optional ones it lacks are empty).  Whatever fails is reported naming the table and the
column, and the audit stops with exit status 2.
"""

from __future__ import annotations

from dataclasses import dataclass

from .rules import AuditInputError


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # "id" (whole number), "int", "number", "date", "datetime" (read as its date), "text"
    required: bool = True  # the column must be present
    not_null: bool = False  # and every row must have a value


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    required: bool = True  # the table must be present (else an empty one stands in)


def _c(name: str, kind: str, required: bool = True, not_null: bool = False) -> Column:
    return Column(name, kind, required, not_null)


TABLES: dict[str, Table] = {t.name: t for t in (
    Table("person", (_c("person_id", "id", not_null=True), _c("year_of_birth", "int", not_null=True),
                     _c("month_of_birth", "int", False), _c("day_of_birth", "int", False),
                     _c("birth_datetime", "datetime", False), _c("care_site_id", "id", False))),
    Table("drug_exposure", (_c("drug_exposure_id", "id", not_null=True), _c("person_id", "id", not_null=True),
                            _c("drug_concept_id", "id", not_null=True),
                            _c("drug_exposure_start_date", "date", not_null=True),
                            _c("drug_exposure_end_date", "date"), _c("drug_source_value", "text", False))),
    Table("concept", (_c("concept_id", "id", not_null=True), _c("concept_name", "text"), _c("vocabulary_id", "text"),
                      _c("concept_class_id", "text"), _c("concept_code", "text"))),
    Table("concept_ancestor", (_c("ancestor_concept_id", "id", not_null=True),
                               _c("descendant_concept_id", "id", not_null=True))),
    Table("episode", (_c("episode_id", "id", not_null=True), _c("person_id", "id", not_null=True),
                      _c("episode_concept_id", "id", not_null=True), _c("episode_start_date", "date", not_null=True),
                      _c("episode_end_date", "date"), _c("episode_number", "int"))),
    Table("episode_event", (_c("episode_id", "id", not_null=True), _c("event_id", "id", not_null=True),
                            _c("episode_event_field_concept_id", "id", not_null=True))),
    Table("measurement", (_c("person_id", "id", not_null=True), _c("measurement_concept_id", "id", not_null=True),
                          _c("measurement_date", "date", not_null=True), _c("value_as_number", "number"))),
    Table("observation", (_c("person_id", "id", not_null=True), _c("observation_concept_id", "id", not_null=True),
                          _c("observation_date", "date", not_null=True), _c("value_as_number", "number"),
                          _c("value_as_string", "text", False))),
    Table("condition_occurrence", (_c("person_id", "id", not_null=True), _c("condition_concept_id", "id", not_null=True),
                                   _c("condition_start_date", "date", not_null=True))),
    Table("death", (_c("person_id", "id", not_null=True), _c("death_date", "date", not_null=True))),
    Table("observation_period", (_c("person_id", "id", not_null=True),
                                 _c("observation_period_end_date", "date", not_null=True)), required=False),
)}
#: Needed only when lines come from the source's episodes.
EPISODE_TABLES = ("episode", "episode_event")
FILE_SUFFIXES = (".csv", ".csv.gz", ".parquet")

#: SQL types of the typed tables, written so that DuckDB and Spark SQL both read them.
SQL_TYPES = {"id": "BIGINT", "int": "INT", "number": "DOUBLE", "date": "DATE", "datetime": "DATE", "text": "STRING"}

#: Checks across tables, run once the typed tables exist: each query returns the first offending
#: row, if any.  (column, query, what is wrong).
REFERENCES = (
    ("drug_exposure.drug_concept_id",
     "SELECT e.drug_concept_id, e.drug_exposure_id FROM omop_drug_exposure e "
     "LEFT JOIN (SELECT DISTINCT concept_id FROM omop_concept) c ON c.concept_id = e.drug_concept_id "
     "WHERE c.concept_id IS NULL AND e.drug_concept_id <> 0 ORDER BY e.drug_exposure_id LIMIT 1",
     "concept {0} (drug_exposure_id {1}) is not in the concept table"),
    ("drug_exposure.person_id",
     "SELECT e.person_id, e.drug_exposure_id FROM omop_drug_exposure e "
     "LEFT JOIN omop_person p ON p.person_id = e.person_id WHERE p.person_id IS NULL ORDER BY e.drug_exposure_id LIMIT 1",
     "person {0} (drug_exposure_id {1}) is not in the person table"),
)
EPISODE_REFERENCES = (
    ("episode.person_id",
     "SELECT e.person_id, e.episode_id FROM omop_episode e "
     "LEFT JOIN omop_person p ON p.person_id = e.person_id WHERE p.person_id IS NULL ORDER BY e.episode_id LIMIT 1",
     "person {0} (episode_id {1}) is not in the person table"),
    ("episode_event.event_id",
     "SELECT ee.event_id, ee.episode_id FROM omop_episode_event ee "
     "LEFT JOIN omop_drug_exposure x ON x.drug_exposure_id = ee.event_id "
     "WHERE ee.episode_event_field_concept_id = 1147094 AND x.drug_exposure_id IS NULL "
     "ORDER BY ee.episode_id, ee.event_id LIMIT 1",
     "drug_exposure_id {0} (linked to episode {1}) is not in the drug_exposure table"),
)


def bad_value(table: str, column: str, value: object, row: int | None, expected: str) -> AuditInputError:
    where = f" (row {row})" if row else ""
    shown = repr(value)[:60]
    return AuditInputError(f"{table}.{column}: {shown}{where} is not {expected}")


EXPECTED = {"id": "a whole number", "int": "a whole number", "number": "a number",
            "date": "a date written YYYY-MM-DD", "datetime": "a date and time starting YYYY-MM-DD", "text": "text"}
