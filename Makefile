# One entry point for everything a person does: install, run, test, lint, bench, build, deploy.
SHELL := /bin/bash
# Without this every sam command waits on telemetry calls this network cannot make.
export SAM_CLI_TELEMETRY := 0
# Lambda runs python3.13: use it for the venv when this machine has a working one.
PYTHON ?= $(shell for p in python3.13 /root/.pyenv/versions/3.13.0/bin/python3.13 python3; do \
	$$p -c 'import sys' >/dev/null 2>&1 && { command -v $$p; break; }; done)
# Lambda finds the layer and the function on its path; here we put them there the same way.
export PYTHONPATH := layers/shared/python:functions/ingest:functions/compactor:local:cli
VENV := .venv
VPY := $(VENV)/bin/python
SAMVENV := .venv-sam
SAM := $(SAMVENV)/bin/sam

.PHONY: install run query lakegate check-layers test lint lint-code lint-template bench build deploy clean

$(VENV)/.installed: requirements.txt requirements-dev.txt layers/shared/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(SAMVENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAMVENV)
	$(SAMVENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@

install: $(VENV)/.installed

## The local server: real handlers on an embedded moto (PORT, ADMIN_TOKEN, AWS_ENDPOINT_PORT).
run: install
	$(VPY) -m lakegate_local

## DuckDB over the landed Parquet: make query SQL='SELECT * FROM events_test' [BUCKET=<lake bucket>]
query: install
	$(VPY) -m lakegate_local.query $(if $(BUCKET),--bucket "$(BUCKET)") "$(SQL)"

## The admin CLI: make lakegate ARGS='--local tokens list'
lakegate: install
	$(VPY) -m lakegate_cli $(ARGS)

## Unit, integration and end-to-end tests (moto only, no AWS account).
test: install
	$(VPY) -m pytest -q

lint: lint-code lint-template

lint-code: install
	$(VPY) -m ruff check .
	$(VPY) -m ruff format --check .
	$(VPY) -m mypy

## Offline template check: needs no credentials and no region.
lint-template: $(SAMVENV)/.installed
	$(SAM) validate --lint --template template.yaml

bench: install
	$(VPY) bench/ingest.py
	$(VPY) bench/request_rate.py
	$(VPY) bench/compact.py
	$(VPY) bench/local_server.py

## sam build, then: each function + its layers within Lambda's 250 MB unzipped, native code for arm64.
build: $(SAMVENV)/.installed
	$(SAM) build
	$(SAMVENV)/bin/python scripts/check_layers.py

check-layers: $(SAMVENV)/.installed
	$(SAMVENV)/bin/python scripts/check_layers.py

deploy: build
	$(SAM) deploy --guided

clean:
	rm -rf $(VENV) $(SAMVENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
