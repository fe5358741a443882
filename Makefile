# Two commands matter: `make dev` runs the app, `make test` runs the tests.
# Both create the virtualenv (.venv) and install what they need on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Re-install only when a requirements file changes.
INSTALLED := $(VENV)/.installed
# The settings file `make dev` hands honcho (values there win over the environment).
DEV_ENV_FILE ?= .env

.DEFAULT_GOAL := help
.PHONY: help install dev test test-fast upstream-check lint format check-files clean bench

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(INSTALLED): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $@

install: $(INSTALLED) ## Create .venv and install the dev requirements

dev: $(INSTALLED) ## Run Redis, a mail sink, web and worker (Ctrl-C stops all)
	@PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m scripts.dev --env-file "$(DEV_ENV_FILE)"

# In parallel processes (pytest-xdist); `-n auto` is tests/conftest.py's count
# for this machine. PYTEST_WORKERS=0 runs them one at a time.
PYTEST_WORKERS ?= auto

test: $(INSTALLED) ## Run the test suite
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

test-fast: $(INSTALLED) ## Run the fast tests (under a minute), for the edit-test loop
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -m "not slow" $(PYTEST_ARGS)

upstream-check: $(INSTALLED) ## Tell, for each workaround of an upstream bug, whether it can go now
	$(BIN)/python -m pytest -m upstream_bug -q $(PYTEST_ARGS)

lint: $(INSTALLED) ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(INSTALLED) ## Reformat the code with ruff
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Celery (the worker's peer in `make bench`) gets its own virtualenv: it pins an
# older python-dateutil than requirements.txt, and .venv must stay what deploys.
CELERY_VENV := .venv-celery
$(CELERY_VENV)/.installed: requirements.txt bench/requirements.txt
	@test -x $(CELERY_VENV)/bin/python || $(PYTHON) -m venv $(CELERY_VENV)
	$(CELERY_VENV)/bin/python -m pip install --quiet -r requirements.txt
	$(CELERY_VENV)/bin/python -m pip install --quiet -r bench/requirements.txt
	@touch $@

bench: $(INSTALLED) $(CELERY_VENV)/.installed ## Run the benchmarks (~6 min on 2 cores); tables also in bench/results/latest.md
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) $(CELERY_VENV) .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
