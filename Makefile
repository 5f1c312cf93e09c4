# The front door. `make run` and `make test` are the two commands a newcomer needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install lock test test-unit test-integration lint typecheck run demo start stop status bench fuzz chaos clean

help:
	@echo "make run    - set up, start the four services on the embedded store, send the samples, serve"
	@echo "make test   - the whole test suite (real RabbitMQ and PostgreSQL, see README)"
	@echo "make demo   - like run, but exits when the samples reach their final states"
	@echo "make start / make stop - the services in the background (logs and pids under var/)"
	@echo "make bench  - the benchmarks (results under bench/results/)"
	@echo "make fuzz   - schemathesis, all checks, over the four services' APIs (10,000+ requests)"
	@echo "make chaos  - 1,000+ consignments through service kills, broker and database restarts"
	@echo "make lock   - regenerate the hash-locked requirements/*.lock from pyproject.toml"

# The venv is installed from the hash-locked requirements (the same files wherever it runs):
# pip and the build backend (build.lock), then everything the services, the tests and the
# benchmarks import (dev.lock: the runtime dependencies and the dev, bench and plot extras),
# then the project itself, editable, with no dependency of its own fetched. Redone only when
# pyproject.toml or a lock changes.
LOCKS := requirements/build.lock requirements/base.lock requirements/dev.lock
PIP := $(BIN)/python -m pip

$(STAMP): pyproject.toml $(LOCKS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --require-hashes -r requirements/build.lock
	$(PIP) install --quiet --require-hashes -r requirements/dev.lock
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	$(PIP) check --quiet
	@touch $(STAMP)

install: $(STAMP)

# Regenerate the locks from pyproject.toml (and requirements/build.in) with uv, installed in a
# throwaway venv; versions already locked are kept unless a pin changed. `make lock
# LOCK_FLAGS=--upgrade` moves every unpinned dependency to its newest release. Resolved for
# Python 3.11 on every platform, from PyPI, with the hash of every file of each version.
UV_VERSION := 0.13.8
LOCK_FLAGS ?=
lock:
	@tool=$$(mktemp -d) && trap 'rm -rf "$$tool"' EXIT && \
	$(PYTHON) -m venv "$$tool" && "$$tool/bin/pip" install --quiet uv==$(UV_VERSION) && \
	compile() { "$$tool/bin/uv" pip compile --quiet --universal --python-version 3.11 \
		--generate-hashes --default-index https://pypi.org/simple \
		--custom-compile-command "make lock" $(LOCK_FLAGS) "$$@"; } && \
	compile requirements/build.in -o requirements/build.lock && \
	compile pyproject.toml -o requirements/base.lock && \
	compile pyproject.toml --extra dev --extra bench --extra plot -o requirements/dev.lock && \
	echo "requirements/*.lock regenerated"

lint: $(STAMP)
	$(BIN)/ruff check shared services cli audit bench infra tests

typecheck: $(STAMP)
	$(BIN)/mypy shared services cli audit

test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -p no:nameko -q --durations=15 tests

test-unit: $(STAMP)
	$(BIN)/python -m pytest -p no:nameko -q tests/unit

test-integration: $(STAMP)
	$(BIN)/python -m pytest -p no:nameko -q tests/integration

start: $(STAMP)
	$(BIN)/python -m services.runner start

stop: $(STAMP)
	$(BIN)/python -m services.runner stop

status: $(STAMP)
	$(BIN)/python -m services.runner status

# Start the services, send the samples through, stop again; exit 0 only if all end as expected.
demo: $(STAMP)
	@$(BIN)/python -m services.runner start
	@code=0; $(BIN)/python -m cli.demo || code=$$?; $(BIN)/python -m services.runner stop; exit $$code

# The main job: start, send the samples through, then keep serving until Ctrl-C. One shell, so
# Ctrl-C (or SIGTERM) at any point stops the four services at once (services.runner stop);
# `sleep 1 & wait` lets the trap run as soon as the signal arrives.
run: $(STAMP)
	@trap '$(BIN)/python -m services.runner stop; exit 0' INT TERM; \
	$(BIN)/python -m services.runner start || exit $$?; \
	$(BIN)/python -m cli.demo || true; \
	echo; echo "Serving: declaration http://$${DECLARATION_HTTP:-127.0.0.1:8001}  risk http://$${RISK_HTTP:-127.0.0.1:8002}  payment http://$${PAYMENT_HTTP:-127.0.0.1:8003}  release http://$${RELEASE_HTTP:-127.0.0.1:8004}"; \
	echo 'Try: export CLEARANCE_TOKEN=$$($(BIN)/clearance token --role auditor); $(BIN)/clearance status MRN   |   $(BIN)/clearance listen   |   Ctrl-C to stop.'; \
	while true; do sleep 1 & wait $$!; done

# Every workload side by side with its peer (about 15 minutes on 2 cores); writes
# bench/results/latest.json and regenerates docs/performance.md.
bench: $(STAMP)
	$(BIN)/python -m bench.run

# Schemathesis against the four running services (tests/fuzz: every operation, each role,
# all checks), at full size: FUZZ_EXAMPLES per operation and phase, over 10,000 requests in
# all; prints requests, failures and 5xx at the end. `make test` runs a short version.
FUZZ_EXAMPLES ?= 400
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -p no:nameko -q -p no:cacheprovider \
		--timeout 3600 tests/fuzz

# The chaos run at full size (tests/chaos): at least CHAOS_CONSIGNMENTS consignments through
# the four services on PostgreSQL while, in turn and in rounds, each service is SIGKILLed and
# restarted, the broker and PostgreSQL are restarted (this machine's own: run it where
# nothing else uses them); prints consignments, faults, lost, duplicated and parked.
# `make test` runs a short version.
CHAOS_CONSIGNMENTS ?= 1000
CHAOS_GAP ?= 5
chaos: $(STAMP)
	CHAOS_CONSIGNMENTS=$(CHAOS_CONSIGNMENTS) CHAOS_GAP=$(CHAOS_GAP) $(BIN)/python -m pytest \
		-p no:nameko -q -p no:cacheprovider --timeout 7200 tests/chaos

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
