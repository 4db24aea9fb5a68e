"""Every IRI of the shipped graph, dereferenced: an HTML page for browsers, RDF by Accept or extension."""

from __future__ import annotations

import pyoxigraph as ox
from flask import Blueprint, Response, abort, current_app, render_template, request, send_from_directory

from ..config import web_dir
from ..formats import BY_EXTENSION, BY_MEDIA_TYPE, RDF_FORMATS, TRIPLE_FORMATS
from ..namespaces import BASE, compact
from .common import catalog as _catalog
from .common import named_rows as _named
from .common import record_limits, run_patient
from .vocab import STATUS_SCHEME, vocabulary

WEB = web_dir()  # the shipped templates and static files (see config.shipped_home)
pages = Blueprint("pages", __name__, template_folder=str(WEB / "templates"))

KINDS = ("drug", "regimen", "trial", "recommendation", "risk", "outcome", "criterion", "caution", "action",
         "schedule", "publication", "guideline", "identifier", "grading", "toxicity", "jurisdiction",
         "regulatory-status")
EXTENSIONS = {f.extension: f.media_type for f in TRIPLE_FORMATS.values()}  # one resource, or the ontology
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
SKOS_DEFINITION = "http://www.w3.org/2004/02/skos/core#definition"
MKG = BASE + "ontology#"

# The browse lists at /<kind>/: the named query each is read from (sorted there) and its column of IRIs.
LISTS = {
    "recommendation": {"title": "Recommendations", "query": "recommendations-by-topic", "column": "recommendation"},
    "trial": {"title": "Trials and studies", "query": "browse-trials", "column": "study"},
    "regimen": {"title": "Regimens", "query": "browse-regimens", "column": "regimen"},
    "drug": {"title": "Drugs", "query": "browse-drugs", "column": "drug"},
    "publication": {"title": "Publications", "query": "browse-publications", "column": "publication"},
}


@pages.get("/static/<path:filename>")
def static_file(filename: str):
    return send_from_directory(WEB / "static", filename)


def _local_href(iri: str) -> str | None:
    if iri.startswith(BASE) and not iri.startswith(BASE + "ontology"):
        return "/" + iri[len(BASE):]
    return None


def _href(iri: str) -> str:
    """Where a link to ``iri`` goes: its page here, its row on the ontology page, or the IRI itself."""
    return _local_href(iri) or vocabulary().term_href(iri) or iri


def _describe(iri: str) -> list[ox.Triple]:
    kg = current_app.extensions["kg"]
    try:
        node = ox.NamedNode(iri)
    except ValueError:  # the path holds characters no IRI may hold (a space, a backtick, ...): nothing there
        return []
    return list(kg.triples_about(node))


@pages.get("/<any(" + ", ".join(LISTS) + "):kind>/")
def browse(kind: str):
    """Every resource of one kind, with its label and a link, in the order of its named query."""
    rows = _named(LISTS[kind]["query"])
    terms = vocabulary().terms
    for row in rows:
        row["href"] = _href(row[LISTS[kind]["column"]])
        if kind == "drug":  # each class by its label, linked to the ontology page
            row["classList"] = [(name, terms[name].label if name in terms else name) for name in (row.get("classes") or "").split()]
    return render_template("browse.html", kind=kind, title=LISTS[kind]["title"], rows=rows,
                           query=LISTS[kind]["query"], lists=LISTS)


@pages.get("/about/evidence-status")
def evidence_status():
    """The evidence statuses: the values of mkg:EvidenceStatusScheme, as the graph defines them."""
    return render_template("evidence_status.html", statuses=vocabulary().statuses, scheme=STATUS_SCHEME,
                           scheme_label=_label_of(STATUS_SCHEME), scheme_definition=_literal(STATUS_SCHEME, SKOS_DEFINITION),
                           properties=[(MKG + name, _literal(MKG + name, SKOS_DEFINITION))
                                       for name in ("evidenceStatus", "nctIdStatus")])


def _literal(iri: str, predicate: str) -> str:
    for quad in current_app.extensions["kg"].store.quads_for_pattern(ox.NamedNode(iri), ox.NamedNode(predicate), None, None):
        return quad.object.value
    return ""


