# The two commands of the README: `make run` and `make test`. Everything they need is installed
# here (Python deps into .venv, Neo4j jars into ~/.m2 via Maven, and for the tests the MCP
# Inspector CLI from the npm lockfile into tools/mcp-inspector/node_modules), never assumed on
# the machine.

VENV    := .venv
BIN     := $(VENV)/bin
NEO4J   := tools/neo4j-server/neo4j-server
PYTHON  ?= python3
NPM     ?= npm
# npm ci writes this hidden lockfile at the end of an install: newer than package-lock.json = done.
INSPECTOR := tools/mcp-inspector/node_modules/.package-lock.json

.PHONY: setup run test lint typecheck unit neo4j-start neo4j-stop bench clean

$(BIN)/memvault: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(INSPECTOR): tools/mcp-inspector/package-lock.json
	$(NPM) ci --prefix tools/mcp-inspector --no-audit --no-fund
	touch $@

## setup: Python environment and the Neo4j launcher, built once
setup: $(BIN)/memvault
	$(NEO4J) build

.env:
	cp .env.example .env
	@echo "created .env from .env.example; edit it to change settings"

## run: start the local Neo4j replica, prepare its schema, serve the API on 127.0.0.1:8765
run: setup .env
	set -a && . ./.env && set +a && $(NEO4J) start \
	  && $(BIN)/memvault neo4j init-schema && exec $(BIN)/memvault serve

## test: every gate CI runs: lint, format, types, and the whole test suite (real Neo4j, and the
## MCP Inspector CLI, which only the tests use)
test: setup $(INSPECTOR) lint typecheck
	$(BIN)/pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy

unit: $(BIN)/memvault
	$(BIN)/pytest tests/unit

neo4j-start: setup .env
	set -a && . ./.env && set +a && $(NEO4J) start

neo4j-stop:
	$(NEO4J) stop

## bench: print the benchmark figures recorded in docs/benchmarks.md
bench: $(BIN)/memvault
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tools/mcp-inspector/node_modules
