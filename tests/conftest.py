"""Shared fixtures: the shipped graph is loaded (and reasoned) once per test session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from myeloma_kg import Settings, load_graph
from myeloma_kg.queries import QueryCatalog

# Fixture modules every test may use: the triple stores (stores.py) and the content-fixture harness.
pytest_plugins = ["stores", "content_fixtures"]

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"

# The fuzz campaign's size (tests/security/test_fuzz.py): "quick" in `make test`, "full" as a step
# of its own in .ci/run.  Set before the test modules are imported, which read it.
FUZZ_CAMPAIGN = {"size": "quick"}


def pytest_addoption(parser):
    parser.addoption("--fuzz-campaign", choices=("quick", "full"), default="quick",
                     help="how many generated requests the fuzz tests send: quick (about 1,100) or full (about 6,700)")
    parser.addoption("--with-spark", action="store_true", default=False,
                     help="also run the Spark engine's tests (half a minute; .ci/run runs them as a step of their own)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--with-spark"):
        return
    skip = pytest.mark.skip(reason="the Spark tests run with --with-spark (a step of their own in .ci/run)")
    for item in items:
        if "spark" in item.keywords:
            item.add_marker(skip)


def pytest_configure(config):
    FUZZ_CAMPAIGN["size"] = config.getoption("--fuzz-campaign")


@pytest.fixture(scope="session", autouse=True)
def _own_folders(tmp_path_factory):
    """Commands and servers the tests start read MYELOMA_KG_* too: the same folders for them."""
    saved = {k: os.environ.get(k) for k in ("MYELOMA_KG_CACHE_DIR", "MYELOMA_KG_DATA_DIR")}
    os.environ["MYELOMA_KG_CACHE_DIR"] = str(ROOT / ".cache")
    os.environ["MYELOMA_KG_DATA_DIR"] = str(tmp_path_factory.mktemp("user-data"))
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    """The checkout's files; the reasoner cache in the checkout's .cache (kept between runs, so
    only a change of the files reasons again) and imported data in a fresh folder, so neither
    the user's cache nor an RxNorm import of theirs plays a part."""
    return Settings.load({"home": str(ROOT), "cache_dir": str(ROOT / ".cache"),
                          "data_dir": str(tmp_path_factory.mktemp("data"))}, environ={})


@pytest.fixture(scope="session")
def kg(settings):
    return load_graph(settings)


@pytest.fixture(scope="session")
def catalog(settings) -> QueryCatalog:
    return QueryCatalog(settings.queries_dir)


@pytest.fixture(scope="session")
def recommender(kg, settings):
    """The recommender every patient test shares (the app builds its own, the same way)."""
    from myeloma_kg.patients.recommend import Recommender

    return Recommender(kg, settings)


@pytest.fixture(scope="session")
def make_app(kg, settings):
    """Web apps over the session's graph, one per distinct set of settings, closed at the end.

    ``make_app(query_timeout_s=2.0)`` gives the app with those settings changed; ``graph=`` serves
    another graph, ``query_workers=`` sizes the endpoint's worker pool.
    """
    from myeloma_kg.web import create_app

    made: dict[tuple, object] = {}

    def make(graph=None, query_workers: int | None = None, **overrides):
        key = (id(graph or kg), query_workers, tuple(sorted(overrides.items())))
        if key not in made:
            made[key] = create_app(settings.with_overrides(overrides), graph or kg, query_workers=query_workers)
        return made[key]

    yield make
    for app in made.values():
        app.extensions["sparql"].close()
        app.extensions["patients"].close()


@pytest.fixture(scope="session")
def app(make_app):
    """The app most web tests use: a short query time limit and a small row limit, so limits are quick to reach."""
    return make_app(query_timeout_s=2.0, max_result_rows=500)


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def run_query(kg, catalog):
    """Run a named query with parameters; rows as dicts of plain values."""

    def run(name: str, **params):
        named = catalog.get(name)
        return kg.select(named.text, named.bind(params))

    return run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, tries: int = 150) -> bool:
    """True once ``url`` answers at all (any HTTP status), False after about 30 s."""
    for _ in range(tries):
        try:
            urllib.request.urlopen(url, timeout=1)
            return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            time.sleep(0.2)
    return False


@pytest.fixture(scope="session")
def live_server():
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "myeloma_kg.cli.main", "serve", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    if not _wait_for(url + "/sparql"):
        process.kill()
        pytest.fail("the server did not start: " + process.stdout.read().decode(errors="replace")[-2000:])
    yield url
    process.terminate()
    process.wait(timeout=10)
