# The README names these targets. Set-up is idempotent and uses a local .venv.
PYTHON      ?= python3.11
VENV        ?= .venv
TORCH_SPEC  ?= torch==2.13.0
PARAMS      ?= examples/demo.yaml
BIN         := $(VENV)/bin
STAMP       := $(VENV)/.workbench-installed
# jupyter refuses to start as root unless told; containers and these machines run as root
LAB_FLAGS   := $(if $(filter 0,$(shell id -u)),--allow-root,)

export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup demo lab test test-fast lint format model clean-runs mlflow

setup: $(STAMP)

# torch goes in first and pinned: an unpinned torch pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed: set PYTHON=/path/to/python3.11"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

model: setup
	$(BIN)/workbench model pull

demo: model
	$(BIN)/workbench run $(PARAMS) --profile quick

# the MLflow UI on the local store every run logs to (runs/mlflow.db); MLFLOW_PORT=5000 by default
mlflow: setup
	$(BIN)/workbench mlflow --runs runs --port $(or $(MLFLOW_PORT),5000)

lab: model
	$(BIN)/jupyter lab $(LAB_FLAGS) notebooks/

test: model
	$(BIN)/python -m pytest

# the edit-test loop: no real model, notebook, subprocess or browser; two workers, one thread each
test-fast: setup
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -m "not slow and not browser" -n 2

# notebooks/*.py (jupytext) are the notebooks' sources; the .ipynb files are generated from them
lint: setup
	$(BIN)/ruff check workbench tests benchmarks scripts notebooks
	$(BIN)/ruff format --check workbench tests benchmarks scripts
	$(BIN)/python scripts/sync_notebooks.py --check

format: setup
	$(BIN)/ruff format workbench tests benchmarks scripts
	$(BIN)/ruff check --fix workbench tests benchmarks scripts notebooks
	$(BIN)/python scripts/sync_notebooks.py

clean-runs:
	rm -rf runs/
