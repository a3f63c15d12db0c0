# The two commands of the README. Both set everything up first (idempotent).
.PHONY: demo test check setup setup-dev audit

# Test workers: one per core (pytest-xdist); `make test WORKERS=0` runs the suite in one process.
WORKERS ?= auto

demo: setup
	.venv/bin/bap demo

# The style and type gates first, then every test (real PostgreSQL, Prefect, browser, signals).
# Each module runs whole on one worker (its module fixtures are built once), in collection order
# (tests/conftest.py starts the slow modules first; it also starts one real Prefect server that all
# workers share, instead of one per worker). Not --dist loadgroup: with pytest 9 it no
# longer groups (xdist 3.8 sets `item._nodeid`, which pytest 9 no longer reads).
test: check
	.venv/bin/python -m pytest -n $(WORKERS) --dist loadscope --no-loadscope-reorder --durations=25

# What CI checks before a test runs: lint, formatting, types (strict on flows/ and ui/).
check: setup-dev
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

setup:
	./scripts/setup.sh

setup-dev:
	./scripts/setup.sh --dev

audit:
	python3 -m venv .audit-venv && .audit-venv/bin/pip install --quiet pip-audit && \
	.audit-venv/bin/pip-audit -r requirements.lock --no-deps; status=$$?; rm -rf .audit-venv; exit $$status
