"""The MLflow UI on a run's local store: a tiny run trained with report_to="mlflow", `workbench
mlflow` started on its runs folder (the real UI, on a loopback port), and the run's page in
Chromium lists its loss and draws the loss and eval-loss charts with the values of metrics.jsonl."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .labdriver import ARTIFACTS, REPO, VIEWPORT, free_port

pytestmark = pytest.mark.browser

mlflow = pytest.importorskip("mlflow")

_JS_TRACES = """(gd) => (gd.data || []).map((t) => ({
  x: Array.from(t.x || []), y: Array.from(t.y || []), mode: t.mode || ''}))"""


@pytest.fixture(scope="module")
def tracked_run(tiny_model_dir, tmp_path_factory):
    """A finished tiny run logged to runs/mlflow.db, and the tracker run that holds it."""
    from workbench.config import TrainConfig
    from workbench.rundir import RunDir
    from workbench.training.engine import train
    from workbench.training.tracking import TrackingRun

    runs = tmp_path_factory.mktemp("mlflow") / "runs"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        cfg = TrainConfig(
            model="tiny-random",
            run_dir=str(runs / "lr-test"),
            max_train_rows=16,
            max_eval_rows=4,
            max_steps=4,
            batch_size=4,
            max_length=256,
            log_every=1,
            eval_every=2,
            warmup_ratio=0.0,
            report_to="mlflow",
        )
        result = train(cfg)
    assert result.completed, result.message
    rd = RunDir(cfg.run_dir)
    assert rd.mlflow_db.is_file()
    return rd, TrackingRun.load(rd.root)


@pytest.fixture(scope="module")
def mlflow_ui(tracked_run, tmp_path_factory):
    """`workbench mlflow --runs <the runs folder>` on a free port; its URL. Stopped at the end."""
    rd, _ = tracked_run
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", PYTHONPATH=str(REPO))
    log_path = tmp_path_factory.mktemp("mlflow-ui") / "mlflow-ui.log"
    command = [sys.executable, "-m", "workbench", "mlflow", "--runs", str(rd.root.parent)]
    command += ["--port", str(port)]
    with log_path.open("wb") as log:  # the server keeps its own copy
        process = subprocess.Popen(
            command,
            env=env,
            cwd=log_path.parent,  # nothing (mlruns/, mlartifacts/) lands in the repository
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the server and its worker
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url, process, log_path)
        yield url
    finally:
        _stop(process)


def _wait_for(url: str, process: subprocess.Popen, log_path: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"workbench mlflow exited: {log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the MLflow UI did not answer in {timeout_s:.0f} s: {log_path.read_text()}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture
def page(request, browser):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(60_000)  # the UI's first page load is slow on a busy machine
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"))
    context.close()


def test_the_run_page_shows_its_loss_charts(tracked_run, mlflow_ui, page):
    from workbench.training.events import read_jsonl

    rd, tracker = tracked_run
    records = read_jsonl(rd.metrics_jsonl)
    train_rows = [r for r in records if r["kind"] == "train"]
    eval_rows = [r for r in records if r["kind"] == "eval"]
    assert [r["step"] for r in train_rows] == [1, 2, 3, 4] and len(eval_rows) >= 2
    info = mlflow.MlflowClient(tracker.tracking_uri).get_run(tracker.run_id).info
    assert info.status == "FINISHED"

    page.goto(f"{mlflow_ui}/#/experiments/{info.experiment_id}/runs/{tracker.run_id}")
    heading = page.get_by_role("heading", name="lr-test", exact=True)
    expect(heading).to_be_visible(timeout=90_000)  # the first load is slow on a busy machine
    # Overview: the metrics table lists the train loss at its last logged value
    metrics = page.get_by_role("table").filter(has_text="eval_loss").first
    loss_row = metrics.get_by_role("row").filter(
        has=page.get_by_role("cell", name="loss", exact=True)
    )
    expect(loss_row).to_have_count(1)
    value = float(loss_row.get_by_role("cell").nth(1).inner_text())
    assert value == pytest.approx(train_rows[-1]["loss"])
    page.screenshot(path=str(_artifact("mlflow_run_overview")))

    # Model metrics: a chart per metric; the loss and eval-loss charts draw the logged points
    page.get_by_role("tab", name="Model metrics").click()
    page.get_by_placeholder("Search metric charts").fill("loss")
    for key, rows in (("loss", train_rows), ("eval_loss", eval_rows)):
        card = page.get_by_test_id("experiment-view-compare-runs-card").filter(
            has=page.locator(f'h4[title="{key}"]')
        )
        expect(card).to_have_count(1)
        plot = card.locator(".js-plotly-plot")
        expect(plot).to_be_visible()
        expect(plot.locator(".scatterlayer .trace").first).to_be_visible()  # drawn, not only data
        traces = [t for t in plot.evaluate(_JS_TRACES) if t["x"]]
        assert traces, f"the {key} chart has no points"
        for trace in traces:
            assert trace["x"] == [r["step"] for r in rows], trace
            assert trace["y"] == pytest.approx([r[key] for r in rows]), trace
    page.screenshot(path=str(_artifact("mlflow_run_metrics")))


def _artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / f"{name}.png"
