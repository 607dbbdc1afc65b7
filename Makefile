# One entry point for everything a person does: install, run, test, lint, bench, build, deploy.
SHELL := /bin/bash
# Without this every sam command waits on telemetry calls this network cannot make.
export SAM_CLI_TELEMETRY := 0
# Lambda's Python, 3.13, wherever this machine has one: python3.13 on PATH, the `py` launcher, or a
# pyenv install (whose shim may be on PATH yet refuse to run); its path, or empty. The layers compile
# their .pyc with it (exported: layers/*/Makefile), and the venvs use it, else python3 (the code runs
# on 3.11 too).
# Looked for once (`:=`), unless given (`make build PY313=...`).
ifeq ($(origin PY313),undefined)
PY313 := $(shell for p in python3.13 'py -3.13' \
	$(sort $(wildcard $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions/3.13*/bin/python3.13)); do \
	$$p -c 'import sys; sys.version_info[:2] == (3, 13) and print(sys.executable)' 2>/dev/null | grep . && break; done)
endif
export PY313
PYTHON ?= $(or $(PY313),python3)
# Lambda finds the layer and the function on its path; here we put them there the same way.
export PYTHONPATH := layers/shared/python:functions/ingest:functions/compactor:local:cli
VENV := .venv
VPY := $(VENV)/bin/python
SAMVENV := .venv-sam
SAM := $(SAMVENV)/bin/sam
CHECKOVVENV := .venv-checkov

.PHONY: install run query lakegate check-layers test e2e-browser lint lint-code lint-template bench build deploy clean

$(VENV)/.installed: requirements.txt requirements-dev.txt layers/shared/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(SAMVENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAMVENV)
	$(SAMVENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@

$(CHECKOVVENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOVVENV)
	$(CHECKOVVENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

install: $(VENV)/.installed

## The local server: real handlers on an embedded moto (PORT, ADMIN_TOKEN, AWS_ENDPOINT_PORT).
run: install
	$(VPY) -m lakegate_local

## DuckDB over the landed Parquet: make query SQL='SELECT * FROM events_test' [BUCKET=<lake bucket>] [WORKSPACE=<id>]
## Both print only what the command prints (no echo of the recipe), so their output can be captured.
query: install
	@$(VPY) -m lakegate_local.query $(if $(BUCKET),--bucket "$(BUCKET)") $(if $(WORKSPACE),--workspace "$(WORKSPACE)") "$(SQL)"

## The admin CLI: make lakegate ARGS='--local tokens list'
lakegate: install
	@$(VPY) -m lakegate_cli $(ARGS)

## Unit, integration and end-to-end tests (moto only, no AWS account).
test: install
	$(VPY) -m pytest -q

## flock.js in a real headless Chromium (tests/e2e/test_flock_browser.py): Debian's `chromium` package,
## apt-installed (as root, else through sudo) when /usr/bin/chromium is missing; `make test` runs it too
## wherever Chromium is installed, and skips it elsewhere.
e2e-browser: install
	@test -x /usr/bin/chromium || { sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }
	$(VPY) -m pytest -q tests/e2e/test_flock_browser.py

lint: lint-code lint-template

lint-code: install
	$(VPY) -m ruff check .
	$(VPY) -m ruff format --check .
	$(VPY) -m mypy

## Offline template checks, no credentials and no region: SAM's own (with cfn-lint), cfn-lint with the
## serverless rules, checkov. The findings lakegate accepts are in README ("Template checks").
lint-template: $(SAMVENV)/.installed $(CHECKOVVENV)/.installed
	$(SAM) validate --lint --template template.yaml
	$(SAMVENV)/bin/cfn-lint --append-rules cfn_lint_serverless.rules -- template.yaml
	$(CHECKOVVENV)/bin/checkov --config-file .checkov.yaml --file template.yaml

bench: install
	$(VPY) bench/ingest.py
	$(VPY) bench/request_rate.py
	$(VPY) bench/small_requests.py
	$(VPY) bench/compact.py
	$(VPY) bench/local_server.py
	$(VPY) bench/compact_memory.py

## sam build, then: each function + its layers within Lambda's 250 MB unzipped, native code for arm64.
build: $(SAMVENV)/.installed
	$(SAM) build
	$(SAMVENV)/bin/python scripts/check_layers.py

check-layers: $(SAMVENV)/.installed
	$(SAMVENV)/bin/python scripts/check_layers.py

deploy: build
	$(SAM) deploy --guided

clean:
	rm -rf $(VENV) $(SAMVENV) $(CHECKOVVENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache .cache
