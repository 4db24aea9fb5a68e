"""Answers say what is wrong in words: no filesystem paths, no names of the reader's exceptions."""

from __future__ import annotations

import hashlib
import json

import pytest

from myeloma_kg.content.release import MANIFEST

ENGINE_WORDS = ("Error", "Exception", "Errno", "Traceback", "pyoxigraph", "rdflib")


def _release(folder, manifest, files=None):
    folder.mkdir(parents=True)
    for name, data in (files or {}).items():
        (folder / name).write_bytes(data)
    (folder / MANIFEST).write_text(manifest if isinstance(manifest, str) else json.dumps(manifest))


def _listed(version, name, data, sha=None):
    return {"version": version, "graph": name, "files": [{"file": name, "sha256": sha or hashlib.sha256(data).hexdigest()}]}


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    """A releases folder where every release is damaged in another way."""
    root = tmp_path_factory.mktemp("secret-place") / "releases"
    not_turtle = b"<https://w3id.org/myeloma-kg/x> this is not Turtle <<< ."
    _release(root / "0.1.0", "{ not json")
    _release(root / "0.2.0", _listed("0.2.0", "g.ttl", not_turtle), {"g.ttl": not_turtle})
    _release(root / "0.3.0", _listed("0.3.0", "g.ttl", b"", sha="0" * 64), {"g.ttl": b""})
    _release(root / "0.4.0", _listed("0.4.0", "../../outside.ttl", b""))
    _release(root / "0.5.0", {"version": "0.5.0"})
    return root


EXPECTED = {
    "0.1.0": f"its {MANIFEST} cannot be read as JSON",
    "0.2.0": "its graph file cannot be read as Turtle",
    "0.3.0": "its graph file does not match its checksum",
    "0.4.0": "its manifest names a graph file outside the release folder",
    "0.5.0": f"its {MANIFEST} is not a release manifest",
}


def test_the_changelog_names_no_path_and_no_exception(make_app, damaged):
    client = make_app(releases_dir=str(damaged), query_workers=1).test_client()
    data = client.get("/api/changes").get_json()
    assert data["releases"] == []
    skipped = dict(item.split(": ", 1) for item in data["skipped"])
    assert set(skipped) == set(EXPECTED)
    for version, words in EXPECTED.items():
        assert skipped[version].startswith(words), skipped[version]
    page = client.get("/changes").get_data(as_text=True)
    for body in (page, json.dumps(data)):
        assert "secret-place" not in body and str(damaged) not in body
        for word in ENGINE_WORDS:
            assert word not in body, word
    assert "releases folder" in page and "MYELOMA_KG_RELEASES_DIR" in page
