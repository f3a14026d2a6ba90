# CloudBox: `make run` starts a server, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?= -n 2

.PHONY: run test lint typecheck pytest test-js install install-dev clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "CloudBox needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The Python SDK (sdk/python) is installed beside the server: the CLI's client commands use it.
$(VENV)/.installed: pyproject.toml sdk/python/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e sdk/python -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml sdk/python/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e sdk/python -e '.[dev]'
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
	$(BIN)/ruff check src tests sdk/python bench
	$(BIN)/ruff format --check src tests sdk/python bench
	$(BIN)/lint-imports

typecheck: install-dev
	$(BIN)/mypy
	cd sdk/python && $(abspath $(BIN))/mypy

## The server's suite, then the Python SDK's (both against real servers).
pytest: install-dev
	$(BIN)/pytest $(PYTEST_ARGS)
	$(BIN)/pytest sdk/python/tests

## The JavaScript SDK's tests (node --test) against a real server process.
test-js: install-dev
	cd sdk/js && npm ci --no-audit --no-fund && CLOUDBOX_PYTHON=$(abspath $(BIN)/python) npm test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

## Benchmarks against tar/gzip on the same data (bench/, docs/performance.md); SCALE=1 ≈ 1 GiB.
SCALE ?= 0.1
.PHONY: bench
bench: install-dev
	$(BIN)/python -m bench.run --scale $(SCALE)
