"""The ``myeloma-kg`` command line: a thin click layer over plain functions."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

import click

from ..config import Settings, program_version
from ..errors import MyelomaKGError, QueryParameterError
from ..formats import RDF_FORMATS, TURTLE_SUFFIXES

STORE_HELP = "'memory' (default, embedded), a folder (embedded, kept on disk), or a SPARQL endpoint URL."


def _settings(ctx: click.Context, **overrides) -> Settings:
    base: Settings = ctx.obj["settings"]
    return base.with_overrides(overrides)


def _is_url(store: str) -> bool:
    return store.startswith(("http://", "https://"))


def _fail(exc: MyelomaKGError) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(exc.exit_code)


def _load(settings: Settings, **kwargs):
    from ..graph.load import load_graph

    return load_graph(settings, **kwargs)


GRAPH_VERSION_OPTION = click.option(
    "--graph-version", "pin", default=None, metavar="VERSION",
    help="Answer only from this graph version (a version number, version IRI or sha256: content hash prefix); exit 3 otherwise.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(program_version() or "unknown", prog_name="myeloma-kg")
@click.pass_context
def main(ctx: click.Context) -> None:
    """myeloma-kg: the 2025 Pan-Pacific consensus on anti-CD38 therapy in relapsed/refractory
    multiple myeloma as a knowledge graph, with its evidence, checks and SPARQL queries."""
    try:
        ctx.obj = {"settings": Settings.load()}
    except (KeyError, ValueError) as exc:
        click.echo(f"error: bad MYELOMA_KG_* setting: {exc}", err=True)
        sys.exit(2)


@main.command()
@click.argument("query_ref", metavar="FILE_OR_NAME")
@click.option("--param", "-p", "params", multiple=True, metavar="NAME=VALUE", help="A query parameter (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "tsv", "xml"]), default="table", show_default=True)
@click.option("--patient", "patient_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A patient record: it is validated, its derived facts are computed, and ?patient is bound to it.")
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD", help="With --patient: the date the record is read at.")
@click.option("--store", default=None, help=STORE_HELP)
@GRAPH_VERSION_OPTION
@click.pass_context
def query(ctx: click.Context, query_ref: str, params: tuple[str, ...], fmt: str, patient_file: Path | None,
          as_of: str | None, store: str | None, pin: str | None) -> None:
    """Run a named query of queries/ (see 'myeloma-kg queries') or a .rq file."""
    from ..graph.version import graph_version, remote_version
    from ..queries import QueryCatalog
    from .render import render

    settings = _settings(ctx, store=store)
    try:
        catalog = QueryCatalog(settings.queries_dir)
        named = catalog.resolve(query_ref)
        values = {}
        for item in params:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise QueryParameterError(f"--param {item!r}: write it as NAME=VALUE")
            values[key.strip()] = value
        if patient_file is None:
            if _is_url(settings.store):
                from ..graph.remote import open_remote

                # the dataset (the project's graphs on that store) goes with the query
                remote = open_remote(settings.store, settings.query_timeout_s, settings)
                version = _pinned(remote_version(remote), pin)
                click.echo(_rendered(render, remote.query(named.text, named.bind(values)), fmt))
                _say_version(version)
                return
            kg = _load(settings)
            version = _pinned(graph_version(kg), pin)
            click.echo(_rendered(render, kg.query(named.text, named.bind(values)), fmt))
            _say_version(version)
            return
        from ..patients.read import read_file
        from ..patients.recommend import Recommender

        recommender = Recommender(_load(settings), settings)
        _pinned(recommender.graph_version, pin)
        record = read_file(patient_file, recommender.vocabulary, as_of=_as_of(as_of), limits=recommender.limits)
        report = recommender.validate(record)
        if not report.conforms:
            click.echo(report.text(), err=True)
            sys.exit(1)
        values.setdefault("patient", record.iri.value)
        bindings = named.bind(values)
        with recommender.derived(record):
            click.echo(_rendered(render, recommender.work.query(named.text, bindings), fmt))
        _say_version(recommender.graph_version)
    except MyelomaKGError as exc:
        _fail(exc)


def _rendered(render, result, fmt: str) -> str:
    """The answer as text; the engine evaluates lazily, so what it cannot answer surfaces here."""
    from ..errors import QueryEvaluationError

    try:
        return render(result, fmt)
    except (OSError, RuntimeError, ValueError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else "no reason given"
        raise QueryEvaluationError(f"the query could not be answered: {detail}") from None


def _pinned(version, pin: str | None):
    """The version, if it is the one ``--graph-version`` asks for (or none was asked)."""
    from ..errors import VersionPinError

    if pin is not None and not version.matches(pin):
        raise VersionPinError(version.refusal(pin))
    return version


def _say_version(version) -> None:
    """Which graph answered, on standard error so that the answer itself stays machine-readable."""
    click.echo(f"answered by graph version {version.label()}", err=True)


@main.command("queries")
@click.pass_context
def list_queries(ctx: click.Context) -> None:
    """List the named queries with their parameters."""
    from ..queries import QueryCatalog

    try:
        catalog = QueryCatalog(_settings(ctx).queries_dir)
    except MyelomaKGError as exc:
        _fail(exc)
    for named in catalog:
        params = ", ".join(
            f"{p.name}:{p.type}" + ("" if p.default is None else f"={p.default}") for p in named.params
        )
        click.echo(f"{named.name}" + (f"  ({params})" if params else ""))
        click.echo(f"    {named.summary}")


@main.command()
@click.option("--format", "fmt", type=click.Choice(sorted(RDF_FORMATS)), default="turtle", show_default=True)
@click.option("--inferred", is_flag=True, help="Add what the OWL reasoner infers.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file instead of standard output.")
@click.option("--store", default=None, help=STORE_HELP)
@click.pass_context
def export(ctx: click.Context, fmt: str, inferred: bool, output: Path | None, store: str | None) -> None:
    """Write the shipped graph (ontology and guideline content)."""
    settings = _settings(ctx, store=store)
    try:
        kg = _load(settings, reason=inferred)
        data = kg.export(fmt, inferred=inferred)
    except MyelomaKGError as exc:
        _fail(exc)
    _emit(output, data, f" ({len(data)} bytes)")


@main.command()
@click.option("--with", "extra", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A draft Turtle file to check together with the shipped content (repeatable).")
@click.option("--store", default=None, help=STORE_HELP)
@click.pass_context
def check(ctx: click.Context, extra: tuple[Path, ...], store: str | None) -> None:
    """Quality checks: reasoner consistency, SHACL content shapes, SPARQL violation rules."""
    from ..content.checks import run_checks
    from ..graph.version import graph_version

    settings = _settings(ctx, store=store)
    started = time.perf_counter()
    try:
        kg = _load(settings, reason=False, extra=extra)
        report = run_checks(kg, settings)
        report.version = graph_version(kg).label() + (f", with {len(extra)} draft file(s)" if extra else "")
    except MyelomaKGError as exc:
        _fail(exc)
    report.timings["total"] = time.perf_counter() - started
    click.echo(report.text())
    sys.exit(0 if report.ok else 1)


@main.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", default=None, type=click.IntRange(1, 65535), help="Port (default 5000).")
@click.option("--store", default=None, help=STORE_HELP)
@click.option("--processes", default=None, type=click.IntRange(0, 64),
              help="Server processes sharing the graph and the port (default 1; 0: one per core).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, store: str | None,
          processes: int | None) -> None:
    """Serve the web app and the SPARQL endpoint."""
    settings = _settings(ctx, host=host, port=port, store=store, processes=processes)
    if not 1 <= settings.port <= 65535:  # MYELOMA_KG_PORT is not checked by click
        click.echo(f"error: the port must be a number from 1 to 65535, not {settings.port}", err=True)
        sys.exit(2)
    try:
        from ..web.urls import check_public_url

        check_public_url(settings.public_url)
        started = time.perf_counter()
        kg = _load(settings)
        seconds = time.perf_counter() - started
    except MyelomaKGError as exc:
        _fail(exc)
    click.echo(f"loaded the graph: {kg.count()} triples in {seconds:.2f} s (store: {settings.store})")
    click.echo(f"serving on http://{settings.host}:{settings.port}/ : SPARQL endpoint /sparql, "
               "named queries /api/queries, patients POST /api/validate and /api/recommend")
    from ..web.serve import run_server

    try:
        run_server(settings, kg)
    except OSError as exc:  # the address cannot be listened on
        import errno

        why = {errno.EADDRINUSE: "the address is in use (is another server running there?)",
               errno.EACCES: "permission denied (ports below 1024 need privileges)",
               errno.EADDRNOTAVAIL: "this machine has no such address"}.get(exc.errno, exc.strerror or str(exc))
        click.echo(f"error: cannot listen on {settings.host}:{settings.port}: {why}", err=True)
        sys.exit(2)


def _emit(output: Path | None, data: bytes, said: str) -> None:
    """An answer to its --output file (saying ``wrote FILE`` and ``said`` on standard error), or to
    standard output."""
    if output is None:
        sys.stdout.buffer.write(data)
        return
    _write(output, data)
    click.echo(f"wrote {output}{said}", err=True)


def _write(path: Path, data: bytes) -> None:
    """Write an --output file, making its folder; a path that cannot be written is one line, exit 2."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        click.echo(f"error: cannot write {path}: {exc.strerror or exc}", err=True)
        sys.exit(2)


