# Countersign — thin wrappers; CI calls these too.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run demo-nginx test lint typecheck importlint pytest bench bench-core schema clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	COUNTERSIGN_DEV=$${COUNTERSIGN_DEV:-1} $(BIN)/countersign serve --dev

demo-nginx: $(STAMP)
	deploy/nginx/run-demo.sh

lint: $(STAMP)
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict app

importlint: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck importlint pytest

bench-core: $(STAMP)
	$(BIN)/python -m bench.core

bench: bench-core
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.forward_auth
	$(BIN)/python -m bench.workflow

schema: $(STAMP)
	$(BIN)/countersign policy schema --write policy_rules/schema.json

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache var
