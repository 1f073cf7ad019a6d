"""Shared fixtures: offline hub, the tiny model, temporary run directories, papermill runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# TrainConfig.report_to's default: a fresh MLflow database costs ~8 s; tests that track ask for it
os.environ.setdefault("WORKBENCH_REPORT_TO", "none")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    from workbench.models import ensure_tiny_model

    return ensure_tiny_model()


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    path = tmp_path / "run"
    path.mkdir()
    return path


def run_notebook(name: str, run_dir: Path, **parameters) -> Path:
    """Execute notebooks/<name> headless with papermill into run_dir/notebooks/; return the output path."""
    import papermill as pm

    out = run_dir / "notebooks" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    params = {"run_dir": str(run_dir), "interactive": False, **parameters}
    pm.execute_notebook(
        str(NOTEBOOKS / name),
        str(out),
        parameters=params,
        kernel_name="python3",
        cwd=str(REPO),
        progress_bar=False,
        log_output=False,
    )
    return out