def _as_of(value: str | None):
    import datetime as dt

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        click.echo(f"error: --as-of {value!r} is not a date written YYYY-MM-DD", err=True)
        sys.exit(2)


def _records(paths: tuple[Path, ...]):
    """(name, text) for each record: files, every *.json/*.jsonld/*.ttl of a folder, or JSON Lines."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.iterdir()):
                if child.suffix in (".json", ".jsonld", ".ttl"):
                    yield child.name, child
        elif path.suffix == ".jsonl":
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if line.strip():
                    yield f"{path.name}:{number}", line
        else:
            yield path.name, path


def _read(recommender, source, as_of):
    from ..patients.read import read_file

    if isinstance(source, Path):
        return read_file(source, recommender.vocabulary, as_of=as_of, limits=recommender.limits)
    return recommender.read(source, as_of=as_of)


@main.command()
@click.argument("patients", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD", help="Date the record is read at (default today).")
@click.option("--store", default=None, help=STORE_HELP)
@click.pass_context
def validate(ctx: click.Context, patients: tuple[Path, ...], fmt: str, as_of: str | None, store: str | None) -> None:
    """Check patient records (JSON, JSON-LD, Turtle; files, folders or JSON Lines) against the SHACL shapes."""
    import json as _json

    from ..patients.recommend import Recommender
    from ..patients.records import UnreadableRecord

    settings = _settings(ctx, store=store)
    date = _as_of(as_of)
    try:
        recommender = Recommender(_load(settings), settings)
    except MyelomaKGError as exc:
        _fail(exc)
    worst = 0
    for name, source in _records(patients):
        try:
            record = _read(recommender, source, date)
        except UnreadableRecord as exc:
            click.echo(_json.dumps({"record": name, "error": str(exc)}) if fmt == "json" else f"unreadable: {exc}")
            worst = 2
            continue
        report = recommender.validate(record)
        if fmt == "json":
            click.echo(_json.dumps({"record": name, **report.as_dict()}))
        else:
            click.echo(f"{name}: " + report.text())
        if not report.conforms:
            worst = max(worst, 1)
    sys.exit(worst)


@main.command()
@click.argument("patients", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default=None,
              help="text or json (default: text for one record, JSON Lines for many).")
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD", help="Date the record is read at (default today).")
@click.option("--jobs", default=None, type=click.IntRange(1, 64), help="Worker processes for a batch (default: one per core).")
@click.option("--jurisdiction", default=None, metavar="CODE",
              help="Mark each option's approval in this jurisdiction (JP, CN, US, EU...; wins over the record's own).")
@click.option("--store", default=None, help=STORE_HELP)
@GRAPH_VERSION_OPTION
@click.pass_context
def recommend(ctx: click.Context, patients: tuple[Path, ...], fmt: str | None, as_of: str | None, jobs: int | None,
              jurisdiction: str | None, store: str | None, pin: str | None) -> None:
    """Which regimens the guideline supports for a patient, and why the others do not apply.

    Give one record for a report, or a folder or a JSON Lines file for a batch: results stream
    as JSON Lines, with a progress bar on the terminal.
    """
    import json as _json

    from ..patients.recommend import Recommender, render_text
    from ..patients.records import UnreadableRecord

    settings = _settings(ctx, store=store)
    date = _as_of(as_of)
    items = list(_records(patients))
    single = len(items) == 1 and not patients[0].is_dir() and patients[0].suffix != ".jsonl"
    fmt = fmt or ("text" if single else "json")
    try:
        if not single:
            if pin is not None:  # the batch workers load their own graph: check the pin once, first
                from ..graph.version import graph_version

                _pinned(graph_version(_load(settings)), pin)
            sys.exit(_batch(items, settings, date, fmt, jobs, jurisdiction))
        recommender = Recommender(_load(settings), settings)
        _pinned(recommender.graph_version, pin)
        if jurisdiction is not None and recommender.jurisdiction_of(jurisdiction) is None:
            click.echo(f"--jurisdiction: {jurisdiction!r} is not a jurisdiction the graph records; "
                       f"give one of {', '.join(sorted(recommender.jurisdictions))}", err=True)
            sys.exit(2)
    except MyelomaKGError as exc:
        _fail(exc)
    name, source = items[0]
    try:
        record = _read(recommender, source, date)
    except UnreadableRecord as exc:
        click.echo(f"unreadable: {exc}", err=True)
        sys.exit(2)
    outcome = recommender.recommend(record, jurisdiction=jurisdiction)
    if outcome.recommendation is None:
        click.echo(outcome.report.to_json() if fmt == "json" else outcome.report.text())
        sys.exit(1)
    click.echo(_json.dumps(outcome.recommendation, indent=2) if fmt == "json" else render_text(outcome.recommendation))


def _batch(items, settings: Settings, date, fmt: str, jobs: int | None, jurisdiction: str | None = None) -> int:
    """Stream one JSON line per record (or text blocks), with a progress bar on a terminal."""
    from ..patients.batch import kind_of, recommend_many
    from ..patients.recommend import render_text

    def texts():
        for name, source in items:
            if isinstance(source, Path):
                try:
                    text = source.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as exc:
                    text = f"\0unreadable file: {exc}"
                yield name, text, "text/turtle" if source.suffix in TURTLE_SUFFIXES else None
            else:
                yield name, source, "application/json"

    worst = 0
    # JSON lines are written by the workers; this process only passes them on
    results = recommend_many(texts(), settings, as_of=date, jobs=jobs, jurisdiction=jurisdiction,
                             encoded=fmt == "json")
    bar = click.progressbar(results, length=len(items), label="patients", file=sys.stderr) if sys.stderr.isatty() else None
    with bar if bar is not None else contextlib.nullcontext(results) as rows:
        for result in rows:
            kind, row = result if fmt == "json" else (kind_of(result), result)
            worst = max(worst, {"ok": 0, "invalid": 1, "error": 2}[kind])  # the exit status
            if fmt == "json":
                sys.stdout.write(row + "\n")
            elif kind == "error":
                click.echo(f"{row['record']}: unreadable: {row['error']}\n")
            elif kind == "invalid":
                click.echo(f"{row['record']}: does not conform\n" + "\n".join(
                    f"  VIOLATION: {v['message']}" for v in row["validation"]["violations"]) + "\n")
            else:
                click.echo(f"{row['record']}:\n{render_text(row)}\n")
    return worst


@main.group()
def mappings() -> None:
    """The drugs' mappings to external vocabularies (RxNorm, NCIt, ATC, DrugBank)."""


