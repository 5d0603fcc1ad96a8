# `make help` lists the targets. Every target that runs Python first creates
# or refreshes .venv from pyproject.toml, pinned by requirements/constraints.txt.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CONSTRAINTS := requirements/constraints.txt
STAMP := $(VENV)/.installed
WAREHOUSE := data/warehouse.duckdb

.DEFAULT_GOAL := help
.PHONY: help venv lock warehouse reports validate test clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c $(CONSTRAINTS) -e ".[dev]"
	touch $@

venv: $(STAMP) ## create or refresh the virtual environment (.venv)

lock: ## re-resolve the dependencies and rewrite requirements/constraints.txt
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet --disable-pip-version-check -e ".[dev]"
	.venv-lock/bin/pip freeze --exclude-editable | grep -v '^-e ' > $(CONSTRAINTS)
	rm -rf .venv-lock

$(WAREHOUSE): $(STAMP) helpers/synthetic.py helpers/warehouse.py helpers/data_tests.py helpers/domain.py helpers/sql/schema.sql
	$(PY) -m helpers generate --warehouse $@

warehouse: $(WAREHOUSE) ## build the default synthetic warehouse (data/warehouse.duckdb)

reports: $(WAREHOUSE) ## the main job: default warehouse, validated and summarized (reports come next)
	$(PY) -m helpers validate --warehouse $(WAREHOUSE)
	$(PY) -m helpers summary --warehouse $(WAREHOUSE)

validate: $(STAMP) ## run the data tests on the warehouse
	$(PY) -m helpers validate

test: $(STAMP) ## run the test suite
	$(PY) -m pytest

clean: ## remove the environment and generated data (keeps your raw inputs)
	rm -rf $(VENV) $(WAREHOUSE) $(WAREHOUSE).wal data/.*.building*
