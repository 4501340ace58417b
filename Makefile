# SynoChatGPT: one Makefile for developers and CI (CI runs `make test` through .ci/run).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DATA   ?= data
PORT   ?= 8008

.PHONY: help venv run test lint typecheck unit clean

help:
	@echo "make run    start the server on http://localhost:$(PORT) with data in ./$(DATA)"
	@echo "make test   lint, type-check and run the whole test suite"
	@echo "make clean  remove the venv and caches (never ./$(DATA))"

## Environment ##############################################################

# The stamp file makes the venv rebuild only when the pinned requirements change.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

## Running ##################################################################

run: venv
	$(PY) -m app serve --port $(PORT) --data-dir $(DATA)

## Checks ###################################################################

lint: venv
	$(PY) -m ruff check app tests
	$(PY) -m ruff format --check app tests

typecheck: venv
	$(PY) -m mypy

unit: venv
	$(PY) -m pytest -q

test: lint typecheck unit

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
