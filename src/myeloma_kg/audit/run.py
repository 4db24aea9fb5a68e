"""``myeloma-kg audit SOURCE --output DIR``: the whole audit, from OMOP tables to the three outputs.

The engine (DuckDB, or Spark) checks the source and runs the extraction SQL of ``queries/audit/``;
this module builds each decision point's record from what the SQL returns, has the Recommender
judge it, and writes ``decision_points.csv`` (and ``.parquet``), ``summary.json`` and
``report.html``.  Everything is written into a temporary folder beside DIR that takes DIR's name
only when all of it is there, so a failed run leaves no DIR that looks finished.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Settings
from ..graph.version import GraphVersion, graph_version
from ..patients.records import Vocabulary
from ..queries import catalog_of
from .drugs import MAP_COLUMNS, map_drugs
from .judge import Judges
from .lines import derive_lines
from .progress import Progress
from .records import Aligned, DecisionPoint, by_person, decision_points, person_lines
from .rules import AuditInputError, GraphDrugs, LineRule, Mapping, extraction_sql
from .source import EPISODE_REFERENCES, EPISODE_TABLES, REFERENCES, TABLES

#: The columns of decision_points.csv: the contract's first, then the ones that say what produced
#: the row, then what the summary is made of.
COLUMNS = ("person_id", "line_number", "decision_date", "given", "status", "recommendations", "reasons",
           "graph_version", "content_hash", "rules_hash", "line_rule", "mapping_hash",
           "site", "year", "prior_lines", "high_risk_cytogenetics", "recommended_regimens", "matched_regimens",
           "applicable_recommendations", "unknown_agents", "missing_fields", "age_from",
           "ttnt_days", "ttnt_event", "os_days", "os_event")
PARQUET_TYPES = {"person_id": "BIGINT", "line_number": "INTEGER", "decision_date": "DATE", "year": "INTEGER",
                 "prior_lines": "INTEGER", "ttnt_days": "INTEGER", "ttnt_event": "INTEGER", "os_days": "INTEGER",
                 "os_event": "INTEGER"}
OUTPUT_FILES = ("decision_points.csv", "decision_points.parquet", "summary.json", "report.html")
STATUSES = ("concordant", "discordant", "not-covered", "not-evaluable")


@dataclass
class AuditOptions:
    engine: str = "duckdb"
    lines: str | None = None  # "episode", "derive" or None (episodes when the source has line episodes)
    mapping: Path | None = None
    min_cell_count: int = 5
    jobs: int | None = None
    spark_master: str | None = None
    write_records: bool = False


def open_engine(options: AuditOptions, source: Path, settings: Settings, work: Path | None = None):
    """The engine of ``options``; DuckDB's working database goes in ``work`` (the unfinished output,
    which a failed run removes) when it is given."""
    if options.engine == "spark":
        from .spark import SparkEngine

        return SparkEngine(source, master=options.spark_master, jobs=options.jobs)
    from .embedded import DuckDBEngine

    return DuckDBEngine(source, threads=min(options.jobs or 2, os.cpu_count() or 1),
                        folder=None if work is None else work / ".duckdb")


def run_audit(source: Path, output: Path, settings: Settings, options: AuditOptions | None = None,
              progress: Progress | None = None) -> dict[str, Any]:
    """Run the audit and write DIR; returns the summary.  Bad input raises AuditInputError."""
    options = options or AuditOptions()
    progress = progress or Progress(quiet=True)
    if not source.exists():
        raise AuditInputError(f"SOURCE {source} does not exist")
    _check_output(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".partial", dir=output.parent))
    mask = os.umask(0)
    os.umask(mask)
    work.chmod(0o777 & ~mask)  # as a folder made by mkdir would be
    try:
        summary = _audit(source, work, settings, options, progress)
        _replace(output, work)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    progress.phase(f"wrote {output}: {summary['decisionPoints']} decision points")
    return summary


def _check_output(output: Path) -> None:
    if output.exists() and not output.is_dir():
        raise AuditInputError(f"--output {output} is a file, not a folder")
    if output.is_dir():
        kept = {p.name for p in output.iterdir()} - set(OUTPUT_FILES) - {"records.jsonl"}
        if kept:
            raise AuditInputError(f"--output {output} holds other files ({', '.join(sorted(kept)[:3])}); "
                                  "name an empty or new folder, or an earlier audit's output")


def _replace(output: Path, work: Path) -> None:
    if output.exists():
        old = output.with_name(f".{output.name}.old-{os.getpid()}")
        output.rename(old)
        work.rename(output)
        shutil.rmtree(old, ignore_errors=True)
    else:
        work.rename(output)


def _audit(source: Path, work: Path, settings: Settings, options: AuditOptions, progress: Progress) -> dict[str, Any]:
    from ..graph.load import load_graph

    rule = LineRule.load(settings)
    mapping = Mapping.load(options.mapping or Mapping.default_path(settings))
    progress.phase("loading the graph and starting the workers")
    kg = load_graph(settings)
    version = graph_version(kg)
    drugs = GraphDrugs.of(kg, settings)
    vocabulary = Vocabulary.from_rows(kg.select(catalog_of(settings.queries_dir).program_query("patient", "vocabulary").text))
    # the embedded engine's worker processes start first, so that they load the graph while the SQL
    # runs (and are forked before DuckDB starts its threads); Spark judges on its own executors
    judges = Judges(settings, options.jobs) if options.engine == "duckdb" else None
    engine = None
    try:
        progress.phase(f"reading {source} ({options.engine})")
        engine = open_engine(options, source, settings, work)
        if judges is None:
            judges = engine.judges(settings, options.jobs)
        mode, drug_map, drug_counts = extract_lines(engine, settings, rule, options.lines, vocabulary, drugs, progress)
        sql = lambda name: extraction_sql(settings, name, window=rule.progression_window_days)  # noqa: E731
        engine.register("audit_mapping", (("omop_table", "text"), ("concept_id", "id"), ("field", "text"), ("value", "text")),
                        [(r.table, r.concept_id, r.field, r.value) for r in mapping.rows])
        progress.phase("facts and decision points")
        engine.create("audit_facts", sql("facts"))
        engine.create("audit_decision_points", sql("decision-points"))
        total = int(engine.fetch("SELECT COUNT(*) FROM audit_decision_points")[0][0])
        counts = {"persons": int(engine.fetch("SELECT COUNT(*) FROM omop_person")[0][0]),
                  "personsWithLines": int(engine.fetch("SELECT COUNT(DISTINCT person_id) FROM audit_lines")[0][0]),
                  "lines": int(engine.fetch("SELECT COUNT(*) FROM audit_lines")[0][0])}
        points = _points(engine, sql)

        progress.phase(f"judging {total} decision points with the recommender")
        rows = _judge(points, judges, progress, total, version, rule.label(mode), mapping,
                      work / "records.jsonl" if options.write_records else None)
    finally:
        if judges is not None:
            judges.close()
        if engine is not None:
            engine.close()
    rows.sort(key=lambda r: (r["person_id"], r["line_number"], r["decision_date"]))

    progress.phase("writing decision_points.csv and .parquet")
    write_rows(rows, work / "decision_points.csv")
    write_parquet(work / "decision_points.csv", work / "decision_points.parquet")

    progress.phase("summary and survival estimates")
    from .report import write_report
    from .summary import summarise

    context = {"source": str(source), "engine": options.engine, "lines": mode, "lineRule": rule.label(mode),
               "lineRuleHash": rule.hash, "mapping": mapping.name, "mappingHash": mapping.hash,
               "minCellCount": options.min_cell_count, "counts": counts, "drugs": _drug_summary(drug_counts, drug_map),
               "generated": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()}
    summary = summarise(rows, version, context)
    (work / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    progress.phase("report.html")
    write_report(summary, work / "report.html")
    return summary


def extract_lines(engine, settings: Settings, rule: LineRule, lines: str | None, vocabulary: Vocabulary,
                  drugs: GraphDrugs, progress: Progress):
    """Check the source, resolve its drugs and make the tables audit_lines and audit_line_drugs:
    (line mode, drug map, drug counts)."""
    mode = _prepare(engine, lines, progress)
    sql = lambda name: extraction_sql(settings, name, window=rule.progression_window_days)  # noqa: E731
    progress.phase("resolving drugs to the graph's drugs")
    drug_map = map_drugs(engine.fetch(sql("drug-ingredients")), vocabulary, drugs, rule.ignored)
    engine.register("audit_drug_map", MAP_COLUMNS, drug_map.rows)
    engine.create("audit_exposures", sql("exposures"))
    drug_counts = engine.fetch(sql("drug-counts"))
    progress.phase(f"lines of therapy ({'as the episodes give them' if mode == 'episode' else 'derived from drug exposures'})")
    if mode == "episode":
        engine.create("audit_lines", sql("episode-lines"))
        engine.create("audit_line_drugs", sql("episode-line-drugs"))
    else:
        _derive(engine, rule)
    return mode, drug_map, drug_counts


def _prepare(engine, lines: str | None, progress: Progress) -> str:
    """Check and type every table; the line mode to use."""
    episodes = engine.has("episode") and engine.has("episode_event")
    mode = lines or ("episode" if episodes else "derive")
    progress.phase("checking the tables and their columns")
    for table in TABLES.values():
        needed = table.required and (table.name not in EPISODE_TABLES or mode == "episode")
        if needed and not engine.has(table.name):
            raise AuditInputError(engine.missing_message(table.name))
        engine.prepare(table)
    if lines is None and mode == "episode":
        if not engine.fetch("SELECT COUNT(*) FROM omop_episode WHERE episode_concept_id = 32941")[0][0]:
            mode = "derive"
            progress.phase("the source has no line episodes (episode_concept_id 32941): lines are derived")
    for column, query, message in REFERENCES + (EPISODE_REFERENCES if mode == "episode" else ()):
        found = engine.fetch(query)
        if found:
            raise AuditInputError(f"{column}: " + message.format(*found[0]))
    return mode


def _derive(engine, rule: LineRule) -> None:
    lines, drugs = [], []
    rows = engine.stream("SELECT person_id, drug, unknown, start_date, end_date FROM audit_exposures "
                         "ORDER BY person_id, start_date, drug, end_date")
    for person, exposures in by_person(rows):
        derived = derive_lines([(d, bool(u), s, e) for _, d, u, s, e in exposures], rule)
        for line in derived:
            lines.append((person, line.number, line.number, line.start, line.end))
            for drug, span in line.drugs.items():
                drugs.append((person, line.number, drug, int(span.unknown), span.start, span.end))
    engine.register("audit_lines", (("person_id", "id"), ("line_id", "id"), ("line_number", "int"),
                                    ("start_date", "date"), ("end_date", "date")), lines)
    engine.register("audit_line_drugs", (("person_id", "id"), ("line_id", "id"), ("drug", "text"), ("unknown", "int"),
                                         ("start_date", "date"), ("end_date", "date")), drugs)


def _points(engine, sql) -> Iterator[DecisionPoint]:
    aligned = Aligned(lines=engine.stream(sql("lines")), facts=engine.stream(sql("point-facts")),
                      progression=engine.stream(sql("line-progression")), line_facts=engine.stream(sql("line-facts")))
    for person_id, rows in by_person(engine.stream(sql("persons"))):
        lines = person_lines(aligned.take("lines", person_id))
        yield from decision_points(rows[0], lines, aligned.take("facts", person_id),
                                   aligned.take("progression", person_id), aligned.take("line_facts", person_id))


def _judge(points: Iterator[DecisionPoint], judges: Judges, progress: Progress, total: int, version: GraphVersion,
           line_rule: str, mapping: Mapping, records: Path | None) -> list[dict[str, Any]]:
    pending: deque[DecisionPoint] = deque()
    lock = threading.Lock()
    handle = records.open("w", encoding="utf-8") if records else None

    def items():
        for point in points:
            with lock:
                pending.append(point)
            if handle is not None:
                handle.write(json.dumps({"person_id": point.person_id, "line_number": point.line_number,
                                         "asOf": point.decision_date.isoformat(), "given": point.given,
                                         "record": point.record}, ensure_ascii=False) + "\n")
            yield point.key, point.text(), point.decision_date.isoformat(), tuple(point.given)

    rows = []
    try:
        for key, verdict in progress.count(judges.run(items()), total, "decision points"):
            with lock:
                point = pending.popleft()
            assert point.key == key, (point.key, key)
            rows.append(_row(point, verdict, version, line_rule, mapping))
    finally:
        if handle is not None:
            handle.close()
    return rows


def _row(point: DecisionPoint, verdict: dict[str, Any], version: GraphVersion, line_rule: str,
         mapping: Mapping) -> dict[str, Any]:
    high = verdict["high_risk"]
    return {
        "person_id": point.person_id, "line_number": point.line_number,
        "decision_date": point.decision_date.isoformat(), "given": "|".join(point.given),
        "status": verdict["status"], "recommendations": "|".join(verdict["recommendations"]),
        "reasons": "|".join(verdict["reasons"]),
        "graph_version": f"{version.version} ({version.content_hash})" if version.content_hash else version.version,
        "content_hash": version.content_hash or "", "rules_hash": version.rules_hash or "",
        "line_rule": line_rule, "mapping_hash": mapping.hash,
        "site": "" if point.site is None else str(point.site), "year": point.decision_date.year,
        "prior_lines": len(point.record["therapyLines"]),
        "high_risk_cytogenetics": "" if high is None else ("true" if high else "false"),
        "recommended_regimens": "|".join(verdict["recommended"]), "matched_regimens": "|".join(verdict["matched"]),
        "applicable_recommendations": "|".join(verdict["applicable"]),
        "unknown_agents": "|".join(point.unknown_given), "missing_fields": "|".join(point.missing),
        "age_from": point.age_from,
        "ttnt_days": point.ttnt[0], "ttnt_event": point.ttnt[1], "os_days": point.os[0], "os_event": point.os[1],
    }


def write_rows(rows: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def write_parquet(csv_path: Path, parquet_path: Path) -> None:
    """The same rows as Parquet, with numbers and dates typed (written by DuckDB whatever the engine)."""
    import duckdb

    types = ", ".join(f"'{c}': '{PARQUET_TYPES.get(c, 'VARCHAR')}'" for c in COLUMNS)
    con = duckdb.connect(":memory:")
    try:
        source = str(csv_path).replace("'", "''")
        target = str(parquet_path).replace("'", "''")
        con.execute(f"COPY (SELECT * FROM read_csv('{source}', header = true, delim = ',', quote = '\"', escape = '\"', "
                    f"columns = {{{types}}})) TO '{target}' (FORMAT PARQUET)")
    finally:
        con.close()


def _drug_summary(counts: list[tuple], drug_map) -> dict[str, Any]:
    unknown: dict[str, dict[str, Any]] = {}
    ignored: dict[str, int] = {}
    for drug, is_unknown, is_ignored, _unmapped, concept, exposures, persons in counts:
        if is_ignored:
            ignored[drug] = ignored.get(drug, 0) + int(exposures)
        elif is_unknown:
            entry = unknown.setdefault(drug, {"agent": drug, "conceptIds": [], "exposures": 0, "persons": 0})
            entry["conceptIds"].append(int(concept))
            entry["exposures"] += int(exposures)
            entry["persons"] += int(persons)
    return {"drugConcepts": drug_map.concepts, "ingredientsMatchedBy": dict(drug_map.matched_by),
            "unknownAgents": sorted(unknown.values(), key=lambda e: (-e["exposures"], e["agent"])),
            "notRegimenComponents": [{"ingredient": k, "exposures": v} for k, v in sorted(ignored.items())]}
