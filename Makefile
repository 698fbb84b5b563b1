# jobstream: `make run` starts everything from a fresh clone; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
export JOBSTREAM_STATE_DIR ?= $(CURDIR)/.jobstream

.PHONY: setup deps run lint test unit integration golden golden-wire screenshots infra-up infra-down bench-e2e clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

setup: $(BIN)/.installed

# Broker jars (Maven Central, cached outside git) and Debian's PostgreSQL server, when missing.
deps: setup
	$(BIN)/jobstream infra install

run: deps
	$(BIN)/jobstream run

# ruff (pyproject's [tool.ruff]) and mypy ([tool.mypy]: the package and the tests); make test runs it first.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint deps
	$(BIN)/pytest

unit: setup
	$(BIN)/pytest tests/unit

integration: deps
	$(BIN)/pytest tests/integration

# The README's screenshots of the dashboard, made by its browser tests.
screenshots: deps
	JOBSTREAM_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/pytest tests/integration/test_dashboard_browser.py

# Record the golden histories (tests/golden/*.jsonl) again: only when a change of behaviour is meant.
golden: setup
	$(BIN)/python -m tests.golden.record

# Record the golden wire bytes of the named records again (RECORDS='jobstream.workers.WorkerHeartbeat'):
# only after a deliberate change of their schema.
golden-wire: setup
	$(BIN)/python -m tests.unit.rerecord_wire $(RECORDS)

infra-up: deps
	$(BIN)/jobstream infra up

infra-down: setup
	$(BIN)/jobstream infra down

clean: infra-down
	rm -rf $(VENV) $(JOBSTREAM_STATE_DIR)