@mappings.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file instead of standard output.")
@click.option("--store", default=None, help=STORE_HELP)
@click.pass_context
def mappings_export(ctx: click.Context, output: Path | None, store: str | None) -> None:
    """Write the mapping set as SSSOM TSV (verified codes only)."""
    from ..content.sssom import sssom_tsv
    from ..queries import QueryCatalog

    settings = _settings(ctx.parent, store=store)
    try:
        text = sssom_tsv(_load(settings), QueryCatalog(settings.queries_dir))
    except MyelomaKGError as exc:
        _fail(exc)
    if output:
        _write(output, text.encode("utf-8"))
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


@main.group()
def fhir() -> None:
    """The guideline as FHIR resources (CPG-on-FHIR, EBM-on-FHIR)."""


@fhir.command("export")
@click.option("--fhir-version", "fhir_version", type=click.Choice(["R5", "R4"]), default="R5", show_default=True,
              help="R5: every resource type; R4: the PlanDefinitions (with the CPG rating extensions) and ActivityDefinitions.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file instead of standard output.")
@click.option("--store", default=None, help=STORE_HELP)
@click.pass_context
def fhir_export(ctx: click.Context, fhir_version: str, output: Path | None, store: str | None) -> None:
    """Write the guideline as a FHIR Bundle (collection), checked with fhir.resources before it is written."""
    from ..fhir.bundle import export_bundle

    settings = _settings(ctx.parent, store=store)
    try:
        data, summary, problems = export_bundle(_load(settings), settings, fhir_version)
    except MyelomaKGError as exc:
        _fail(exc)
    if problems:
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        click.echo(f"error: {len(problems)} exported resources do not validate; nothing was written", err=True)
        sys.exit(1)
    _emit(output, data, f": {summary}")