@pages.get("/<any(" + ", ".join(repr(k) for k in KINDS) + "):kind>/<path:local>")
def resource(kind: str, local: str):
    if local.endswith("/forest.svg") and kind in ("recommendation", "regimen"):
        return forest(kind, local[: -len("/forest.svg")])
    extension = None
    for ext in EXTENSIONS:
        if local.endswith("." + ext):
            local, extension = local[: -len(ext) - 1], ext
            break
    iri = f"{BASE}{kind}/{local}"
    triples = _describe(iri)
    if not triples:
        abort(404)
    if extension:
        media = EXTENSIONS[extension]
    else:
        media = request.accept_mimetypes.best_match(["text/html"] + list(EXTENSIONS.values()), default="text/html")
    if media != "text/html":
        fmt = BY_MEDIA_TYPE[media].oxigraph
        return Response(ox.serialize(triples, format=fmt), mimetype=media)
    return _html(iri, triples, f"/{kind}/{local}")


def _recommendation_summary(iri: str) -> dict | None:
    evidence = _named("recommendation-evidence", recommendation=iri)
    parts = _named("recommendation-criteria", recommendation=iri)
    statement = evidence[0]["statement"] if evidence else next(
        (q.object.value for q in current_app.extensions["kg"].store.quads_for_pattern(
            ox.NamedNode(iri), ox.NamedNode(BASE + "ontology#statement"), None, None)), "")
    return {
        "statement": statement,
        "applies": sorted({p["text"] for p in parts if p["kind"] == "applies when"}),
        "conditions": [p for p in parts if p["kind"] == "regimen condition"],
        "cautions": sorted({p["text"] for p in parts if p["kind"] == "caution"}),
        "evidence": evidence,
        "grading": next(iter(_named("recommendation-grading", recommendation=iri)), None),
        "history": _named("recommendation-review-history", recommendation=iri),
        "findings": _named("summary-of-findings", recommendation=iri),
    }


def _label_of(iri: str) -> str:
    kg = current_app.extensions["kg"]
    for quad in kg.store.quads_for_pattern(ox.NamedNode(iri), ox.NamedNode(RDFS_LABEL), None, None):
        return quad.object.value
    return compact(iri)


def _html(iri: str, triples: list[ox.Triple], path: str):
    kg = current_app.extensions["kg"]
    vocab = vocabulary()
    outgoing = [t for t in triples if t.subject.value == iri]
    label = next((t.object.value for t in outgoing if t.predicate.value == RDFS_LABEL), compact(iri))
    types = sorted({t.object.value for t in outgoing if t.predicate.value.endswith("#type")}, key=compact)
    status = next((vocab.status(t.object.value) for t in outgoing if t.predicate.value.endswith("#evidenceStatus")), None)
    properties: dict[str, list[dict]] = {}
    for t in sorted(outgoing, key=lambda t: t.predicate.value):
        if t.predicate.value.endswith("#type") or t.predicate.value == RDFS_LABEL:
            continue
        obj = t.object
        if isinstance(obj, ox.NamedNode) and vocab.status(obj.value):
            value: dict = {"status": obj.value}
        elif isinstance(obj, ox.NamedNode):
            value = {"text": _label_of(obj.value), "href": _href(obj.value)}
        else:
            value = {"text": obj.value, "href": None}
        properties.setdefault(t.predicate.value, []).append(value)
    incoming = []
    for quad in kg.store.quads_for_pattern(None, None, ox.NamedNode(iri), None):
        subject = quad.subject.value
        if isinstance(quad.subject, ox.NamedNode) and _local_href(subject):
            item = {"text": _label_of(subject), "href": _local_href(subject), "via": quad.predicate.value}
            if item not in incoming:
                incoming.append(item)
    formats = [("Turtle", "ttl"), ("JSON-LD", "jsonld"), ("RDF/XML", "rdf"), ("N-Triples", "nt")]
    outcomes = _named("trial-outcomes", trial=iri) if path.startswith("/trial/") else []
    identifiers = _named("drug-identifiers", drug=iri) if path.startswith("/drug/") else []
    dosing = _named("regimen-dosing", regimen=iri) if path.startswith("/regimen/") else []
    summary = _recommendation_summary(iri) if path.startswith("/recommendation/") else None
    forest = None
    if path.startswith(("/recommendation/", "/regimen/")):
        rows = _forest_rows(iri)
        forest = {"rows": len(rows), "cited": sum(1 for r in rows if r["cited"]),
                  "unverified": sum(1 for r in rows if not r["verified"])}
    return render_template("resource.html", iri=iri, label=label, types=types, status=status,
                           outcomes=outcomes, identifiers=identifiers, dosing=dosing, summary=summary,
                           properties=sorted(properties.items(), key=lambda item: compact(item[0])),
                           incoming=incoming[:200], path=path, formats=formats, forest=forest)


