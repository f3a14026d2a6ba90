# CloudBox: `make run` starts a server, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test lint typecheck pytest test-js install install-dev clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "CloudBox needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## Start a server on 127.0.0.1:8080 with SQLite in ./.cloudbox (see README for settings).
run: install
	$(BIN)/cloudbox db upgrade
	$(BIN)/cloudbox serve --no-migrate

## Lint, type-check, check import rules, then run every test (slow ones included).
test: install-dev lint typecheck pytest test-js

lint: install-dev
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/lint-imports

typecheck: install-dev
	$(BIN)/mypy

pytest: install-dev
	$(BIN)/pytest $(PYTEST_ARGS)

## The JavaScript SDK's tests (node --test) against a real server process.
test-js: install-dev
	cd sdk/js && npm ci --no-audit --no-fund && CLOUDBOX_PYTHON=$(abspath $(BIN)/python) npm test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