@main.group()
def rxnorm() -> None:
    """Check and complete the drugs' RXCUIs from an RxNorm release."""


@rxnorm.command("import")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--store", default=None, help=STORE_HELP)
@click.pass_context
def rxnorm_import(ctx: click.Context, folder: Path, store: str | None) -> None:
    """Read RXNCONSO.RRF and RXNREL.RRF from FOLDER: list wrong or retired RXCUIs (exit 1), fill in
    missing ingredient RXCUIs and add the product concepts; the result persists in the data folder."""
    from ..content.rxnorm import read_release

    settings = _settings(ctx.parent, store=store)
    try:
        kg = _load(settings, reason=False)
        size = sum((folder / name).stat().st_size for name in ("RXNCONSO.RRF", "RXNREL.RRF") if (folder / name).is_file())
        if sys.stderr.isatty():
            with click.progressbar(length=size, label="reading the release", file=sys.stderr) as bar:
                report, turtle = read_release(folder, kg, progress=bar.update)
        else:
            report, turtle = read_release(folder, kg)
    except MyelomaKGError as exc:
        _fail(exc)
    settings.data_path.mkdir(parents=True, exist_ok=True)
    report.output = settings.data_path / "rxnorm.ttl"
    report.output.write_text(turtle, encoding="utf-8")
    click.echo(report.text())
    sys.exit(1 if report.mismatches else 0)


