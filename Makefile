# The two commands a newcomer needs: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# `make run` needs only the runtime dependencies (a faster first start); the rest need dev tools.
RUN_STAMP := $(VENV)/.run-installed-stamp
STAMP := $(VENV)/.dev-installed-stamp
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: install run test cov lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) -e .
	touch $(RUN_STAMP)

$(STAMP): pyproject.toml | $(BIN)/python
	$(PIP) -e '.[dev]'
	touch $(STAMP) $(RUN_STAMP)

install: $(STAMP)  ## create .venv and install the project with its dev tools

run: $(RUN_STAMP)  ## the whole stack on embedded defaults: http://127.0.0.1:8000 (PORT=8500 make run moves it)
	$(BIN)/challenge run

test: $(STAMP)  ## the full suite (SQLite + embedded Redis unless DATABASE_URL / REDIS_URL are set)
	$(BIN)/challenge test

cov: $(STAMP)  ## the suite under coverage, with a report
	$(BIN)/challenge cov

lint: $(STAMP)  ## ruff (lint + format check), mypy and the layering contract (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)  ## benchmarks: ratios against a baseline measured in the same run
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.*
