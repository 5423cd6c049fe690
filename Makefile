# airlines-analytics — the commands a user and CI run. See README.md.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
export AIRLINES_CACHE ?= $(HOME)/.cache/airlines-analytics
export PATH := $(AIRLINES_CACHE)/bin:$(PATH)

.PHONY: help setup lock docs test lint typecheck unit chart-test demo bench images clean e2e e2e-up e2e-test e2e-down

help: ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

setup: ## install everything (idempotent; a second run downloads nothing)
	@scripts/setup.sh

lock: ## regenerate requirements/*.txt (hashed locks) from pyproject.toml and requirements/sbom.in
	@test -x $(BIN)/python || scripts/setup.sh
	$(BIN)/python -m airlines.locks

docs: setup ## regenerate values.yaml, values.schema.json, the chart README (helm-docs), docs/cli.md, README sections
	$(BIN)/airlines values generate
	$(BIN)/python -m airlines.docs

lint: setup ## ruff, and import-linter (the package's layers: [tool.importlinter] in pyproject.toml)
	$(BIN)/ruff check src testkit tests jobs benchmarks localkube
	$(BIN)/ruff format --check src testkit tests jobs benchmarks localkube
	$(BIN)/lint-imports

typecheck: setup ## mypy --strict
	$(BIN)/mypy

test: setup lint typecheck ## everything: lint, types, unit, integration (real services), charts
	$(BIN)/pytest

unit: setup ## only the tests that need no services
	$(BIN)/pytest -m "not integration and not spark and not chart and not e2e"

chart-test: setup ## only the chart tests: lint, render, kubeconform, helm-unittest, values, images
	$(BIN)/pytest -m chart

demo: setup ## run the whole system locally with a live view (Ctrl-C stops it)
	$(BIN)/airlines demo

bench: setup ## print throughput figures (never asserted)
	$(BIN)/python -m benchmarks

e2e: setup ## real cluster: build Kubernetes + images, install the chart, run tests/e2e, tear down
	$(BIN)/python -m localkube e2e

e2e-up: setup ## start the e2e cluster and leave it running (KUBECONFIG=.e2e/kubeconfig)
	@scripts/setup-cluster-tools.sh
	$(BIN)/python -m localkube up

e2e-test: ## run tests/e2e against the running e2e cluster (make e2e-up first)
	$(BIN)/python -m localkube test

e2e-down: ## stop the e2e cluster; fails if anything is left behind
	$(BIN)/python -m localkube down

images: ## build the container images (docker, minikube or buildah)
	@scripts/build-images.sh

clean: ## stop the local stack and remove its data
	-$(BIN)/airlines stack down
	rm -rf .stack .state