@main.command()
@click.option("--store", required=True, help="The query endpoint of a SPARQL 1.1 triple store (for example http://127.0.0.1:7878/query).")
@click.pass_context
def load(ctx: click.Context, store: str) -> None:
    """Put the shipped graph, with what the reasoner adds, into named graphs of a remote triple store.

    Each named graph is replaced; project graphs the store holds that are no longer part of the
    graph are dropped.  Then every graph is counted back from the store: a count that differs
    from what was sent is reported and the exit status is 1.
    """
    from ..graph.remote import open_remote
    from ..graph.store import META_GRAPH

    settings = _settings(ctx)
    try:
        kg = _load(settings.with_overrides({"store": "memory"}))
        remote = open_remote(store, max(30.0, settings.query_timeout_s), settings)
        sent: dict[str, int] = {}
        held: dict[str, int] = {}
        for graph in kg.graph_names(inferred=True) + [META_GRAPH]:  # meta: the content hash, for the version
            name = graph.value
            sent[name] = remote.replace_graph(name, kg.triples([graph]))
            held[name] = remote.count(name)
            click.echo(f"{name}: {sent[name]} triples sent, {held[name]} counted back")
        for name in remote.graphs(refresh=True):
            if name not in sent:
                remote.drop_graph(name)
                click.echo(f"{name}: dropped (not part of the graph any more)")
    except MyelomaKGError as exc:
        _fail(exc)
    wrong = [name for name in sent if held[name] != sent[name]]
    if wrong:
        for name in wrong:
            click.echo(f"error: {name}: {sent[name]} triples sent, but the store holds {held[name]}", err=True)
        click.echo(f"error: the store at {store} does not hold what was loaded "
                   f"({len(wrong)} of {len(sent)} graphs differ)", err=True)
        sys.exit(1)
    click.echo(f"loaded and checked: {len(sent)} graphs, {sum(held.values())} triples, every graph counted back as sent")


