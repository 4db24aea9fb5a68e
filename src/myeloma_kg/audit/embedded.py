"""The embedded engine: DuckDB reads the source, checks it and runs the extraction SQL.

SOURCE is a folder of ``<table>.csv`` (``.csv.gz``) or ``<table>.parquet`` files, or a DuckDB
database file holding the tables (in any schema; the one with ``person`` wins a tie).  Each table
is checked column by column and copied into a typed table ``omop_<table>`` of a working database
on disk (DuckDB keeps at most ``MEMORY_LIMIT`` of it in memory, the rest on disk); the extraction
SQL of ``queries/audit/`` then runs on those, and its results are read back row by row, person by
person.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb

from .rules import AuditInputError
from .source import EXPECTED, FILE_SUFFIXES, SQL_TYPES, Column, Table, bad_value

# DuckDB's memory for the extraction: beyond it, its tables and intermediate results go to disk
MEMORY_LIMIT = "512MB"

INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                 "UBIGINT", "UHUGEINT", "INT")
FLOAT_TYPES = ("FLOAT", "DOUBLE", "REAL", "DECIMAL")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DuckDBEngine:
    name = "duckdb"

    def __init__(self, source: Path, threads: int | None = None, folder: Path | None = None) -> None:
        self.source = source
        # a database file in a folder of its own, and a memory limit: DuckDB keeps what does not fit
        # on disk, so a cohort larger than the machine's memory can be read (an in-memory database
        # held the whole source: 1.1 GiB at 100,000 persons, 0.4 GiB so).  The folder is
        # ``folder`` (the audit gives one inside its unfinished output, which a failed run
        # removes) or a temporary one; it goes at close()
        if folder is None:
            folder = Path(tempfile.mkdtemp(prefix="myeloma-kg-audit-"))
        else:
            folder.mkdir(parents=True, exist_ok=False)
        self._folder = folder
        self.con = duckdb.connect(str(folder / "work.duckdb"))
        self.con.execute(f"SET memory_limit = {_literal(MEMORY_LIMIT)}")
        self.con.execute(f"SET temp_directory = {_literal(str(folder / 'spill'))}")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        self.con.execute("SET preserve_insertion_order = true")
        self.raw: dict[str, str] = {}  # table -> SQL relation of the source table
        self.where: dict[str, str] = {}  # table -> where it was found, for messages
        try:
            self._locate()
        except BaseException:
            self.close()
            raise

    # -- finding the tables -----------------------------------------------------------------

    def _locate(self) -> None:
        source = self.source
        if source.is_dir():
            files = {p.name.lower(): p for p in source.iterdir() if p.is_file()}
            for suffix in FILE_SUFFIXES:
                for lower, path in files.items():
                    if lower.endswith(suffix):
                        table = lower[: -len(suffix)]
                        if table in self.raw:
                            raise AuditInputError(f"{table}: SOURCE holds it twice ({self.where[table]} and {path.name}); keep one")
                        self.raw[table] = self._file_relation(path, suffix)
                        self.where[table] = path.name
            return
        try:
            self.con.execute(f"ATTACH {_literal(str(source))} AS omop_source (READ_ONLY)")
        except duckdb.Error as exc:
            raise AuditInputError(f"SOURCE {source} is neither a folder of OMOP tables (CSV or Parquet) "
                                  f"nor a DuckDB database ({str(exc).splitlines()[0]})") from None
        rows = self.con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'omop_source' "
            "UNION ALL SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = 'omop_source'"
        ).fetchall()
        schemas: dict[str, list[str]] = {}
        for schema, table in rows:
            schemas.setdefault(table.lower(), []).append(schema)
        preferred = set(schemas.get("person", []))
        for table, found in schemas.items():
            schema = next((s for s in found if s in preferred), found[0])
            actual = next(t for s, t in rows if s == schema and t.lower() == table)
            self.raw[table] = f"omop_source.{_quote(schema)}.{_quote(actual)}"
            self.where[table] = f"{schema}.{actual} in {source.name}"

    @staticmethod
    def _file_relation(path: Path, suffix: str) -> str:
        if suffix == ".parquet":
            return f"read_parquet({_literal(str(path))})"
        return (f"read_csv({_literal(str(path))}, header = true, all_varchar = true, delim = ',', quote = '\"', "
                f"escape = '\"')")

    def has(self, table: str) -> bool:
        return table in self.raw

    def missing_message(self, table: str) -> str:
        if self.source.is_dir():
            return f"{table}: the table is missing (SOURCE has no {table}.csv or {table}.parquet)"
        return f"{table}: the table is missing (the database {self.source.name} has no table {table})"

    # -- checking and typing -----------------------------------------------------------------

    def prepare(self, table: Table) -> None:
        """Check the source table and make the typed table ``omop_<name>`` (empty if absent)."""
        target = f"omop_{table.name}"
        if table.name not in self.raw:
            columns = ", ".join(f"CAST(NULL AS {SQL_TYPES[c.type]}) AS {c.name}" for c in table.columns)
            self.con.execute(f"CREATE OR REPLACE TABLE {target} AS SELECT {columns} WHERE 1 = 0")
            return
        raw = self.raw[table.name]
        try:
            described = self.con.execute(f"DESCRIBE SELECT * FROM {raw}").fetchall()
        except duckdb.Error as exc:
            raise AuditInputError(f"{table.name}: {self.where[table.name]} cannot be read ({str(exc).splitlines()[0]})") from None
        present = {row[0].lower(): (row[0], str(row[1]).upper()) for row in described}
        selects, checks = [], []
        for column in table.columns:
            if column.name not in present:
                if column.required:
                    have = ", ".join(sorted(present)) or "no columns"
                    raise AuditInputError(f"{table.name}.{column.name}: the column is missing ({self.where[table.name]} has {have})")
                selects.append(f"CAST(NULL AS {SQL_TYPES[column.type]}) AS {column.name}")
                continue
            actual, kind = present[column.name]
            cast, bad = self._typing(table.name, column, _quote(actual), kind)
            selects.append(f"{cast} AS {column.name}")
            if bad:
                checks.append((column, actual, bad))
        if checks:
            probe = ", ".join(f"MIN(CASE WHEN {bad} THEN rn END)" for _, _, bad in checks)
            try:
                first = self.con.execute(
                    f"SELECT {probe} FROM (SELECT row_number() OVER () AS rn, * FROM {raw}) t").fetchone()
            except duckdb.Error as exc:
                raise AuditInputError(f"{table.name}: {self.where[table.name]} cannot be read ({str(exc).splitlines()[0]})") from None
            for (column, actual, _), row in zip(checks, first or ()):
                if row is not None:
                    value = self.con.execute(
                        f"SELECT {_quote(actual)} FROM (SELECT row_number() OVER () AS rn, * FROM {raw}) t WHERE rn = ?",
                        [row]).fetchone()
                    shown = value[0] if value else None
                    if shown is None or (isinstance(shown, str) and not shown.strip()):
                        raise AuditInputError(f"{table.name}.{column.name}: empty at row {row}; every row needs a value")
                    raise bad_value(table.name, column.name, shown, row, EXPECTED[column.type])
        self.con.execute(f"CREATE OR REPLACE TABLE {target} AS SELECT {', '.join(selects)} FROM {raw}")

    def _typing(self, table: str, column: Column, ref: str, kind: str) -> tuple[str, str | None]:
        """The cast to the column's type and the condition that marks a bad row (None: none can be)."""
        sql_type = SQL_TYPES[column.type]
        empty = f"({ref} IS NULL OR trim({ref}) = '')" if kind.startswith("VARCHAR") else f"({ref} IS NULL)"
        bads = [empty] if column.not_null else []
        if kind.startswith("VARCHAR"):
            value = f"NULLIF(trim({ref}), '')"
            if column.type in ("id", "int"):
                bads.append(f"({value} IS NOT NULL AND TRY_CAST({value} AS BIGINT) IS NULL)")
                cast = f"CAST({value} AS {sql_type})"
            elif column.type == "number":
                bads.append(f"({value} IS NOT NULL AND TRY_CAST({value} AS DOUBLE) IS NULL)")
                cast = f"CAST({value} AS DOUBLE)"
            elif column.type == "date":
                bads.append(f"({value} IS NOT NULL AND (NOT regexp_full_match({value}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') "
                            f"OR TRY_CAST({value} AS DATE) IS NULL))")
                cast = f"CAST({value} AS DATE)"
            elif column.type == "datetime":
                bads.append(f"({value} IS NOT NULL AND (NOT regexp_full_match({value}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}([ T].*)?') "
                            f"OR TRY_CAST(substr({value}, 1, 10) AS DATE) IS NULL))")
                cast = f"CAST(substr({value}, 1, 10) AS DATE)"
            else:
                cast = f"NULLIF({ref}, '')"
            return cast, " OR ".join(bads) if bads else None
        base = kind.split("(")[0].strip()
        if column.type in ("id", "int"):
            if base in FLOAT_TYPES:
                bads.append(f"({ref} IS NOT NULL AND {ref} <> floor({ref}))")
            elif base not in INTEGER_TYPES:
                raise AuditInputError(f"{table}.{column.name}: has the type {kind}; expected {EXPECTED[column.type]}")
        elif column.type == "number":
            if base not in INTEGER_TYPES + FLOAT_TYPES:
                raise AuditInputError(f"{table}.{column.name}: has the type {kind}; expected {EXPECTED[column.type]}")
        elif column.type in ("date", "datetime"):
            if not (base == "DATE" or base.startswith("TIMESTAMP")):
                raise AuditInputError(f"{table}.{column.name}: has the type {kind}; expected {EXPECTED[column.type]}")
        cast = f"CAST({ref} AS {sql_type})"
        return cast, " OR ".join(bads) if bads else None

    # -- running SQL ---------------------------------------------------------------------------

    def create(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS {sql}")

    def register(self, name: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]) -> None:
        """A table made from Python rows; ``columns`` are (name, type of source.SQL_TYPES)."""
        import pandas as pd

        frame = pd.DataFrame(list(rows), columns=[c for c, _ in columns], dtype=object)
        self.con.register("audit_incoming", frame)
        try:
            casts = ", ".join(f"CAST({_quote(c)} AS {SQL_TYPES[t]}) AS {c}" for c, t in columns)
            self.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {casts} FROM audit_incoming")
        finally:
            self.con.unregister("audit_incoming")

    def fetch(self, sql: str, parameters: Sequence[Any] | None = None) -> list[tuple]:
        return self.con.execute(sql, list(parameters or [])).fetchall()

    def stream(self, sql: str, batch: int = 20_000) -> Iterator[tuple]:
        """Rows of a query read a batch at a time, on a cursor of its own (several can be open)."""
        cursor = self.con.cursor()
        try:
            cursor.execute(sql)
            while True:
                rows = cursor.fetchmany(batch)
                if not rows:
                    break
                yield from rows
        finally:
            cursor.close()

    def close(self) -> None:
        try:
            self.con.close()
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)
