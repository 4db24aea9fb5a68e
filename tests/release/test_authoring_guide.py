"""The author's guide (docs/authoring.md), run as it is written: its edits are applied to copies of
the content, its commands are run the way it says, and what the program prints is compared with
what the guide shows."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from myeloma_kg.cli.main import main

from conftest import ROOT
from worked_example import _BLOCK, GUIDE, apply_all, block_after, edits, expected_diff, stated_version


def _run(args, **env):
    result = CliRunner().invoke(main, args, env={k: str(v) for k, v in env.items()})
    assert "Traceback" not in result.output, result.output
    return result


def _head_copy(target):
    """The ontology, shapes and queries as committed, so the diff against HEAD is only the guide's edits."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD", "ontology", "shapes", "queries"],
                             capture_output=True, check=True)
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)


def test_the_worked_example_gives_the_diff_the_guide_shows(tmp_path, monkeypatch):
    """Release, the two practice edits and a version raise on a scratch copy, release, diff."""
    monkeypatch.chdir(tmp_path)
    _head_copy(tmp_path / "shipped")  # stands for the clone, as committed
    releases = tmp_path / "practice" / "releases"
    first = _run(["release"], MYELOMA_KG_RELEASES_DIR=releases, MYELOMA_KG_HOME=tmp_path / "shipped")
    assert first.exit_code == 0, first.output
    shipped = stated_version((tmp_path / "shipped" / "ontology" / "myeloma-kg.ttl").read_text())
    assert shipped == "0.1.0", "the guide's example starts from 0.1.0: update it"
    edited = tmp_path / "practice" / "edited"
    shutil.copytree(tmp_path / "shipped", edited)
    apply_all("worked", edited)
    assert [e.path for e in edits("worked")] == ["ontology/content/recommendations.ttl", "ontology/content/outcomes.ttl",
                                                 "ontology/myeloma-kg.ttl"]
    check = _run(["check"], MYELOMA_KG_HOME=edited)
    assert check.exit_code == 0 and "PASSED" in check.stdout, check.output
    second = _run(["release"], MYELOMA_KG_RELEASES_DIR=releases, MYELOMA_KG_HOME=edited)
    assert second.exit_code == 0, second.output
    assert sorted(p.name for p in releases.iterdir()) == ["0.1.0", "0.2.0"]
    found = _run(["diff", "practice/releases/0.1.0", "practice/releases/0.2.0"])
    assert found.exit_code == 0, found.output
    assert found.stdout.rstrip("\n") == expected_diff("worked")
    data = json.loads(_run(["diff", "practice/releases/0.1.0", "practice/releases/0.2.0", "--format", "json"]).stdout)
    assert set(data) == {"from", "to", "entities", "triples"} and set(data["triples"]) == {"added", "removed"}
    assert {"entity", "label", "status", "changes"} <= set(data["entities"][0])
    assert _run(["diff", "practice/releases/0.1.0", "practice/releases/0.2.0", "--exit-code"]).exit_code == 1


def test_the_review_example_gives_the_diff_the_guide_shows(tmp_path, monkeypatch):
    """R3 moved to reviewed with a review step: ``diff HEAD .`` names the new state and the step."""
    _head_copy(tmp_path)
    apply_all("review", tmp_path)
    check = _run(["check"], MYELOMA_KG_HOME=tmp_path)
    assert check.exit_code == 0 and "PASSED" in check.stdout, check.output
    monkeypatch.chdir(tmp_path)
    found = _run(["diff", "HEAD", "."], MYELOMA_KG_HOME=ROOT)
    assert found.exit_code == 0, found.output
    assert found.stdout.rstrip("\n") == expected_diff("review")


def test_the_draft_check_prints_what_the_guide_shows(tmp_path):
    lang, draft = block_after("<!-- check: draft-outcome -->")
    assert lang == "turtle"
    (tmp_path / "draft.ttl").write_text(draft, encoding="utf-8")
    result = _run(["check", "--with", str(tmp_path / "draft.ttl")])
    assert result.exit_code == 1, result.output
    _, expected = block_after("<!-- expected check: draft-outcome -->")
    printed = [line for line in result.output.splitlines() if line.startswith(("[violation]", "FAILED", "PASSED"))]
    assert printed == expected.rstrip("\n").splitlines()