@main.command()
@click.option("--output", "output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The release folder (default: <releases folder>/<version>, see MYELOMA_KG_RELEASES_DIR).")
@click.option("--force", is_flag=True, help="Replace a release of the same version that holds other content.")
@click.option("--store", default=None, help=STORE_HELP)
@click.pass_context
def release(ctx: click.Context, output: Path | None, force: bool, store: str | None) -> None:
    """Write a release: the graph (Turtle, N-Triples, JSON-LD; with and without inferred triples),
    the SSSOM mappings and the FHIR Bundle, named by the graph's version, with checksums."""
    from ..content.release import write_release

    settings = _settings(ctx, store=store)
    try:
        done = write_release(_load(settings), settings, output, force=force)
    except MyelomaKGError as exc:
        _fail(exc)
    click.echo(f"release {done.version} ({done.content_hash}) written to {done.folder}:")
    for item in done.manifest["files"]:
        click.echo(f"  {item['file']}  {item['bytes']} bytes")
    click.echo("  release.json, SHA256SUMS (check with: sha256sum -c SHA256SUMS)")


@main.command(name="diff")
@click.argument("old")
@click.argument("new")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--exit-code", "exit_code", is_flag=True, help="Exit with status 1 when the versions differ.")
@click.pass_context
def diff_command(ctx: click.Context, old: str, new: str, fmt: str, exit_code: bool) -> None:
    """What changed from OLD to NEW: each a release folder, a checkout folder, or a git revision of
    this checkout's content.  Per recommendation, criterion, trial, outcome and drug in clinical
    words, then the raw triple difference."""
    import json as _json

    from ..content.diff import diff

    settings = _settings(ctx)
    try:
        found = diff(old, new, settings)
    except MyelomaKGError as exc:
        _fail(exc)
    click.echo(_json.dumps(found.as_json(), indent=2, ensure_ascii=False) if fmt == "json" else found.text())
    if exit_code and (found.entities or found.added_triples or found.removed_triples):
        sys.exit(1)



@main.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--output", "-o", "output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The folder for decision_points.csv (and .parquet), summary.json and report.html.")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb", show_default=True,
              help="duckdb (embedded) or spark (PySpark: pip install 'myeloma-kg[spark]').")
@click.option("--spark-master", default=None, metavar="URL", help="With --engine spark: the master (default local[N], N = --jobs).")
@click.option("--lines", type=click.Choice(["episode", "derive"]), default=None,
              help="Lines from the source's line episodes, or derived from drug exposures (default: episodes when there are some).")
