"""Packaging: the wheel carries every file the program reads, and finds them without the checkout.

The real wheel is built, installed into a fresh virtual environment and run from an unrelated
folder by ``.ci/smoke-wheel``.  These tests check the cheap parts on every run: that the
``pyproject.toml`` lists cover every package and every shipped file, and that a copy of the
package laid out as the wheel lays it out runs away from the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from myeloma_kg import config

from conftest import ROOT

SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
SHIPPED = "myeloma_kg.shipped."
# Files of web/ that build the editor or document it but are not read when the program runs.
WEB_BUILD_INPUTS = {"package.json", "package-lock.json", "licenses", "node_modules"}


def _mapped() -> dict[str, Path]:
    """Package name -> folder of the checkout, for the folders the wheel copies in."""
    return {name: ROOT / folder for name, folder in SETUPTOOLS["package-dir"].items() if name.startswith(SHIPPED)}


def _packaged(package: str, folder: Path) -> set[Path]:
    """The files of ``folder`` that the package-data globs put into the wheel."""
    found: set[Path] = set()
    for pattern in SETUPTOOLS["package-data"].get(package, []):
        found |= {p for p in folder.glob(pattern) if p.is_file()}
    return found


def _needed(folder: Path) -> set[Path]:
    """Every file of ``folder`` the program may read (all of them, less web/'s build inputs)."""
    needed = set()
    for path in folder.rglob("*"):
        parts = path.relative_to(folder).parts
        if not path.is_file() or any(part.startswith(".") or part == "__pycache__" for part in parts):
            continue
        if folder.name == "web" and parts[0] in WEB_BUILD_INPUTS:
            continue
        if folder.name == "reasoned" and path.suffix != ".nt":  # its README is for people reading the checkout
            continue
        needed.add(path)
    return needed


def test_every_python_package_is_in_the_wheel():
    on_disk = {".".join(p.parent.relative_to(ROOT / "src").parts) for p in (ROOT / "src").rglob("__init__.py")}
    listed = set(SETUPTOOLS["packages"])
    assert on_disk <= listed, f"add {sorted(on_disk - listed)} to [tool.setuptools] packages"
    assert set(_mapped()) == {SHIPPED + f for f in ("ontology", "shapes", "queries", "web", "reasoned")}
    assert set(_mapped()) <= listed


@pytest.mark.parametrize("package", sorted(_mapped()))
def test_every_shipped_file_is_matched_by_the_package_data(package):
    folder = _mapped()[package]
    missing = sorted(str(p.relative_to(ROOT)) for p in _needed(folder) - _packaged(package, folder))
    assert not missing, f"the wheel would leave out {missing}: widen the package-data of {package}"


def test_the_checkout_reads_its_own_folders():
    assert config.shipped_home() == ROOT
    assert config.web_dir() == ROOT / "web"
    assert (config.web_dir() / "static" / "site.css").is_file()
    assert config.context_file() == ROOT / "src" / "myeloma_kg" / "context.jsonld"


def _lay_out_like_the_wheel(site: Path, with_vendor: bool) -> None:
    """Copy the package and, by the package-data globs, the shipped folders as the build does."""
    shutil.copytree(ROOT / "src" / "myeloma_kg", site / "myeloma_kg",
                    ignore=shutil.ignore_patterns("__pycache__", "shipped"))
    for package, folder in _mapped().items():
        target = site.joinpath(*package.split("."))
        for path in _packaged(package, folder):
            if not with_vendor and "vendor" in path.relative_to(folder).parts:
                continue
            copy = target / path.relative_to(folder)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, copy)


def test_a_copy_laid_out_like_the_wheel_runs_away_from_the_checkout(tmp_path):
    """Found through the package alone, from another folder; /query answers without YASGUI."""
    site, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    _lay_out_like_the_wheel(site, with_vendor=False)
    elsewhere.mkdir()
    script = textwrap.dedent("""
        from myeloma_kg import Settings
        from myeloma_kg.config import shipped_home
        from myeloma_kg.queries import QueryCatalog
        from myeloma_kg.web import create_app

        settings = Settings.load()
        assert shipped_home() == settings.home, settings.home
        assert settings.tbox_file.is_file() and settings.shapes_dir.is_dir()
        assert len(QueryCatalog(settings.queries_dir)) >= 18
        client = create_app(settings).test_client()
        for url, status in (("/", 200), ("/static/site.css", 200), ("/query", 200),
                            ("/context.jsonld", 200), ("/static/vendor/yasgui/yasgui.min.js", 404)):
            got = client.get(url).status_code
            assert got == status, (url, got)
        print(settings.home)
    """)
    env = {**os.environ, "PYTHONPATH": str(site), "MYELOMA_KG_CACHE_DIR": str(ROOT / ".cache"),
           "MYELOMA_KG_DATA_DIR": str(tmp_path / "data")}
    env.pop("MYELOMA_KG_HOME", None)
    result = subprocess.run([sys.executable, "-c", script], cwd=elsewhere, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert Path(result.stdout.strip()) == site / "myeloma_kg" / "shipped"
    assert not (tmp_path / "data").exists()  # nothing was imported, so nothing was written there


def test_the_source_tree_runs_without_an_install(tmp_path):
    """PYTHONPATH=src: the package finds the checkout's folders by walking up from itself."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("MYELOMA_KG_HOME", None)
    result = subprocess.run([sys.executable, "-c", "from myeloma_kg.config import shipped_home; print(shipped_home())"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == ROOT