def test_the_guide_shows_the_version_header_as_it_is():
    _, header = block_after("The version is in the ontology's header in `ontology/myeloma-kg.ttl`:")
    tbox = (ROOT / "ontology" / "myeloma-kg.ttl").read_text(encoding="utf-8")
    for line in header.strip().splitlines()[1:]:
        shown = line.rstrip(" .;")  # the guide ends its excerpt with "." where the file goes on with ";"
        assert shown in tbox, f"the guide's version header line is not in the ontology: {line}"


def test_the_guide_shows_the_model_outcome_as_it_is():
    text = GUIDE.read_text(encoding="utf-8")
    block = next(body for lang, body in _BLOCK.findall(text) if lang == "turtle" and "outcome:candor-pfs-all-final" in body)
    assert block in (ROOT / "ontology" / "content" / "outcomes.ttl").read_text(encoding="utf-8")


@pytest.mark.parametrize("command", ["check", "release", "diff", "recommend", "serve"])
def test_the_commands_the_guide_uses_exist(command):
    assert re.search(rf"myeloma-kg {command}\b", GUIDE.read_text(encoding="utf-8"))
    assert _run([command, "--help"]).exit_code == 0


# -- every Turtle block of the guide ------------------------------------------------------------

_CHECK_MARK = re.compile(r"<!-- check: ([\w-]+) -->\s*$")


def _turtle_blocks() -> list[tuple[int, str, bool]]:
    """(line number, text, deliberately broken) of every ``turtle`` block of the guide."""
    text = GUIDE.read_text(encoding="utf-8")
    found = []
    for match in _BLOCK.finditer(text):
        if match.group(1) == "turtle":
            before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
            found.append((text.count("\n", 0, match.start()) + 1, match.group(2), bool(_CHECK_MARK.search(before))))
    return found


def test_the_guide_has_turtle_blocks_and_marks_its_broken_draft():
    blocks = _turtle_blocks()
    assert len(blocks) >= 3 and sum(broken for _, _, broken in blocks) == 1


@pytest.mark.parametrize("line, text, broken", _turtle_blocks(), ids=lambda v: str(v) if isinstance(v, int) else "")
def test_every_turtle_block_of_the_guide_uses_the_ontology_s_terms_and_passes_check(line, text, broken, harness,
                                                                                     tmp_path):
    """A block is read as Turtle with the project's prefixes, names only terms the ontology defines
    (a misspelt term would mint a new IRI), and, unless it is the guide's deliberately broken draft,
    adds nothing that check finds wrong."""
    import pyoxigraph as ox

    from myeloma_kg._mkg import MKG
    from myeloma_kg.namespaces import PREFIXES

    declared = set(re.findall(r"@prefix\s+(\w*):", text))
    head = "".join(f"@prefix {p}: <{iri}> .\n" for p, iri in PREFIXES.items() if p not in declared)
    draft = tmp_path / f"guide-line-{line}.ttl"
    draft.write_text(head + text, encoding="utf-8")
    triples = list(ox.parse(path=str(draft), format=ox.RdfFormat.TURTLE))
    assert triples, f"the block at line {line} holds no triple"
    for term in {x.value for t in triples for x in (t.subject, t.predicate, t.object) if isinstance(x, ox.NamedNode)}:
        if term.startswith(str(MKG)):
            name = term[len(str(MKG)):]
            try:
                getattr(MKG, name)
            except AttributeError:
                pytest.fail(f"the block at line {line} of the guide uses mkg:{name}, which the ontology does not define")
    if not broken:
        found = [f.line() for f in harness.findings(draft) if f.severity == "violation"]
        assert found == [], f"the block at line {line} of the guide fails check: {found}"
