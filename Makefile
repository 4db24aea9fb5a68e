# Two entry points: `make run` (set up and serve) and `make test` (set up and run every test).
# Both build their own virtual environment in .venv from pyproject.toml.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test check install bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/myeloma-kg serve

test: $(STAMP)
	$(BIN)/python -m pytest

check: $(STAMP)
	$(BIN)/myeloma-kg check

bench: $(STAMP)
	$(BIN)/python benchmarks/store_engines.py

clean:
	rm -rf $(VENV) .cache .pytest_cache
