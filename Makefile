# The two commands of the README: `make run` (the platform) and `make test` (the whole suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
API_PORT ?= 8000
DAGSTER_PORT ?= 3000
MLFLOW_PORT ?= 5000
NOTEBOOK_PORT ?= 8888
SIZE ?= small

.PHONY: run test notebooks lint format venv manifest clean-state

venv: $(VENV)/.installed

# Rebuilt whenever the dependencies or their lock change. uv installs the locked set in about
# 20 s where pip takes minutes; it is itself pinned and installed by pip.
UV_VERSION := 0.13.9
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -e '.[dev]'
	touch $@

run: venv
	$(BIN)/python -m core.launcher --api-port $(API_PORT) --dagster-port $(DAGSTER_PORT) \
		--mlflow-port $(MLFLOW_PORT) --size $(SIZE)

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# JupyterLab on notebooks/ for analysts, reading the marts of the running platform as the
# read-only analyst role (http://127.0.0.1:$(NOTEBOOK_PORT)/lab, with the token it prints).
notebooks: venv
	$(BIN)/python -m core.analyst_lab --port $(NOTEBOOK_PORT)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

manifest: venv
	$(BIN)/python -m pipelines.transform.project

# Forget the local platform state (database, landing zone, MLflow, Dagster); the code is kept.
clean-state:
	-$(BIN)/python -m core.pgserver stop
	rm -rf data/pg data/landing data/mlartifacts data/dagster_home data/logs