def _forest_rows(iri: str) -> list[dict]:
    """The rows of a forest plot: the hazard ratios behind ``iri``, each marked cited or not and
    verified or not, with its evidence status in words."""
    rows = _named("hazard-ratios", subject=iri)
    for row in rows:
        status = vocabulary().status(row.get("evidenceStatus"))
        row["cited"] = bool(row.get("citedOutcome"))
        row["verified"] = status is not None and status.notation == "verified"
        row["statusLabel"] = status.label if status else "no status recorded"
    return rows


@pages.get("/")
def home():
    kg = current_app.extensions["kg"]
    catalog = _catalog()
    rows = kg.select(catalog.get("recommendations-by-topic").text)
    recommendations = [{
        "label": r["label"], "href": _local_href(r["recommendation"]), "topics": r.get("topics") or "",
        "statement": r["statement"], "status": r["evidenceStatus"],
    } for r in rows]
    guideline_iri = BASE + "guideline/ppmmwg-2025"
    citation = ""
    for quad in kg.store.quads_for_pattern(ox.NamedNode(guideline_iri), None, None, None):
        if quad.predicate.value.endswith("bibliographicCitation"):
            citation = quad.object.value
    guideline = {"label": _label_of(guideline_iri), "citation": citation}
    by_topic: dict[str, list[dict]] = {}
    for rec in recommendations:
        first_topic = (rec["topics"] or "other").split("; ")[0]
        by_topic.setdefault(first_topic, []).append(rec)
    return render_template("home.html", guideline=guideline, recommendations=recommendations,
                           by_topic=list(by_topic.items()), lists=LISTS, reconstructed=vocabulary().status("reconstructed"))


DOWNLOAD_FORMATS = {RDF_FORMATS[name].extension: RDF_FORMATS[name] for name in ("turtle", "nt", "jsonld", "xml", "trig")}
DOWNLOADS = [(f.label, ext) for ext, f in DOWNLOAD_FORMATS.items()]


@pages.get("/search")
def search():
    q = request.args.get("q", "").strip()[:100]
    results = []
    if q:
        kg = current_app.extensions["kg"]
        catalog = _catalog()
        named = catalog.get("search-labels")
        for row in kg.select(named.text, named.bind({"text": q})):
            href = _local_href(row["entity"]) or vocabulary().term_href(row["entity"])
            if href:
                results.append({"label": row["label"], "href": href, "matched": row["matched"],
                                "types": (row.get("types") or "").split()})
    return render_template("search.html", q=q, results=results, downloads=DOWNLOADS)


@pages.get("/download/myeloma-kg.<ext>")
def download(ext: str):
    if ext not in DOWNLOAD_FORMATS:
        abort(404)
    name = DOWNLOAD_FORMATS[ext].name
    data = current_app.extensions["kg"].export(name, inferred=True)
    version = current_app.extensions["graph_version"]
    if ext in ("ttl", "nt", "trig"):  # formats with comments say the version on their first line
        data = f"# myeloma-kg graph version {version.version}, content {version.content_hash}\n".encode() + data
    response = Response(data, mimetype=DOWNLOAD_FORMATS[ext].media_type)
    response.headers["Content-Disposition"] = f"attachment; filename=myeloma-kg-{version.version}.{ext}"
    return response


