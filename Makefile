# The two commands of the README. Both set everything up first (idempotent).
.PHONY: demo test setup setup-dev

demo: setup
	.venv/bin/bap demo

test: setup-dev
	.venv/bin/python -m pytest

setup:
	./scripts/setup.sh

setup-dev:
	./scripts/setup.sh --dev
