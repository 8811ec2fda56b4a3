# The two commands a new user needs: `make up` and `make test`.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: help install up down test test-fast lint bench clean

help:
	@echo "make up     start the whole platform locally, no Docker: PostgreSQL, Redis, ArcadeDB and"
	@echo "           storage :8082, context :8081, context-graph :8091, intent-graph :8089;"
	@echo "           prints every URL and the platform signing key's path (state in .devstack/)"
	@echo "           DEVSTACK_OBJECT_BACKEND=s3: objects in a local S3 store (SeaweedFS)"
	@echo "make down   stop everything 'make up' started (data stays in .devstack/)"
	@echo "make test   run every test against real servers"
	@echo "make lint   ruff + mypy"
	@echo "make bench  run the benchmarks (docs/performance.md)"
	@echo "Containers (a Docker engine): docker compose -f devstack/compose.yml \\"
	@echo "           -f devstack/compose.security.yml up --build  (docs/development.md)"

# Installs uv from PyPI when missing, then the locked environment.
install:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet --disable-pip-version-check uv
	@$(UV) sync --frozen --quiet

up: install
	@$(UV) run --frozen unison-devstack up

down:
	@$(UV) run --frozen unison-devstack down

test: install
	@$(UV) run --frozen pytest

test-fast: install
	@$(UV) run --frozen pytest -m "not slow"

lint: install
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen mypy shared/src services/storage/src devstack/src \
		services/context-graph/src services/intent-graph/src services/context/src \
		tools/migrate/src clients/python/src tools/admin/src bench

# wrk (Debian's package) drives the HTTP load; valgrind is for `python -m
# bench.instructions`, which counts instructions per request in-process (callgrind).
bench: install
	@for tool in wrk:wrk valgrind:valgrind; do \
		command -v $${tool%%:*} >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& { apt-get install -y -qq $${tool##*:} >/dev/null 2>&1 \
		     || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq $${tool##*:} >/dev/null 2>&1; }; }; } || true; \
	done
	@$(UV) run --frozen python -m bench.run

clean: down
	rm -rf .devstack
