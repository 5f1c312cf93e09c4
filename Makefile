# The front door. `make run` and `make test` are the two commands a newcomer needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install test test-unit test-integration lint typecheck run demo start stop bench clean

help:
	@echo "make run    - set up, start the four services on the embedded store, send the samples, serve"
	@echo "make test   - the whole test suite (real RabbitMQ and PostgreSQL, see README)"
	@echo "make demo   - like run, but exits when the samples reach their final states"
	@echo "make start / make stop - the services in the background (logs and pids under var/)"
	@echo "make bench  - the benchmarks (results under bench/results/)"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check shared services cli tests

typecheck: $(STAMP)
	$(BIN)/mypy shared services cli

test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -p no:nameko -q --durations=15 tests

test-unit: $(STAMP)
	$(BIN)/python -m pytest -p no:nameko -q tests/unit

test-integration: $(STAMP)
	$(BIN)/python -m pytest -p no:nameko -q tests/integration

run demo start stop bench: $(STAMP)
	@echo "'make $@' arrives with the pipeline issue (the four services); see README." ; exit 2

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