def forest(kind: str, local: str):
    """The forest plot of a recommendation or regimen (served at its IRI path + /forest.svg)."""
    from .forest import forest_svg

    iri = f"{BASE}{kind}/{local}"
    if not _describe(iri):
        abort(404)
    rows = _forest_rows(iri)
    return Response(forest_svg(rows, f"Hazard ratios behind {_label_of(iri)}", kind=kind), mimetype="image/svg+xml")


@pages.get("/query")
def query_editor():
    from ..namespaces import PREFIXES
    catalog = _catalog()
    settings = current_app.config["SETTINGS"]
    usable = [q for q in catalog if not any(p.required and p.default is None for p in q.params)
              and "federation" not in q.tags]
    payload = {"prefixes": PREFIXES, "queries": {q.name: _with_defaults(q) for q in usable}, "base": BASE}
    groups: dict[str, list] = {}
    for q in usable:  # by the first tag each query names
        groups.setdefault(q.tags[0] if q.tags else "other", []).append(q)
    response = Response(render_template("query.html", queries=usable, payload=payload, groups=sorted(groups.items()),
                                        timeout=f"{settings.query_timeout_s:g}", max_rows=settings.max_result_rows))
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "font-src 'self' data:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'")
    return response


def _with_defaults(named) -> str:
    """The query text with each parameter's default written in as a VALUES row, for the editor."""
    values = []
    for param in named.params:
        if param.default is not None:
            term = param.to_term(param.default)
            values.append((param.name, str(term)))
    text = "\n".join(line for line in named.text.splitlines() if not line.startswith("#+"))
    if not values:
        return text
    names = " ".join("?" + n for n, _ in values)
    row = " ".join(v for _, v in values)
    brace = text.index("{", text.upper().index("WHERE")) + 1
    return text[:brace] + f"\n  VALUES ({names}) {{ ({row}) }}" + text[brace:]


@pages.app_template_filter("local")
def _local_filter(iri: str) -> str:
    return _href(iri)


@pages.app_template_filter("badge")
def _badge_filter(value) -> str:
    """An evidence status (IRI, notation or label) as a badge that links to the page explaining it."""
    return vocabulary().badge(value)


@pages.app_template_filter("term")
def _term_filter(value: str, text: str | None = None) -> str:
    """An ``mkg:`` term (IRI or compact name) linked to its row on the ontology page."""
    return vocabulary().term_link(value, text)


@pages.app_template_filter("linkify")
def _linkify_filter(text) -> str:
    """Text with the ``mkg:`` terms it mentions linked to the ontology page."""
    return vocabulary().linkify(text)


@pages.app_template_filter("compact")
def _compact_filter(iri: str) -> str:
    return compact(iri)


@pages.route("/patient", methods=["GET", "POST"])
def patient():
    import datetime as dt
    import secrets

    from flask import session

    from ..errors import PatientWorkError
    from ..patients.pool import PatientJob
    from ..patients.records import UnreadableRecord

    if "csrf_token" not in session:
        session["csrf_token"] = secrets.token_urlsafe(32)
    context = {"csrf_token": session["csrf_token"], "record": "", "as_of": dt.date.today().isoformat(),
               "error": None, "report": None, "result": None, "examples": _patient_examples(),
               "jurisdictions": sorted(current_app.extensions["recommender"].jurisdictions.values(), key=lambda j: j["label"]),
               "jurisdiction": ""}
    if request.method == "GET":
        return render_template("patient.html", **context)
    if not secrets.compare_digest(request.form.get("csrf_token", ""), session["csrf_token"]):
        context["error"] = "The form has expired; please send it again."
        return render_template("patient.html", **context), 400
    upload = request.files.get("upload")
    text = upload.read().decode("utf-8", errors="replace") if upload and upload.filename else request.form.get("record", "")
    try:
        record_limits().check_size(len(text.encode("utf-8", errors="surrogatepass")))
    except UnreadableRecord as exc:  # a record too large is not shown again in the form
        context["error"] = str(exc)
        return render_template("patient.html", **context), exc.status
    context["record"] = text
    try:
        as_of = dt.date.fromisoformat(request.form.get("as_of") or context["as_of"])
        context["as_of"] = as_of.isoformat()
    except ValueError:
        context["error"] = "The as-of date must be written YYYY-MM-DD."
        return render_template("patient.html", **context), 400
    content_type = "text/turtle" if upload and upload.filename and upload.filename.endswith(".ttl") else None
    jurisdiction = (request.form.get("jurisdiction") or "").strip().upper() or None
    if jurisdiction is not None and jurisdiction not in current_app.extensions["recommender"].jurisdictions:
        context["error"] = "Choose a jurisdiction from the list, or none."
        return render_template("patient.html", **context), 400
    context["jurisdiction"] = jurisdiction or ""
    try:
        outcome = run_patient(PatientJob("recommend", text, content_type=content_type, as_of=as_of, jurisdiction=jurisdiction))
    except UnreadableRecord as exc:  # not a record, or over a limit (400, 413, 422)
        context["error"] = str(exc)
        return render_template("patient.html", **context), exc.status
    except PatientWorkError as exc:  # not evaluated: the time limit, a busy server (503)
        context["error"] = str(exc)
        return render_template("patient.html", **context), exc.status
    context["report"] = outcome.report.as_dict()
    context["result"] = outcome.recommendation
    return render_template("patient.html", **context), 200 if outcome.recommendation else 422


