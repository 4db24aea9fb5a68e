"""Releases and diffs: a release, an edit of one recommendation and one outcome, a second release,
and the diff between them names exactly those changes - on the command line, as JSON and in the
web app's changelog."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess

import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from myeloma_kg import load_graph
from myeloma_kg.cli.main import main
from myeloma_kg.content.diff import _raw, diff
from myeloma_kg.content.release import CHECKSUMS, MANIFEST, Release, known_releases, version_key, write_release
from myeloma_kg.errors import ReleaseError
from myeloma_kg.web import create_app

from conftest import ROOT
from worked_example import apply_all, stated_version

R3 = "https://w3id.org/myeloma-kg/recommendation/R3"
CANDOR_PFS = "https://w3id.org/myeloma-kg/outcome/candor-pfs-all-final"


def edit(home, version: bool = True) -> None:
    """The worked example of docs/authoring.md, read from the guide: DVd leaves R3, CANDOR's PFS
    hazard ratio becomes 0.63 and (unless ``version`` is false) the version becomes 0.2.0."""
    apply_all("worked", home, with_version=version)


@pytest.fixture(scope="module")
def worked(tmp_path_factory, settings, kg):
    """Two releases: the shipped graph (the session's, already loaded), then the edited copy of it as 0.2.0."""
    base = tmp_path_factory.mktemp("releases")
    releases = base / "releases"
    ours = settings.with_overrides({"releases_dir": str(releases)})
    first = write_release(kg, ours)
    home = base / "edited"
    for folder in ("ontology", "queries", "shapes"):
        shutil.copytree(ROOT / folder, home / folder)
    edit(home)
    edited = ours.with_overrides({"home": str(home)})
    second = write_release(load_graph(edited), edited)
    return {"first": first, "second": second, "releases": releases, "settings": ours, "edited": edited}


def test_a_release_holds_every_file_named_by_its_version_with_checksums(worked, kg):
    first: Release = worked["first"]
    version = first.version
    assert first.folder.name == version == stated_version((ROOT / "ontology" / "myeloma-kg.ttl").read_text())
    names = {item["file"] for item in first.manifest["files"]}
    stem = f"myeloma-kg-{version}"
    assert names == {f"{stem}{s}" for s in (".ttl", ".nt", ".jsonld", "-inferred.ttl", "-inferred.nt", "-inferred.jsonld",
                                              ".sssom.tsv", ".fhir.json")}
    for item in first.manifest["files"]:
        assert hashlib.sha256((first.folder / item["file"]).read_bytes()).hexdigest() == item["sha256"]
    check = subprocess.run(["sha256sum", "-c", CHECKSUMS], cwd=first.folder, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == len(names) + 1  # and release.json itself
    asserted = len(list(ox.parse(path=str(first.folder / f"{stem}.nt"), format=ox.RdfFormat.N_TRIPLES)))
    inferred = list(ox.parse(path=str(first.folder / f"{stem}-inferred.ttl"), format=ox.RdfFormat.TURTLE))
    assert asserted == first.manifest["triples"]["asserted"] == sum(1 for _ in kg.triples(kg.graph_names(inferred=False)))
    assert len(inferred) == first.manifest["triples"]["withInferred"] > asserted
    bundle = json.loads((first.folder / f"{stem}.fhir.json").read_text())
    assert bundle["resourceType"] == "Bundle"
    assert first.manifest["contentHash"] == f"sha256:{kg.digest}"


def test_the_mapping_set_of_a_release_carries_the_release_s_version(worked):
    for release in (worked["first"], worked["second"]):
        header = (release.folder / f"myeloma-kg-{release.version}.sssom.tsv").read_text().splitlines()
        assert f'# mapping_set_version: "{release.version}"' in header
    assert worked["second"].version == "0.2.0"


def test_the_diff_of_the_two_releases_names_exactly_the_two_edits(worked):
    found = diff(str(worked["first"].folder), str(worked["second"].folder), worked["settings"])
    changes = {(c.entity, c.status): c.changes for c in found.entities}
    assert set(changes) == {(R3, "changed"), (CANDOR_PFS, "changed")}
    assert changes[(R3, "changed")] == [{"aspect": "recommends", "property": "https://w3id.org/myeloma-kg/ontology#recommends",
                                          "removed": ["Daratumumab, bortezomib and dexamethasone"], "added": []}]
    assert changes[(CANDOR_PFS, "changed")] == [{"aspect": "hazard ratio", "property": "https://w3id.org/myeloma-kg/ontology#hazardRatio",
                                                  "removed": ["0.64"], "added": ["0.63"]}]
    # the raw difference: those two edits and the version header, nothing else
    assert len(found.removed_triples) == 4 and len(found.added_triples) == 3
    assert any("versionInfo" in t and '"0.2.0"' in t for t in found.added_triples)
    text = found.text()
    assert "hazard ratio: changed from 0.64 to 0.63" in text
    assert 'recommends: removed "Daratumumab, bortezomib and dexamethasone"' in text
    assert f"Changes from {worked['first'].version} " in text and "to 0.2.0 " in text


def test_diff_on_the_command_line_as_text_and_json(worked):
    old, new = str(worked["first"].folder), str(worked["second"].folder)
    result = CliRunner().invoke(main, ["diff", old, new, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {e["entity"] for e in data["entities"]} == {R3, CANDOR_PFS}
    assert data["from"]["version"] == worked["first"].version and data["to"]["version"] == "0.2.0"
    assert CliRunner().invoke(main, ["diff", old, new, "--exit-code"]).exit_code == 1
    same = CliRunner().invoke(main, ["diff", old, old, "--exit-code"])
    assert same.exit_code == 0 and "no change" in same.stdout


def test_a_git_revision_is_a_side_of_a_diff(tmp_path, settings):
    """HEAD's content files, and the same files edited: the diff names the edits."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD", "ontology"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(tmp_path)], input=archive.stdout, check=True)
    edit(tmp_path, version=False)
    found = diff("HEAD", str(tmp_path), settings)
    assert {(c.entity, c.status) for c in found.entities} == {(R3, "changed"), (CANDOR_PFS, "changed")}
    assert len(found.added_triples) == 1 and len(found.removed_triples) == 2


@pytest.mark.parametrize("args, message", [
    (["no-such-thing", "."], "neither a release folder, a checkout, nor a git revision"),
    (["--", "--upload-pack=x", "."], "is not a git revision"),
    ([str(ROOT / "tests"), "."], "neither a release (no release.json) nor a checkout"),
])
def test_a_side_that_is_not_a_version_gets_one_line_and_status_2(args, message):
    result = CliRunner().invoke(main, ["diff", *args])
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output


def test_a_release_is_not_overwritten_by_other_content_of_the_same_version(worked, tmp_path):
    home = tmp_path / "same-version"
    shutil.copytree(ROOT / "ontology", home / "ontology")
    edit(home, version=False)  # content changed, version not raised
    edited = worked["settings"].with_overrides({"home": str(home)})
    before = (worked["first"].folder / MANIFEST).read_bytes()
    with pytest.raises(ReleaseError, match="already holds release .* with other content"):
        # the refusal comes before anything is written, so the reasoner's triples play no part
        write_release(load_graph(edited, reason=False), edited)
    assert (worked["first"].folder / MANIFEST).read_bytes() == before


def test_the_changelog_page_and_api_show_the_diffs_between_known_releases(worked, kg):
    app = create_app(worked["settings"], kg)
    client = app.test_client()
    data = client.get("/api/changes").get_json()
    assert data["releases"] == [worked["first"].version, "0.2.0"]
    steps = {step["version"]: step for step in data["changes"]}
    assert {e["entity"] for e in steps["0.2.0"]["entities"]} == {R3, CANDOR_PFS}
    # the served graph is the shipped one: past 0.2.0 it differs again (the edits undone)
    assert {e["entity"] for e in steps["unreleased"]["entities"]} == {R3, CANDOR_PFS}
    page = client.get("/changes").get_data(as_text=True)
    assert "hazard ratio: changed from 0.64 to 0.63" in page and 'href="/recommendation/R3"' in page
    rec = client.get("/recommendation/R3", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "Changed in 0.2.0 (from " in rec and "recommends: removed" in rec


def test_versions_are_ordered_by_number():
    assert sorted(["0.10.0", "0.9.1", "0.2.0", "1.0.0"], key=version_key) == ["0.2.0", "0.9.1", "0.10.0", "1.0.0"]


def test_no_release_folder_means_an_empty_changelog(settings, kg, tmp_path):
    assert known_releases(tmp_path / "none") == []
    app = create_app(settings.with_overrides({"releases_dir": str(tmp_path / "none")}), kg)
    page = app.test_client().get("/changes")
    assert page.status_code == 200 and "knows no release yet" in page.get_data(as_text=True)


def _copy_release(release: Release, target):
    shutil.copytree(release.folder, target)
    return target


def test_a_release_changed_after_it_was_written_is_refused_by_diff_and_skipped_by_the_changelog(worked, kg, tmp_path):
    releases = tmp_path / "releases"
    first = _copy_release(worked["first"], releases / worked["first"].version)
    _copy_release(worked["second"], releases / "0.2.0")
    graph = first / json.loads((first / MANIFEST).read_text())["graph"]
    with graph.open("a", encoding="utf-8") as out:  # one triple slipped in after the release
        out.write('\n<https://w3id.org/myeloma-kg/drug/daratumumab> <http://www.w3.org/2000/01/rdf-schema#comment> "x" .\n')
    result = CliRunner().invoke(main, ["diff", str(first), str(releases / "0.2.0")])
    assert result.exit_code == 2 and "does not match its checksum" in result.stderr and "Traceback" not in result.output
    app = create_app(worked["settings"].with_overrides({"releases_dir": str(releases)}), kg)
    client = app.test_client()
    data = client.get("/api/changes").get_json()
    assert data["releases"] == ["0.2.0"] and len(data["skipped"]) == 1 and "does not match its checksum" in data["skipped"][0]
    page = client.get("/changes")
    assert page.status_code == 200 and "cannot be read as releases" in page.get_data(as_text=True)
    assert client.get("/recommendation/R3", headers={"Accept": "text/html"}).status_code == 200


@pytest.mark.parametrize("graph", ["../../outside.ttl", "/etc/passwd", "", ["x"]])
def test_a_manifest_cannot_point_a_diff_outside_its_release(worked, tmp_path, graph):
    folder = _copy_release(worked["first"], tmp_path / "release")
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["graph"] = graph
    (folder / MANIFEST).write_text(json.dumps(manifest))
    result = CliRunner().invoke(main, ["diff", str(folder), str(worked["second"].folder)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "outside the release folder" in result.stderr or "is not a release manifest" in result.stderr


def test_the_changelog_sees_a_release_written_while_the_server_runs(worked, kg, tmp_path):
    releases = tmp_path / "releases"
    _copy_release(worked["first"], releases / worked["first"].version)
    client = create_app(worked["settings"].with_overrides({"releases_dir": str(releases)}), kg).test_client()
    assert client.get("/api/changes").get_json()["releases"] == [worked["first"].version]
    _copy_release(worked["second"], releases / "0.2.0")
    data = client.get("/api/changes").get_json()
    assert data["releases"] == [worked["first"].version, "0.2.0"]
    assert {e["entity"] for e in {s["version"]: s for s in data["changes"]}["0.2.0"]["entities"]} == {R3, CANDOR_PFS}


# -- the raw triple difference and blank nodes --------------------------------------------------

_PREFIX = "@prefix ex: <http://example.org/> .\n"
_STRUCTURES = _PREFIX + """
ex:a ex:p "1" .
ex:s ex:list ( ex:x ex:y ) .
ex:assessment ex:judgement [ ex:domain ex:bias ; ex:concern ex:none ] ,
                           [ ex:domain ex:imprecision ; ex:concern ex:serious ] .
ex:twice ex:judgement [ ex:domain ex:bias ; ex:concern ex:none ] , [ ex:domain ex:bias ; ex:concern ex:none ] .
"""


def _store(turtle: str) -> ox.Store:
    store = ox.Store()
    store.load(turtle.encode(), format=ox.RdfFormat.TURTLE)
    return store


def _ex(name: str) -> str:
    return f"<http://example.org/{name}>"


def test_unchanged_blank_node_structures_are_no_change_however_they_are_written():
    """One literal changed; the list and the judgements are the same, written in another order
    with other blank-node labels."""
    same = _PREFIX + "@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .\n" + """
    ex:twice ex:judgement _:j1 . _:j1 ex:concern ex:none ; ex:domain ex:bias .
    ex:assessment ex:judgement [ ex:concern ex:serious ; ex:domain ex:imprecision ] .
    ex:s ex:list _:l1 . _:l1 rdf:first ex:x ; rdf:rest _:l2 . _:l2 rdf:rest rdf:nil ; rdf:first ex:y .
    ex:assessment ex:judgement [ ex:concern ex:none ; ex:domain ex:bias ] .
    ex:twice ex:judgement [ ex:domain ex:bias ; ex:concern ex:none ] .
    ex:a ex:p "2" .
    """
    added, removed = _raw(_store(_STRUCTURES), _store(same))
    assert added == [f'{_ex("a")} {_ex("p")} "2" .'] and removed == [f'{_ex("a")} {_ex("p")} "1" .']
    assert _raw(_store(_STRUCTURES), _store(_STRUCTURES)) == ([], [])


def test_a_blank_node_structure_added_or_changed_is_reported_alone():
    """A judgement added (canonicalising each whole graph would renumber every other blank node
    and report them all), one changed, and one of two equal judgements dropped."""
    edited = _STRUCTURES.replace("ex:domain ex:imprecision ; ex:concern ex:serious", "ex:domain ex:imprecision ; ex:concern ex:none")
    edited = edited.replace(", [ ex:domain ex:bias ; ex:concern ex:none ] .\n", " .\n")  # ex:twice keeps one
    edited += "ex:assessment ex:judgement [ ex:domain ex:indirectness ; ex:concern ex:none ] .\n"
    added, removed = _raw(_store(_STRUCTURES), _store(edited))

    def shape(lines):  # the lines with blank-node labels replaced, in order
        return sorted(re.sub(r"_:\S+", "_:b", line) for line in lines)

    judgement = f'{_ex("assessment")} {_ex("judgement")} _:b .'
    assert shape(added) == sorted([judgement, f"_:b {_ex('domain')} {_ex('imprecision')} .", f"_:b {_ex('concern')} {_ex('none')} .",
                                   judgement, f"_:b {_ex('domain')} {_ex('indirectness')} .", f"_:b {_ex('concern')} {_ex('none')} ."])
    assert shape(removed) == sorted([judgement, f"_:b {_ex('domain')} {_ex('imprecision')} .", f"_:b {_ex('concern')} {_ex('serious')} .",
                                     f'{_ex("twice")} {_ex("judgement")} _:b .', f"_:b {_ex('domain')} {_ex('bias')} .",
                                     f"_:b {_ex('concern')} {_ex('none')} ."])
    assert not any("list" in line or "rdf-syntax-ns#first" in line for line in added + removed)
    # each structure's blank nodes are named after its content: the two added ones apart, and the same each time
    labels = {line.split()[0] for line in added if line.startswith("_:")}
    assert len(labels) == 2 and _raw(_store(_STRUCTURES), _store(edited)) == (added, removed)


def test_the_changelog_kept_in_the_cache_folder_gives_the_same_log_and_survives_a_damaged_file(worked, kg, tmp_path):
    from myeloma_kg.content.changelog import Changelog

    ours = worked["settings"].with_overrides({"cache_dir": str(tmp_path / "cache")})

    def log() -> list:
        return [(e.version, json.dumps(e.diff.as_json(), sort_keys=True)) for e in Changelog(ours, kg).entries()]

    first = log()  # computed, and kept
    kept = sorted((tmp_path / "cache" / "changelog").glob("*.json"))
    assert {p.name.split("-")[0] for p in kept} == {"aspects", "raw"}
    assert log() == first  # a new changelog (a restarted server) reads what was kept
    for path in kept:  # a damaged cache is no error: the diff is computed again
        path.write_text("{not json", encoding="utf-8")
    assert log() == first
    assert "R3" in first[-1][1] or any("R3" in text for _, text in first)


def test_a_warm_changelog_reads_no_release_graph_and_a_damaged_graph_is_skipped_in_words(worked, kg, tmp_path, monkeypatch):
    import hashlib

    from myeloma_kg.content import changelog as changelog_module
    from myeloma_kg.content.changelog import Changelog

    ours = worked["settings"].with_overrides({"cache_dir": str(tmp_path / "cache")})
    made = []
    reader = changelog_module._from_release

    def spy(folder, name):
        side = reader(folder, name)
        made.append(side)
        return side

    monkeypatch.setattr(changelog_module, "_from_release", spy)
    first = [e.version for e in Changelog(ours, kg).entries()]  # computed: the graphs are read
    assert made and all(side._store is not None for side in made)
    made.clear()
    assert [e.version for e in Changelog(ours, kg).entries()] == first  # from the cache
    assert made and all(side._store is None for side in made), "a release graph was read on a warm cache"

    # a release whose graph is not Turtle, with a checksum that matches it: left out, in words
    releases = tmp_path / "releases"
    _copy_release(worked["first"], releases / worked["first"].version)
    second = _copy_release(worked["second"], releases / "0.2.0")
    manifest = json.loads((second / MANIFEST).read_text())
    graph = second / manifest["graph"]
    graph.write_text("this is @not turtle .", encoding="utf-8")
    for item in manifest["files"]:
        if item.get("file") == manifest["graph"]:
            item["sha256"] = hashlib.sha256(graph.read_bytes()).hexdigest()
    (second / MANIFEST).write_text(json.dumps(manifest))
    log = Changelog(ours.with_overrides({"releases_dir": str(releases), "cache_dir": str(tmp_path / "cold")}), kg)
    assert log.releases() == [worked["first"].version]
    assert log.skipped() == ["0.2.0: its graph file cannot be read as Turtle"]
