"""The HTML pages: forest plots, evidence-status badges, browse lists, search, the ontology page,
links to the ontology's terms, the patient page's examples and the security headers.

The expected figures are read from the graph, not written here: a page must show what the graph says.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from myeloma_kg.namespaces import BASE
from myeloma_kg.web.headers import SECURITY_HEADERS

from conftest import ROOT

MKG = BASE + "ontology#"
SVG = "{http://www.w3.org/2000/svg}"
PREFIXES = f"""PREFIX mkg: <{MKG}>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""
PAGE_CSP = dict(SECURITY_HEADERS)["Content-Security-Policy"]
EDITOR_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
              "font-src 'self' data:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'")


def _select(kg, query: str) -> list[dict]:
    return kg.select(PREFIXES + query)


def _path(iri: str) -> str:
    return "/" + iri[len(BASE):]


class Page(HTMLParser):
    """What the tests look at in a page: its links (with their text and class), the ids, the
    text of each table cell by column heading, and the ``mkg:`` words outside any link."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[dict] = []
        self.ids: set[str] = set()
        self.unlinked_terms: list[str] = []
        self.status_cells: list[dict] = []  # the cells under a "status" heading: their links and text
        self.text = ""
        self._open: list[dict] = []
        self._skip = 0
        self._headings: list[str] = []
        self._column = -1
        self._in_head = False
        self._heading = ""
        self._cell: dict | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag in ("script", "textarea", "style"):
            self._skip += 1
        if tag == "a":
            link = {"href": attrs.get("href", ""), "class": attrs.get("class", ""), "text": ""}
            self.links.append(link)
            self._open.append(link)
            if self._cell is not None:
                self._cell["links"].append(link)
        if tag == "thead":
            self._in_head, self._headings = True, []
        if tag == "tr":
            self._column = -1
        if tag in ("th", "td"):
            self._column += 1
            if self._in_head:
                self._heading = ""
            elif 0 <= self._column < len(self._headings) and "status" in self._headings[self._column]:
                self._cell = {"links": [], "text": ""}

    def handle_endtag(self, tag):
        if tag in ("script", "textarea", "style"):
            self._skip -= 1
        if tag == "a" and self._open:
            self._open.pop()
        if tag == "thead":
            self._in_head = False
        if tag in ("th", "td"):
            if self._in_head:
                self._headings.append(self._heading.strip())
            elif self._cell is not None:
                self.status_cells.append(self._cell)
                self._cell = None

    def handle_data(self, data):
        if self._skip:
            return
        self.text += data
        if self._in_head:
            self._heading += data
        if self._cell is not None:
            self._cell["text"] += data
        for link in self._open:
            link["text"] += data
        if not self._open:
            self.unlinked_terms += re.findall(r"\bmkg:[A-Za-z]\w*", data)


def _page(client, path: str) -> tuple[str, Page]:
    response = client.get(path, headers={"Accept": "text/html"})
    assert response.status_code == 200, path
    text = response.get_data(as_text=True)
    return text, Page(text)


# -- forest plots ----------------------------------------------------------------------------


def _forest(client, path: str):
    response = client.get(path + "/forest.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    return ET.fromstring(response.get_data(as_text=True))


def _rows(svg) -> list[dict]:
    """Each plotted row: its marks (cited, unverified), label, and the classes of its line and marker."""
    found = []
    for g in svg.iter(SVG + "g"):
        classes = (g.get("class") or "").split()
        if "row" not in classes:
            continue
        texts = {t.get("class"): t.text for t in g.iter(SVG + "text")}
        found.append({"cited": "cited" in classes, "unverified": "unverified" in classes, "label": texts["label"],
                      "star": "star" in texts, "band": any(r.get("class") == "band" for r in g.iter(SVG + "rect"))})
    return found


def _legend(svg) -> str:
    return " ".join(t.text for t in svg.iter(SVG + "text") if t.get("class") == "legend")


def test_the_forest_plot_marks_the_outcomes_the_recommendation_cites(client, run_query, kg):
    rows = run_query("hazard-ratios", subject="rec:R8")
    cited = _select(kg, f"SELECT ?o WHERE {{ <{BASE}recommendation/R8> mkg:supportedBy ?o . ?o mkg:hazardRatio ?hr }}")
    assert len(rows) == 26 and len(cited) == 4  # the figures of the issue; the checks below follow the graph
    drawn = _rows(_forest(client, "/recommendation/R8"))
    assert len(drawn) == len(rows)
    assert sum(d["cited"] for d in drawn) == len(cited) == sum(1 for r in rows if r.get("citedOutcome"))
    for row, d in zip(rows, drawn):  # drawn in the query's order; each cited outcome is marked three ways
        assert d["cited"] == d["star"] == d["band"] == (row["outcome"] in {c["o"] for c in cited}), row
        assert d["label"].startswith(f"{row['trialLabel']} · {row['endpoint']} · {row['groups'] or 'all patients'} · ")
    svg = _forest(client, "/recommendation/R8")
    assert "bold on a shaded band: an outcome the recommendation cites itself" in _legend(svg)
    css = svg.find(SVG + "style").text
    assert ".cited .label" in css and "font-weight:700" in css


def test_each_label_names_the_analysis_in_full(client, run_query):
    rows = run_query("hazard-ratios", subject="rec:R8")
    analyses = {r["analysis"] for r in rows if r.get("analysis")}
    assert {"primary analysis", "final analysis", "updated analysis"} <= analyses
    drawn = _rows(_forest(client, "/recommendation/R8"))
    for row, d in zip(rows, drawn):
        assert d["label"].split(" · ")[3] == (row.get("analysis") or "analysis not stated"), d
        assert (row["groups"] or "all patients") in d["label"]  # no label is cut short


def test_unverified_figures_are_drawn_hollow_and_dashed_and_say_so(client, run_query, kg):
    regimens = _select(kg, """SELECT DISTINCT ?regimen WHERE {
        ?o mkg:hazardRatio ?hr ; mkg:evidenceStatus ?s . FILTER(?s != mkg:VerifiedFromSource)
        ?t mkg:reportsOutcome ?o ; mkg:evaluates ?regimen }""")
    assert regimens
    labels = {s["s"]: s["label"]
              for s in _select(kg, "SELECT ?s ?label WHERE { ?s skos:inScheme mkg:EvidenceStatusScheme ; rdfs:label ?label }")}
    seen = 0
    for case in regimens:
        rows = run_query("hazard-ratios", subject=case["regimen"])
        svg = _forest(client, _path(case["regimen"]))
        drawn = _rows(svg)
        assert len(drawn) == len(rows)
        for row, d in zip(rows, drawn):
            unverified = row["evidenceStatus"] != MKG + "VerifiedFromSource"
            assert d["unverified"] == unverified, (case, row)
            if unverified:
                assert d["label"].endswith(" · " + labels[row["evidenceStatus"]])
                seen += 1
        if any(d["unverified"] for d in drawn):
            assert "hollow square, dashed line: a figure not verified" in _legend(svg)
    assert seen
    css = _forest(client, _path(regimens[0]["regimen"])).find(SVG + "style").text
    assert ".unverified .ci" in css and "stroke-dasharray" in css and ".unverified .hr" in css and "fill:#fff" in css


def test_the_forest_plot_has_a_viewbox_and_the_page_lets_it_shrink(client):
    svg = _forest(client, "/recommendation/R8")
    width = float(svg.get("width"))
    assert svg.get("viewBox") == f"0 0 {svg.get('width')} {svg.get('height')}" and width > 390
    css = client.get("/static/site.css").get_data(as_text=True)
    assert re.search(r"figure\.forest img \{[^}]*max-width: 100%[^}]*height: auto", css)
    page = client.get("/recommendation/R8").get_data(as_text=True)
    assert "4 of them cited by the recommendation itself" in page


# -- evidence status -------------------------------------------------------------------------


def _statuses(kg) -> dict[str, dict]:
    rows = _select(kg, """SELECT ?s ?notation ?label ?definition WHERE {
        ?s skos:inScheme mkg:EvidenceStatusScheme ; skos:notation ?notation ; rdfs:label ?label ; skos:definition ?definition }""")
    return {r["s"]: r for r in rows}


def test_the_explanation_page_lists_every_status_value_the_graph_has(client, kg):
    statuses = _statuses(kg)
    assert {r["notation"] for r in statuses.values()} == {"verified", "unverified", "reconstructed"}
    text, page = _page(client, "/about/evidence-status")
    for status in statuses.values():
        assert status["notation"] in page.ids
        assert status["definition"] in text and status["label"] in text
        assert any(link["href"] == f"/about/evidence-status#{status['notation']}" for link in page.links)


def test_every_resource_page_with_a_status_shows_its_badge_linking_to_the_explanation(client, kg):
    statuses = _statuses(kg)
    rows = _select(kg, "SELECT ?r ?s WHERE { ?r mkg:evidenceStatus ?s }")
    assert len(rows) > 700
    notations = {s["notation"] for s in statuses.values()}
    for row in rows:
        status = statuses[row["s"]]
        _text, page = _page(client, _path(row["r"]))
        badges = [link for link in page.links if "badge" in link["class"].split()]
        own = f"/about/evidence-status#{status['notation']}"
        assert any(b["href"] == own and f"status-{status['notation']}" in b["class"].split()
                   and b["text"] == status["label"] for b in badges), row["r"]
        for badge in badges:  # every badge names a status of the graph and links to its explanation
            notation = badge["href"].rsplit("#", 1)[-1]
            assert notation in notations and badge["href"].startswith("/about/evidence-status#") and \
                f"status-{notation}" in badge["class"].split(), (row["r"], badge)
        for cell in page.status_cells:  # a table's status column shows badges, never the status in other words
            assert not cell["text"].strip() or any("badge" in link["class"].split() for link in cell["links"]), \
                (row["r"], cell)


@pytest.mark.parametrize("path", ["/", "/recommendation/", "/trial/", "/publication/", "/drug/isatuximab",
                                  "/trial/NCT03275285", "/recommendation/R3"])
def test_pages_that_list_statuses_show_them_as_badges(client, path):
    text, page = _page(client, path)
    assert any("badge" in link["class"].split() for link in page.links)
    assert page.status_cells or path == "/"
    for cell in page.status_cells:
        assert not cell["text"].strip() or any("badge" in link["class"].split() for link in cell["links"]), cell
    for other_words in ("from memory, unverified", "VerifiedFromSource<", "UnverifiedFromMemory<", ">Reconstructed<"):
        assert other_words not in text


# -- browse lists, home, search --------------------------------------------------------------


LIST_TYPES = {"recommendation": "Recommendation", "trial": "Study", "regimen": "Regimen", "drug": "Drug",
              "publication": "Publication"}


@pytest.mark.parametrize("kind", sorted(LIST_TYPES))
def test_each_browse_list_links_every_resource_of_its_kind(client, kg, kind):
    expected = _select(kg, f"SELECT ?r ?label WHERE {{ ?r a mkg:{LIST_TYPES[kind]} ; rdfs:label ?label }}")
    assert expected
    _text, page = _page(client, f"/{kind}/")
    listed = [(link["href"], link["text"]) for link in page.links if link["href"].startswith(f"/{kind}/")
              and link["href"] != f"/{kind}/"]
    assert sorted(listed) == sorted((_path(r["r"]), r["label"]) for r in expected)
    if kind == "recommendation":
        assert [href.rsplit("/", 1)[-1] for href, _ in listed] == [f"R{n}" for n in range(1, len(expected) + 1)]
    else:
        labels = [label for _, label in listed]
        assert labels == sorted(labels, key=str.lower)
    assert client.get(f"/{kind}").status_code == 308  # to the list


def test_the_home_page_links_to_the_lists_and_the_explanation(client):
    _text, page = _page(client, "/")
    hrefs = {link["href"] for link in page.links}
    assert {f"/{kind}/" for kind in LIST_TYPES} | {"/about/evidence-status"} <= hrefs


def test_search_finds_a_trial_by_its_nct_number(client):
    _text, page = _page(client, "/search?q=NCT03275285")
    assert {"href": "/trial/NCT03275285", "class": "", "text": "IKEMA"} in page.links


# -- the ontology page and links to its terms ------------------------------------------------


def test_the_ontology_page_lists_each_schemes_values_with_labels_and_definitions(client, kg):
    text, page = _page(client, "/ontology")
    assert "Object properties" in text and "Datatype properties" in text and "propertys" not in text
    values = _select(kg, """SELECT ?c ?label ?definition WHERE { GRAPH <https://w3id.org/myeloma-kg/graph/ontology> {
        ?c skos:inScheme ?scheme . OPTIONAL { ?c rdfs:label ?label } OPTIONAL { ?c skos:definition ?definition } } }""")
    assert len(values) > 100
    for value in values:
        assert value["c"][len(MKG):] in page.ids, value
        for literal in (value["label"], value["definition"]):
            assert not literal or literal in page.text, literal


PAGES = ["/", "/recommendation/R8", "/recommendation/R3", "/regimen/DPd", "/trial/NCT03275285", "/drug/daratumumab",
         "/outcome/ikema-pfs-1q21plus-final", "/risk/Gain1q21", "/publication/moreau-2021-lancet", "/caution/lenalidomide-renal-dose",
         "/recommendation/", "/trial/", "/regimen/", "/drug/", "/publication/", "/about/evidence-status", "/ontology",
         "/search?q=dara", "/search?q=evidence", "/patient", "/changes"]


def test_every_mkg_term_shown_links_to_its_row_on_the_ontology_page(client):
    _text, ontology = _page(client, "/ontology")
    for path in PAGES:
        _text, page = _page(client, path)
        assert not page.unlinked_terms, (path, page.unlinked_terms[:5])
        for link in page.links:
            assert not link["href"].startswith(MKG), (path, link)  # never off-site to the term's w3id IRI
            terms = re.findall(r"\bmkg:([A-Za-z]\w*)", link["text"])
            if terms:
                assert link["href"] in (f"/ontology#{terms[0]}", f"#{terms[0]}"), (path, link)
            if link["href"].startswith("/ontology#"):
                assert link["href"][len("/ontology#"):] in ontology.ids, (path, link)
            if path == "/ontology" and link["href"].startswith("#"):
                assert link["href"][1:] in ontology.ids, link


# -- the patient page's examples -------------------------------------------------------------


def test_the_patient_page_offers_the_shipped_examples(client):
    shipped = sorted((ROOT / "web" / "static" / "examples").glob("*.json"))
    assert 4 <= len(shipped) <= 6
    _text, page = _page(client, "/patient")
    offered = [link["href"] for link in page.links if "example-record" in link["class"].split()]
    assert offered == [f"/static/examples/{p.name}" for p in shipped]
    for path in shipped:
        # a copy of the example of examples/patients/ (which the wheel does not ship), kept the same
        assert path.read_bytes() == (ROOT / "examples" / "patients" / path.name).read_bytes(), path.name
        served = client.get(f"/static/examples/{path.name}")
        assert served.status_code == 200 and json.loads(served.data) == json.loads(path.read_text())
        assert client.post("/api/validate", data=path.read_bytes(), content_type="application/json").json["conforms"]


# -- headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/recommendation/", "/trial/", "/about/evidence-status", "/ontology", "/patient",
                                  "/recommendation/R8", "/recommendation/R8/forest.svg", "/static/patient.js",
                                  "/static/examples/frail-elderly.json", "/search?q=NCT03275285"])
def test_pages_carry_the_security_headers_unchanged(client, path):
    response = client.get(path)
    for name, value in SECURITY_HEADERS:
        assert response.headers[name] == value, (path, name)


def test_the_editor_keeps_its_own_policy_unwidened(client):
    assert PAGE_CSP == "default-src 'self'; object-src 'none'; frame-ancestors 'none'"
    response = client.get("/query")
    assert response.headers["Content-Security-Policy"] == EDITOR_CSP
