"""The Spark engine (``--engine spark``, ``pip install 'myeloma-kg[spark]'``).

The source is read into Spark (CSV and Parquet folders directly; a DuckDB database file is first
copied to Parquet by DuckDB), checked column by column as the embedded engine does, and the same
extraction SQL of ``queries/audit/`` runs in Spark SQL.  The records are built on the driver from
what the SQL returns, as with DuckDB, and judged on the executors with ``mapPartitions``: each
Python worker loads the graph and the rules once (from the installed package and the reasoner
cache, which the driver fills first, so no executor runs the reasoner) and keeps them while
Spark reuses the worker.

Spark runs ``local[N]`` (N = ``--jobs``, default 2) unless ``--spark-master`` names a cluster, and
binds its driver to 127.0.0.1 with the web UI off unless the Spark configuration says otherwise.
On a cluster the source path and the reasoner cache folder must be readable from the executors.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..config import Settings
from .rules import AuditInputError
from .source import EXPECTED, FILE_SUFFIXES, Column, Table, bad_value

BATCH = 2000  # decision points sent to the executors per Spark job


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class SparkEngine:
    name = "spark"

    def __init__(self, source: Path, master: str | None = None, jobs: int | None = None) -> None:
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise AuditInputError("--engine spark needs PySpark: pip install 'myeloma-kg[spark]' (and Java 17 or later)") from None
        self.source = source
        self.jobs = jobs or 2
        self._tmp: Path | None = None
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # every Spark service on loopback unless told otherwise
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        builder = (SparkSession.builder.appName("myeloma-kg audit").master(master or f"local[{self.jobs}]")
                   .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
                   .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
                   .config("spark.sql.session.timeZone", "UTC")
                   .config("spark.sql.shuffle.partitions", str(max(2, self.jobs * 2)))
                   .config("spark.python.worker.reuse", "true")
                   .config("spark.executorEnv.PYTHONPATH", os.pathsep.join(p for p in sys.path if p)))
        try:
            self.spark = builder.getOrCreate()
        except Exception as exc:  # noqa: BLE001 - Java missing, a bad master URL: say so and stop
            raise AuditInputError(f"Spark could not start ({str(exc).splitlines()[0][:300]})") from None
        self.spark.sparkContext.setLogLevel("ERROR")
        self.raw: dict[str, Any] = {}
        self.where: dict[str, str] = {}
        self._locate()

    # -- finding the tables -----------------------------------------------------------------

    def _locate(self) -> None:
        folder = self.source
        if not self.source.is_dir():
            folder = self._from_duckdb(self.source)
        files = {p.name.lower(): p for p in folder.iterdir() if p.is_file()}
        for suffix in FILE_SUFFIXES:
            for lower, path in files.items():
                if lower.endswith(suffix):
                    table = lower[: -len(suffix)]
                    if table in self.raw:
                        raise AuditInputError(f"{table}: SOURCE holds it twice ({self.where[table]} and {path.name}); keep one")
                    self.where[table] = path.name
                    self.raw[table] = path

    def _from_duckdb(self, path: Path) -> Path:
        """A DuckDB database's tables as Parquet files (Spark cannot read DuckDB files)."""
        from .embedded import DuckDBEngine

        self._tmp = Path(tempfile.mkdtemp(prefix="myeloma-kg-audit-spark-"))
        duck = DuckDBEngine(path, threads=self.jobs)
        try:
            for table, relation in duck.raw.items():
                target = str(self._tmp / f"{table}.parquet").replace("'", "''")
                duck.con.execute(f"COPY (SELECT * FROM {relation}) TO '{target}' (FORMAT PARQUET)")
        finally:
            duck.close()
        return self._tmp

    def _read(self, table: str):
        path = self.raw[table]
        try:
            if path.name.lower().endswith(".parquet"):
                return self.spark.read.parquet(str(path))
            return self.spark.read.csv(str(path), header=True, inferSchema=False, quote='"', escape='"',
                                       multiLine=False, enforceSchema=False)
        except Exception as exc:  # noqa: BLE001 - an unreadable file is bad input
            raise AuditInputError(f"{table}: {self.where[table]} cannot be read ({str(exc).splitlines()[0][:200]})") from None

    def has(self, table: str) -> bool:
        return table in self.raw

    def missing_message(self, table: str) -> str:
        if self.source.is_dir():
            return f"{table}: the table is missing (SOURCE has no {table}.csv or {table}.parquet)"
        return f"{table}: the table is missing (the database {self.source.name} has no table {table})"

    # -- checking and typing -----------------------------------------------------------------

    def prepare(self, table: Table) -> None:
        from .source import SQL_TYPES

        target = f"omop_{table.name}"
        if table.name not in self.raw:
            columns = ", ".join(f"CAST(NULL AS {SQL_TYPES[c.type]}) AS {c.name}" for c in table.columns)
            self.spark.sql(f"SELECT {columns} WHERE 1 = 0").createOrReplaceTempView(target)
            return
        frame = self._read(table.name)
        raw_view = f"raw_{table.name}"
        frame.createOrReplaceTempView(raw_view)
        present = {name.lower(): (name, kind.upper()) for name, kind in frame.dtypes}
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
            probe = ", ".join(f"MAX(CASE WHEN {bad} THEN 1 ELSE 0 END)" for _, _, bad in checks)
            flags = self.spark.sql(f"SELECT {probe} FROM {raw_view}").collect()[0]
            for (column, actual, bad), flag in zip(checks, flags):
                if flag:
                    self._report(table.name, column, actual, bad, raw_view)
        self.spark.sql(f"SELECT {', '.join(selects)} FROM {raw_view}").createOrReplaceTempView(target)
        self.spark.catalog.cacheTable(target)

    def _report(self, table: str, column: Column, actual: str, bad: str, raw_view: str) -> None:
        """The first bad row, numbered as in the file (reading order), for the message."""
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        frame = self.spark.table(raw_view).withColumn("_order", F.monotonically_increasing_id())
        numbered = frame.withColumn("_row", F.row_number().over(Window.orderBy("_order")))
        numbered.createOrReplaceTempView(f"{raw_view}_numbered")
        found = self.spark.sql(f"SELECT _row, {_quote(actual)} FROM {raw_view}_numbered WHERE {bad} ORDER BY _row LIMIT 1").collect()
        row, value = (found[0][0], found[0][1]) if found else (None, None)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise AuditInputError(f"{table}.{column.name}: empty at row {row}; every row needs a value")
        raise bad_value(table, column.name, value, row, EXPECTED[column.type])

    @staticmethod
    def _typing(table: str, column: Column, ref: str, kind: str) -> tuple[str, str | None]:
        from .source import SQL_TYPES

        sql_type = SQL_TYPES[column.type]
        text = kind.startswith("STRING")
        empty = f"({ref} IS NULL OR trim({ref}) = '')" if text else f"({ref} IS NULL)"
        bads = [empty] if column.not_null else []
        if text:
            value = f"NULLIF(trim({ref}), '')"
            if column.type in ("id", "int"):
                bads.append(f"({value} IS NOT NULL AND try_cast({value} AS BIGINT) IS NULL "
                            f"AND try_cast(try_cast({value} AS DOUBLE) AS BIGINT) IS NULL)")
                cast = f"CAST(CAST({value} AS DOUBLE) AS {sql_type})"
                cast = f"COALESCE(try_cast({value} AS {sql_type}), {cast})"
            elif column.type == "number":
                bads.append(f"({value} IS NOT NULL AND try_cast({value} AS DOUBLE) IS NULL)")
                cast = f"CAST({value} AS DOUBLE)"
            elif column.type == "date":
                bads.append(f"({value} IS NOT NULL AND (NOT ({value} RLIKE '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$') "
                            f"OR try_cast({value} AS DATE) IS NULL))")
                cast = f"CAST({value} AS DATE)"
            elif column.type == "datetime":
                bads.append(f"({value} IS NOT NULL AND (NOT ({value} RLIKE '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}([ T].*)?$') "
                            f"OR try_cast(substr({value}, 1, 10) AS DATE) IS NULL))")
                cast = f"CAST(substr({value}, 1, 10) AS DATE)"
            else:
                cast = f"NULLIF({ref}, '')"
            return cast, " OR ".join(bads) if bads else None
        base = kind.split("(")[0].strip()
        integers = ("TINYINT", "SMALLINT", "INT", "BIGINT", "BYTE", "SHORT", "LONG", "INTEGER")
        floats = ("FLOAT", "DOUBLE", "DECIMAL")
        if column.type in ("id", "int"):
            if base in floats:
                bads.append(f"({ref} IS NOT NULL AND {ref} <> floor({ref}))")
            elif base not in integers:
                raise AuditInputError(f"{table}.{column.name}: has the type {kind}; expected {EXPECTED[column.type]}")
        elif column.type == "number":
            if base not in integers + floats:
                raise AuditInputError(f"{table}.{column.name}: has the type {kind}; expected {EXPECTED[column.type]}")
        elif column.type in ("date", "datetime"):
            if not (base == "DATE" or base.startswith("TIMESTAMP")):
                raise AuditInputError(f"{table}.{column.name}: has the type {kind}; expected {EXPECTED[column.type]}")
        return f"CAST({ref} AS {sql_type})", " OR ".join(bads) if bads else None

    # -- running SQL ---------------------------------------------------------------------------

    def create(self, name: str, sql: str) -> None:
        self.spark.sql(sql).createOrReplaceTempView(name)
        self.spark.catalog.cacheTable(name)

    def register(self, name: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]) -> None:
        from pyspark.sql import types as T

        kinds = {"id": T.LongType(), "int": T.IntegerType(), "number": T.DoubleType(), "date": T.DateType(),
                 "datetime": T.DateType(), "text": T.StringType()}
        schema = T.StructType([T.StructField(c, kinds[t], True) for c, t in columns])
        self.spark.createDataFrame([tuple(r) for r in rows], schema).createOrReplaceTempView(name)
        self.spark.catalog.cacheTable(name)

    def fetch(self, sql: str, parameters: Sequence[Any] | None = None) -> list[tuple]:
        return [tuple(row) for row in self.spark.sql(sql).collect()]

    def stream(self, sql: str, batch: int = 20_000) -> Iterator[tuple]:
        for row in self.spark.sql(sql).toLocalIterator():
            yield tuple(row)

    def judges(self, settings: Settings, jobs: int | None) -> SparkJudges:
        return SparkJudges(self.spark, settings, jobs or self.jobs)

    def close(self) -> None:
        try:
            self.spark.catalog.clearCache()
            self.spark.stop()
        finally:
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)


