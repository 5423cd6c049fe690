# airlines-analytics — the commands a user and CI run. See README.md.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
export AIRLINES_CACHE ?= $(HOME)/.cache/airlines-analytics
export PATH := $(AIRLINES_CACHE)/bin:$(PATH)

.PHONY: help setup test lint typecheck unit chart-test demo bench images clean

help: ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

setup: ## install everything (idempotent; a second run downloads nothing)
	@scripts/setup.sh

lint: setup ## ruff
	$(BIN)/ruff check src tests jobs benchmarks
	$(BIN)/ruff format --check src tests jobs benchmarks

typecheck: setup ## mypy --strict
	$(BIN)/mypy

test: setup lint typecheck ## everything: lint, types, unit, integration (real services), charts
	$(BIN)/pytest

unit: setup ## only the tests that need no services
	$(BIN)/pytest -m "not integration and not spark and not chart"

chart-test: setup ## only the chart tests: lint, render, kubeconform, helm-unittest, values, images
	$(BIN)/pytest -m chart

demo: setup ## run the whole system locally with a live view (Ctrl-C stops it)
	$(BIN)/airlines demo

bench: setup ## print throughput figures (never asserted)
	$(BIN)/python -m benchmarks

images: ## build the container images (docker or minikube)
	@scripts/build-images.sh

clean: ## stop the local stack and remove its data
	-$(BIN)/airlines stack down
	rm -rf .stack .state
