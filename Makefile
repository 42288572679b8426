# Two commands set everything up on a fresh machine:
#   make run    create .venv, install, run the default screening flow, print the top candidates
#   make test   create .venv, install, run the test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

# Prefect: project-local home, ephemeral API (no server to start by hand), no telemetry
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1

.PHONY: install run test train ui clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) -m flows.screen

test: install
	$(PY) -m pytest -q

train: install
	$(PY) -m screening.train

clean:
	rm -rf $(VENV) results .prefect .pytest_cache