def _judge_partition(settings: Settings):
    def judge(chunks: Iterable[list]) -> Iterator[tuple[str, dict[str, Any]]]:
        from ..patients import batch
        from .judge import _run_chunk

        if batch._worker is None:  # once per Python worker, which Spark reuses from task to task
            batch._init(settings)
        for chunk in chunks:
            yield from _run_chunk(chunk)
    return judge


class SparkJudges:
    """Decision points judged on the executors, a batch of them per Spark job, in their order."""

    def __init__(self, spark, settings: Settings, jobs: int) -> None:
        self.spark, self.settings, self.jobs = spark, settings, jobs

    def run(self, items: Iterable[tuple]) -> Iterator[tuple[str, dict[str, Any]]]:
        from ..patients import batch

        pending: list[tuple] = []
        for item in items:
            pending.append(item)
            if len(pending) == BATCH:
                yield from self._send(pending, batch.CHUNK)
                pending = []
        if pending:
            yield from self._send(pending, batch.CHUNK)

    def _send(self, items: list[tuple], size: int) -> list[tuple[str, dict[str, Any]]]:
        chunks = [items[i:i + size] for i in range(0, len(items), size)]
        rdd = self.spark.sparkContext.parallelize(chunks, min(len(chunks), self.jobs * 4))
        return rdd.mapPartitions(_judge_partition(self.settings)).collect()

    def close(self) -> None:
        pass
