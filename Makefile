# Two entry points: `make run` (set up and serve) and `make test` (set up and run every test).
# Both build their own virtual environment in .venv from pyproject.toml.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

YASGUI := web/static/vendor/yasgui/yasgui.min.js

.PHONY: run test lint check install bench wheel smoke clean

# Two stamps: serving needs the package alone; the tests add the test extras (Playwright, linters).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

# The SPARQL editor (YASGUI) comes from the npm registry at build time and is served from the
# project's own static files; nothing is fetched from a CDN when the site runs.
$(YASGUI): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	mkdir -p web/static/vendor/yasgui
	cp web/node_modules/@zazuko/yasgui/build/yasgui.min.js web/node_modules/@zazuko/yasgui/build/yasgui.min.css web/static/vendor/yasgui/
	printf 'YASGUI %s (npm package @zazuko/yasgui), licence MIT.\nCopyright (c) Triply <info@triply.cc> and Zazuko GmbH.\nSource: https://github.com/rdfjs/Yasgui\n\n' "$$(node -p "require('./web/node_modules/@zazuko/yasgui/package.json').version")" > web/static/vendor/yasgui/LICENSE.txt
	cat web/licenses/MIT.txt >> web/static/vendor/yasgui/LICENSE.txt

install: $(TEST_STAMP) $(YASGUI)

run: $(STAMP) $(YASGUI)
	$(BIN)/myeloma-kg serve

# the suite in two worker processes, each test file whole in one of them (its servers and module
# fixtures are started once); TEST_WORKERS=0 runs it in this process
TEST_WORKERS ?= 2
test: $(TEST_STAMP) $(YASGUI)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# ruff (pyflakes, pycodestyle, import order, bugbear, pyupgrade) and mypy on the typed modules.
lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/mypy

check: $(STAMP)
	$(BIN)/myeloma-kg check

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/store_engines.py

# The wheel in dist/, with the ontology, shapes, queries and web files (YASGUI included) inside.
# build/ goes first: setuptools would otherwise pack files left there by an earlier build; of dist/
# only the project's own wheels go, so nothing else a user put there is deleted.
wheel: $(STAMP) $(YASGUI)
	rm -rf build
	rm -f dist/myeloma_kg-*.whl
	$(BIN)/python scripts/ship_classification.py
	$(PYTHON) -m pip wheel --quiet --no-deps --wheel-dir dist .

# The wheel, installed into a fresh virtual environment and run from an unrelated folder (as CI does).
smoke: $(STAMP) $(YASGUI)
	bash .ci/smoke-wheel

clean:
	rm -rf $(VENV) .cache .pytest_cache build dist web/node_modules web/static/vendor
