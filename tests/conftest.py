"""Shared fixtures: offline hub, the tiny model, the tiny trained runs, run directories, papermill.

Also the garbage collector's freeze between test modules (`_freeze_survivors`).
"""

from __future__ import annotations

import gc
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


def _freeze_survivors() -> None:
    """Collect, then move what survived (torch, transformers, session fixtures) out of gc's reach.

    Every Trainer.train() calls gc.collect() (accelerate's free_memory), and a full collection
    walks every live object: ~0.35 s once transformers' half a million are loaded, a third of a
    tiny training. Frozen objects are still freed by reference counting; only a cycle among them
    outlives the session, and module fixtures are torn down before each freeze.
    """
    gc.collect()
    gc.freeze()


def pytest_collection_finish(session: pytest.Session) -> None:
    _freeze_survivors()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    yield  # after the teardown of this module's fixtures
    if nextitem is None or nextitem.module is not item.module:
        _freeze_survivors()


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    from workbench.models import ensure_tiny_model

    return ensure_tiny_model()


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory, tiny_model_dir: Path):
    """The shipping tests' trained runs, shared by the session's xdist workers (shipping_runs.py)."""
    from shipping_runs import TinyRuns

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # each worker's basetemp sits in the session's
        base = base.parent
    root = base / "tiny-runs"
    root.mkdir(exist_ok=True)
    return TinyRuns(root)


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