@click.option("--mapping", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV table,concept_id,field,value: which OMOP rows fill which record field (default: the shipped mapping).")
@click.option("--min-cell-count", default=5, show_default=True, type=click.IntRange(1, None),
              help="Counts below this are shown as suppressed in summary.json and report.html.")
@click.option("--jobs", default=None, type=click.IntRange(1, 64), help="Worker processes for the recommender (default: one per core).")
@click.option("--write-records", is_flag=True, help="Also write records.jsonl: the JSON record of every decision point.")
@click.option("--store", default=None, help=STORE_HELP)
@click.pass_context
def audit(ctx: click.Context, source: Path, output: Path, engine: str, spark_master: str | None, lines: str | None,
          mapping: Path | None, min_cell_count: int, jobs: int | None, write_records: bool, store: str | None) -> None:
    """Audit an OMOP CDM 5.4 cohort against the guideline: at the start of every line from the second
    on, was the regimen given one the guideline supports for that patient on that date?

    SOURCE is a folder of CSV or Parquet tables (person.csv, drug_exposure.csv, ...) or a DuckDB
    database.  Bad input stops the audit with exit status 2 and leaves DIR as it was.
    """
    from ..audit.progress import Progress
    from ..audit.run import AuditOptions, run_audit

    settings = _settings(ctx, store=store)
    options = AuditOptions(engine=engine, lines=lines, mapping=mapping, min_cell_count=min_cell_count, jobs=jobs,
                           spark_master=spark_master, write_records=write_records)
    try:
        summary = run_audit(source, output, settings, options, Progress())
    except MyelomaKGError as exc:
        _fail(exc)
    statuses = ", ".join(f"{name} {cell['count']}" for name, cell in summary["byStatus"].items())
    click.echo(f"{summary['decisionPoints']} decision points: {statuses}")


@main.command("audit-sample")
@click.argument("output", type=click.Path(file_okay=False, path_type=Path))
@click.option("--persons", default=60, show_default=True, type=click.IntRange(1, 10_000_000), help="How many people.")
@click.option("--seed", default=1, show_default=True, type=int, help="The same seed gives the same cohort.")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet", "duckdb"]), default="csv", show_default=True,
              help="One CSV or Parquet file per table, or one DuckDB database file (omop.duckdb).")
@click.option("--twins", "twins_of", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Instead: the OMOP twins of the plain-JSON records (*.json) of this folder, with --as-of.")
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD", help="With --twins: the date the records are read at.")
@click.pass_context
def audit_sample(ctx: click.Context, output: Path, persons: int, seed: int, fmt: str, twins_of: Path | None,
                 as_of: str | None) -> None:
    """Write a synthetic OMOP CDM 5.4 myeloma cohort to OUTPUT, to try 'myeloma-kg audit' on.

    With --twins, each patient record of a folder becomes a person whose decision point on the
    --as-of date holds that record."""
    import json as _json

    from ..audit.synthetic import generate, twins, write_tables

    settings = _settings(ctx)
    date = _as_of(as_of)
    if twins_of is not None and date is None:
        click.echo("error: --twins needs --as-of", err=True)
        sys.exit(2)
    try:
        if twins_of is not None:
            records = [_json.loads(p.read_text(encoding="utf-8")) for p in sorted(twins_of.glob("*.json"))]
            tables = twins(records, date, settings, _load(settings))
        else:
            tables = generate(persons, seed, settings, _load(settings))
    except MyelomaKGError as exc:
        _fail(exc)
    except (ValueError, KeyError) as exc:
        click.echo(f"error: a record cannot be made into OMOP rows: {exc}", err=True)
        sys.exit(2)
    written = write_tables(tables, output, fmt)
    counts = ", ".join(f"{name} {len(rows)}" for name, rows in tables.items())
    click.echo(f"wrote {len(written)} file(s) to {output}: {counts}", err=True)


if __name__ == "__main__":
    main()
