# mongo-ops-toolkit: `make up` for a local cluster, `make test` for the whole suite.
# Targets that need the virtual environment create it first.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
COMPOSE ?= docker compose

.PHONY: docker-check help install test test-live test-fast lint up up-sharded down logs seed backup bench render clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

install: $(PY_STAMP) $(NODE_STAMP)  ## Create .venv (pip install -e .[dev]) and install mongosh for the tests

$(PY_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

test: lint  ## Run the whole test suite (lint, unit, end-to-end against the test server)
	$(BIN)/pytest

test-live: install  ## The `live` end-to-end tests against the real MongoDB in MONGODB_URI
	@test -n "$$MONGODB_URI" || { echo "make: set MONGODB_URI to a disposable MongoDB (its databases are dropped)" >&2; exit 2; }
	$(BIN)/pytest -m live

test-fast: $(PY_STAMP)  ## Unit tests only
	$(BIN)/pytest tests/unit -q

lint: install  ## ruff, mypy
	$(BIN)/ruff check toolkit tests scripts
	$(BIN)/ruff format --check toolkit tests scripts
	$(BIN)/mypy

define require_docker
	@command -v docker >/dev/null 2>&1 || { echo "make: docker is not installed; install Docker Engine with the compose plugin" >&2; exit 1; }
	@docker info >/dev/null 2>&1 || { echo "make: no Docker engine is reachable (docker info failed); start Docker and try again" >&2; exit 1; }
endef

# Checked before anything is installed: without Docker, `make up` fails at once.
docker-check:
	$(require_docker)

up: docker-check $(PY_STAMP)  ## Start the local replica set, apply the catalog's schema, seed once
	scripts/up.sh

up-sharded: docker-check $(PY_STAMP)  ## Start a local sharded cluster (config server, 2 shards, mongos on 127.0.0.1:27020), apply schema and sharding
	scripts/up-sharded.sh

down:  ## Stop the local cluster (data volumes are kept; `docker compose down -v` drops them)
	$(require_docker)
	$(COMPOSE) --profile tools --profile sharded down

logs:  ## Follow the local cluster's logs
	$(require_docker)
	$(COMPOSE) logs -f

seed: $(PY_STAMP)  ## Re-seed the local cluster from catalogs/ (replaces the seeded documents)
	scripts/with-local-uri.sh $(BIN)/mongo-toolkit seed --seed 1 --drop --now today

backup: $(PY_STAMP)  ## Back up the local cluster to ./backups
	scripts/with-local-uri.sh $(BIN)/mongo-toolkit backup create --to backups/

render: $(PY_STAMP)  ## Re-render mongo-init/ from catalogs/
	$(BIN)/mongo-toolkit schema render --out mongo-init/

bench: $(PY_STAMP)  ## Benchmarks: ratios measured side by side in one run
	$(BIN)/python scripts/bench.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache .mypy_cache .hypothesis
