# The two commands of the README. Both set everything up first (idempotent).
.PHONY: demo test setup setup-dev audit

demo: setup
	.venv/bin/bap demo

test: setup-dev
	.venv/bin/python -m pytest

setup:
	./scripts/setup.sh

setup-dev:
	./scripts/setup.sh --dev

audit:
	python3 -m venv .audit-venv && .audit-venv/bin/pip install --quiet pip-audit && \
	.audit-venv/bin/pip-audit -r requirements.lock --no-deps; status=$$?; rm -rf .audit-venv; exit $$status