def _patient_examples() -> list[dict]:
    """The example records shipped in web/static/examples/, each with a line of what it holds."""
    import json

    found = []
    for path in sorted((WEB / "static" / "examples").glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        lines = record.get("therapyLines") or []
        facts = [f"age {record['age']}" if "age" in record else None,
                 f"{len(lines)} prior line{'' if len(lines) == 1 else 's'}",
                 f"frailty {record['frailty']}" if record.get("frailty") else None,
                 f"creatinine clearance {record['creatinineClearance']} mL/min" if "creatinineClearance" in record else None,
                 ", ".join(record.get("cytogenetics") or []) or None]
        found.append({"file": path.name, "title": path.stem.replace("-", " "), "as_of": record.get("asOf") or "",
                      "facts": "; ".join(f for f in facts if f)})
    return found


@pages.get("/ontology")
def ontology():
    media = request.accept_mimetypes.best_match(["text/html"] + list(EXTENSIONS.values()), default="text/html")
    if media != "text/html":
        return ontology_file(next(ext for ext, m in EXTENSIONS.items() if m == media))
    kg = current_app.extensions["kg"]
    header = {q.predicate.value.rsplit("/", 1)[-1].rsplit("#", 1)[-1]: q.object.value
              for q in kg.store.quads_for_pattern(ox.NamedNode(BASE + "ontology"), None, None, None)}
    vocab = vocabulary()
    groups: dict[str, list[dict]] = {}
    for row in _named("ontology-terms"):
        row["name"] = row["term"].rsplit("#", 1)[1]
        row["parentList"] = (row.get("parents") or "").split(", ") if row.get("parents") else []
        groups.setdefault(row["kind"], []).append(row)
    values: dict[str, list[dict]] = {}
    for row in _named("scheme-values"):
        row["name"] = row["concept"].rsplit("#", 1)[1]
        values.setdefault(row["scheme"], []).append(row)
    for scheme in groups.get("concept scheme", []):
        scheme["values"] = values.get(scheme["term"], [])
    order = [("class", "Classes"), ("object property", "Object properties"), ("datatype property", "Datatype properties"),
             ("annotation property", "Annotation properties"), ("concept scheme", "Concept schemes and their values")]
    return render_template("ontology.html", title=header.get("title", "myeloma-kg ontology"),
                           description=header.get("description", ""), version=header.get("versionInfo", ""),
                           licence=header.get("license", ""), known=vocab.terms,
                           groups=[(kind, heading, groups.get(kind, [])) for kind, heading in order])


@pages.get("/ontology.<ext>")
def ontology_file(ext: str):
    if ext not in EXTENSIONS:
        abort(404)
    kg = current_app.extensions["kg"]
    triples = list(kg.triples([kg.graph_names(inferred=False)[0]]))
    fmt = BY_EXTENSION[ext].oxigraph
    from ..namespaces import PREFIXES

    data = ox.serialize(triples, format=fmt, prefixes=None if ext == "nt" else PREFIXES)
    return Response(data, mimetype=EXTENSIONS[ext])
