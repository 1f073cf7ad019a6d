"""Fixtures for the browser tests: one JupyterLab server and one Chromium for the whole session.

Every test gets a fresh browser context (`notebook`); when it ends its kernels are shut down and,
if it failed, a screenshot of the window is left in tests/browser/artifacts/.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .labdriver import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    NOTEBOOKS,
    VIEWPORT,
    NotebookPage,
    chromium_path,
    declared_parameters,
    prepare_notebook,
    start_lab,
    stop_lab,
)

TINY = "tiny-random"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    server = start_lab(tmp_path_factory.mktemp("jupyterlab"))
    yield server
    stop_lab(server)


@pytest.fixture(scope="session")
def browser():
    executable = chromium_path()
    if executable is None:
        message = "Chromium is not installed: `apt-get install chromium` (.ci/run does this)"
        if os.environ.get("CI"):  # on CI a missing browser is a broken set-up, not a skip
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def notebook(request, browser, lab):
    """A fresh browser tab on the session's JupyterLab, wrapped as a `NotebookPage`."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield NotebookPage(page, lab)
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"))
    context.close()
    lab.shutdown_kernels()


@pytest.fixture
def open_notebook(notebook, lab, tmp_path):
    """open_notebook("01_inspect_data.ipynb", **params): the notebook pointed at the tiny model and
    a temporary run dir, copied into the lab and opened in the tab. Returns the `NotebookPage`."""

    def _open(name: str, **parameters) -> NotebookPage:
        source = NOTEBOOKS / name
        if not source.exists():
            pytest.skip(f"{source.relative_to(NOTEBOOKS.parent)} does not exist yet")
        defaults = {"run_dir": str(tmp_path / "run")}
        if "model" in declared_parameters(source):
            defaults["model"] = TINY
        parameters = {**defaults, **parameters}
        return notebook.open(prepare_notebook(source, lab, **parameters))

    return _open


@pytest.fixture(scope="session")
def trained_run_dir(tmp_path_factory) -> Path:
    """A finished tiny-model run (adapter and all), as notebook 03 would leave it."""
    import workbench
    from workbench.config import TrainConfig

    run_dir = tmp_path_factory.mktemp("trained") / "run"
    config = TrainConfig(
        model=TINY,
        dataset="support-tone",
        max_steps=2,
        batch_size=2,
        max_length=256,
        max_train_rows=16,
        max_eval_rows=4,
        run_dir=str(run_dir),
    )
    result = workbench.train(config)
    assert result.status == "completed", f"preparing a trained run failed: {result.message}"
    return run_dir


@pytest.fixture
def trained_run(trained_run_dir, tmp_path) -> Path:
    """A private copy of the trained run, for a test that writes into it."""
    return Path(shutil.copytree(trained_run_dir, tmp_path / "run"))
