# Countersign — thin wrappers; CI calls these too.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run demo-nginx readme-check test lint typecheck importlint pytest chromium bench bench-core soak schema openapi clean faults packaging-tools image

#: What running needs (the package and its runtime dependencies); make test adds the dev tools.
RUN_STAMP := $(VENV)/.installed-run

$(RUN_STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e .
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(RUN_STAMP)
	COUNTERSIGN_DEV=$${COUNTERSIGN_DEV:-1} $(BIN)/countersign serve --dev

demo-nginx: $(STAMP)
	deploy/nginx/run-demo.sh

# Every sh block of README.md, run as written beside a real `make run` on the README's ports
# (tests/test_readme_commands.py); fails naming a port that is already taken.
readme-check: $(STAMP)
	$(BIN)/pytest tests/test_readme_commands.py -p no:randomly

lint: $(STAMP)
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict app

importlint: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP) chromium packaging-tools
	$(BIN)/pytest

# Debian's Chromium for the browser tests (tests/browser), never a browser build downloaded
# by Playwright. Only root can install it; elsewhere the browser tests skip, except in CI.
chromium:
	@command -v chromium >/dev/null && exit 0; \
	if [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	elif [ "$${CI:-}" = true ]; then \
	  echo "chromium is missing and only root can install it (apt-get install chromium)" >&2; \
	  exit 1; \
	else \
	  echo "chromium is missing (apt-get install chromium): the browser tests will skip" >&2; \
	fi

# Debian's tools for the packaging checks (tests/packaging): promtool (prometheus),
# systemd-analyze (systemd), and buildah, podman, runc and debootstrap to build and run the
# image. Installed like chromium: apt-get as root; elsewhere those checks skip, except in CI.
PACKAGING_TOOLS := promtool:prometheus systemd-analyze:systemd buildah:buildah podman:podman \
	runc:runc debootstrap:debootstrap
packaging-tools:
	@missing=""; \
	for pair in $(PACKAGING_TOOLS); do \
	  command -v "$${pair%%:*}" >/dev/null || missing="$$missing $${pair#*:}"; \
	done; \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	elif [ "$${CI:-}" = true ]; then \
	  echo "missing Debian packages:$$missing; only root can install them" >&2; \
	  exit 1; \
	else \
	  echo "missing Debian packages (apt-get install$$missing): those packaging checks will skip" >&2; \
	fi

# The container image from the Dockerfile (Docker format, so HEALTHCHECK is kept).
IMAGE ?= countersign:local
image:
	@if command -v buildah >/dev/null; then \
	  buildah bud --format docker --layers --tag $(IMAGE) .; \
	else \
	  docker build --tag $(IMAGE) .; \
	fi

test: lint typecheck importlint pytest

# The fault scenarios (tests/faults): Redis, Sentinel and Cluster killed, paused or emptied
# under load on loopback; prints a table (scenario, figure, verdict), also in
# tests/artifacts/faults.jsonl.
faults: $(STAMP)
	$(BIN)/pytest tests/faults -m 'faults or not faults' -p no:randomly

bench-core: $(STAMP)
	$(BIN)/python -m bench.core

bench: bench-core
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.forward_auth
	$(BIN)/python -m bench.grpc_check
	$(BIN)/python -m bench.workflow
	$(BIN)/python -m bench.impact

# Redis memory per request story, before and after retention trimming (bench/soak.py).
soak: $(STAMP)
	$(BIN)/python -m bench.soak

schema: $(STAMP)
	$(BIN)/countersign policy schema --write policy_rules/schema.json

openapi: $(STAMP)
	$(BIN)/python -m app.adapters.api.v1.openapi > openapi/openapi.json.tmp
	mv openapi/openapi.json.tmp openapi/openapi.json

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache var
