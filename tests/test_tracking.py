"""Tracking: a tiny-model run read back through the MLflow client (params, metrics = metrics.jsonl, artifacts)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import standins
from test_train import config, conversations

from workbench.comparison.comparison import Row
from workbench.comparison.stats import summarise
from workbench.config import TrainConfig
from workbench.errors import ConfigError
from workbench.rundir import RunDir
from workbench.training.engine import train
from workbench.training.events import read_jsonl
from workbench.training.tracking import TrackingRun, log_run_files, tracking_uri

mlflow = pytest.importorskip("mlflow")


@pytest.fixture(scope="module")
def tracked_run(tiny_model_dir, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        cfg = config(tmp_path_factory.mktemp("tracking") / "runs" / "a", report_to="mlflow")
        result = train(cfg, train_data=conversations(), eval_data=conversations(8, offset=100))
    assert result.completed, result.message
    return RunDir(cfg.run_dir)


def _history(client, run_id: str, key: str) -> dict[int, float]:
    return {m.step: m.value for m in client.get_metric_history(run_id, key)}


def test_mlflow_run_holds_the_params_metrics_and_artifacts_of_the_run_dir(tracked_run):
    rd = tracked_run
    tracker = TrackingRun.load(rd.root)
    assert Path(tracker.tracking_uri.removeprefix("sqlite:///")) == rd.root.parent / "mlflow.db"
    assert rd.mlflow_db.is_file()
    assert rd.mlflow_artifacts.is_dir()  # not ./mlruns in the working directory
    client = mlflow.MlflowClient(tracking_uri=tracker.tracking_uri)
    run = client.get_run(tracker.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.artifact_uri.startswith(rd.mlflow_artifacts.as_uri())
    assert "MLFLOW_TRACKING_URI" not in os.environ  # mlflow exported it; put back as it was
    params = run.data.params
    assert params["config.learning_rate"] == "0.002"  # the workbench config
    assert params["learning_rate"] == "0.002"  # Trainer's own integration
    assert params["config.report_to"] == "mlflow"

    records = read_jsonl(rd.metrics_jsonl)
    train_rows = [r for r in records if r["kind"] == "train"]
    eval_rows = [r for r in records if r["kind"] == "eval"]
    assert len(train_rows) == 4 and len(eval_rows) == 3  # steps 2,4,6,8; evals at 0, 4, 8
    for key in ("loss", "grad_norm", "learning_rate"):
        assert _history(client, tracker.run_id, key) == pytest.approx(
            {r["step"]: r[key] for r in train_rows}
        )
    assert _history(client, tracker.run_id, "eval_loss") == pytest.approx(
        {r["step"]: r["eval_loss"] for r in eval_rows}
    )
    assert run.data.metrics["run.steps"] == 8.0

    names = {a.path for a in client.list_artifacts(tracker.run_id)}
    assert {"run", "figures", "adapter"} <= names
    run_files = {Path(a.path).name for a in client.list_artifacts(tracker.run_id, "run")}
    assert run_files == {"train_config.yaml", "metrics.jsonl", "train_result.json"}
    adapter = {Path(a.path).name for a in client.list_artifacts(tracker.run_id, "adapter")}
    assert "adapter_model.safetensors" in adapter


def test_later_steps_add_comparison_metrics_with_intervals_to_the_same_run(tracked_run):
    comparison = standins.comparison(schema_valid=0.75, probe_base=0.6, probe_tuned=0.5)
    rows = [
        Row(i, [{"role": "user", "content": "q"}], "r", "b", "t", {"m": 0.0}, {"m": i % 2})
        for i in range(10)
    ]
    comparison.rows, comparison.summary = rows, summarise(rows, ["m"])  # real intervals
    comparison.save(tracked_run.root)
    tracker = log_run_files(tracked_run.root)
    client = mlflow.MlflowClient(tracking_uri=tracker.tracking_uri)
    metrics = client.get_run(tracker.run_id).data.metrics
    low, high = metrics["compare.m.delta_low"], metrics["compare.m.delta_high"]
    assert metrics["compare.m.delta"] == pytest.approx(0.5)
    assert low < 0.5 < high
    assert "probe.forgetting_flag" in metrics
    files = {Path(a.path).name for a in client.list_artifacts(tracker.run_id, "comparison")}
    assert files == {"comparison.json", "comparison.html"}


def test_tracking_uri_from_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracker.example:5000")
    assert tracking_uri(tmp_path / "runs" / "x") == "http://tracker.example:5000"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert tracking_uri(tmp_path / "runs" / "x") == f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}"


def test_report_to_is_validated_and_defaults_from_the_environment(monkeypatch):
    with pytest.raises(ConfigError, match="report_to must be one of mlflow, tensorboard"):
        TrainConfig(report_to="wandb")
    monkeypatch.setenv("WORKBENCH_REPORT_TO", "tensorboard")
    assert TrainConfig().report_to == "tensorboard"
    monkeypatch.delenv("WORKBENCH_REPORT_TO")
    assert TrainConfig().report_to == "mlflow"


def test_the_test_suite_does_not_track_by_default():
    assert TrainConfig().report_to == "none"  # conftest: no MLflow database per test run


def test_a_named_tracker_that_is_not_installed_is_an_error_saying_what_to_install():
    import importlib.util

    from workbench.training.tracking import report_to_integrations

    assert report_to_integrations("none") == []
    if importlib.util.find_spec("trackio") is None:
        with pytest.raises(ConfigError, match="pip install trackio"):
            report_to_integrations("trackio")
    else:
        assert report_to_integrations("trackio") == ["trackio"]


@pytest.mark.slow
def test_a_resumed_run_continues_the_same_mlflow_run(tiny_model_dir, tmp_path, monkeypatch, caplog):
    from test_train import At

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = config(tmp_path / "runs" / "r", report_to="mlflow")
    data = dict(train_data=conversations(), eval_data=conversations(8, offset=100))
    first = train(cfg, callbacks=[At(4, lambda s: s.request_stop("stopped", "test"))], **data)
    assert first.status == "stopped" and first.steps == 4
    run_id = TrackingRun.load(cfg.run_dir).run_id
    second = train(cfg, **data)  # resumes from checkpoint-4 (same config)
    assert second.completed and second.resumed_from, second.message
    tracker = TrackingRun.load(cfg.run_dir)
    assert tracker.run_id == run_id
    client = mlflow.MlflowClient(tracking_uri=tracker.tracking_uri)
    assert client.get_run(run_id).info.status == "FINISHED"
    steps = sorted(_history(client, run_id, "loss"))
    assert steps == [2, 4, 6, 8]
    assert client.get_run(run_id).data.tags["workbench.status"] == "completed"
    refused = [r for r in caplog.records if "not allowed" in r.getMessage()]
    assert not refused, refused[0].getMessage()  # no param logged twice with another value
    assert "MLFLOW_MAX_LOG_PARAMS" not in os.environ
