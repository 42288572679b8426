# Two commands set everything up on a fresh machine:
#   make run    create .venv, install, run the default screening flow, print the top candidates
#   make test   create .venv, install, run the test suite (every test, the slow integration tests too)
#   make test-fast   the suite without the tests marked slow (browser, Dask cluster, notebooks, whole-space enumeration, flows, MLIP potentials on CPU)
#   make lint   ruff on the tree and mypy on screening/ (configured in pyproject.toml)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

# Prefect: project-local home, ephemeral API (no server to start by hand), no telemetry
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1

.PHONY: install run test test-fast lint train ui notebook browser clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev,mlip]"
	touch $@

install: $(VENV)/.installed

# the default screen of the OBELiX compositions without the relax tier: its MLIP relaxations take minutes
# a candidate on CPU (screening screen, the UI and the API run it, on the best 8)
run: install
	$(PY) -m flows.cli screen --tiers composition,stability,structure

test: install browser
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

test-fast: install
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -m "not slow"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

train: install
	$(PY) -m screening.training

# Prefect server on 127.0.0.1:4200 plus the served deployments screen, train, evaluate
ui: install
	PY=$(PY) PORT=$${PORT:-4200} bash scripts/ui.sh

# JupyterLab on notebooks/ (the `notebooks` extra is installed the first time); JUPYTER_ARGS for more options
$(VENV)/.notebooks: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[notebooks]"
	touch $@

notebook: $(VENV)/.notebooks
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --ServerApp.ip=127.0.0.1 $${JUPYTER_ARGS:-}

# Debian's headless Chromium for tests/flows/test_ui_browser.py (skipped when /usr/bin/chromium exists)
browser:
	@if [ -x /usr/bin/chromium ]; then echo "chromium present"; else apt-get update && apt-get install -y chromium chromium-driver; fi

clean:
	rm -rf $(VENV) results .prefect .pytest_cache .mypy_cache
