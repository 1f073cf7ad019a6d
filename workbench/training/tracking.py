"""Experiment tracking: transformers' own `report_to` integrations, plus what the Trainer does not log.

The Trainer's integration logs the training arguments and every train/eval log line. The
workbench adds, to the same tracker run: its own config (`config.*` params) and parameters file,
the run's summary numbers, the inspection summary, the comparison metrics with their intervals,
the documents and the adapter. MLflow is the default; its store is a local SQLite database beside
the run folders (`RunDir.mlflow_db`: a real database, no server) unless `MLFLOW_TRACKING_URI`
names another. `WORKBENCH_REPORT_TO` sets the default for `TrainConfig.report_to` (the test suite
sets `none`: creating an MLflow database takes seconds).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import default_report_to
from ..errors import ConfigError
from ..rundir import NOT_SAVED, Artifact, RunDir

log = logging.getLogger(__name__)

EXPERIMENT = "workbench"
ADAPTER_LIMIT_BYTES = 512 * 2**20  # a full fine-tune's weights stay on disk; the path is tagged
_INSTALL = {"mlflow": "mlflow", "tensorboard": "tensorboard", "trackio": "trackio"}


@dataclass
class TrackingRun(Artifact):
    """Which tracker run holds this run directory's numbers (tracking.json), so later steps add to it."""

    FILE = "tracking_json"
    MADE_BY = "training with report_to='mlflow'"

    backend: str
    tracking_uri: str
    experiment: str
    run_id: str
    # MLFLOW_TRACKING_URI as it was: mlflow.set_tracking_uri exports it, end_tracking puts it back
    previous_uri: str | None = field(default=None, metadata=NOT_SAVED)
    # a resumed run keeps the params logged at its start: MLflow refuses a changed value (the
    # Trainer's eval_on_start is off on resume), so the callback logs none (MLFLOW_MAX_LOG_PARAMS=0)
    previous_max_params: str | None = field(default=None, metadata=NOT_SAVED)
    resumed: bool = field(default=False, metadata=NOT_SAVED)


def tracking_uri(run_dir: str | Path) -> str:
    """$MLFLOW_TRACKING_URI when set, else the SQLite store beside the run folders."""
    env = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    return env or f"sqlite:///{RunDir(run_dir).mlflow_db.resolve()}"


def report_to_integrations(report_to: str) -> list[str]:
    """The `TrainingArguments.report_to` list: [] for none, or when the default tracker is missing."""
    if report_to == "none":
        return []
    if importlib.util.find_spec(_INSTALL[report_to]) is None:
        message = (
            f"report_to={report_to!r} but {_INSTALL[report_to]} is not installed: "
            f"`pip install {_INSTALL[report_to]}` (or 'workbench[track]'), or set report_to='none'."
        )
        if report_to == default_report_to():  # the default must not break a lean install
            log.warning("%s Not tracking this run.", message)
            return []
        raise ConfigError(message)
    return [report_to]


def start_tracking(report_to: str, rd: RunDir, *, resuming: bool) -> TrackingRun | None:
    """Open the MLflow run the Trainer's MLflowCallback will log into (it reuses an active run).

    Called in the training thread: MLflow's active run is per thread. A resumed run continues
    the tracker run recorded in tracking.json. Other trackers need nothing here.
    """
    if report_to_integrations(report_to) != ["mlflow"]:
        return None
    import mlflow

    previous_uri = os.environ.get("MLFLOW_TRACKING_URI")
    uri = tracking_uri(rd.root)
    mlflow.set_tracking_uri(uri)
    experiment = os.environ.get("MLFLOW_EXPERIMENT_NAME") or EXPERIMENT
    _use_experiment(mlflow, experiment, uri)
    previous = TrackingRun.load_optional(rd.root) if resuming else None
    resumed = previous is not None and previous.tracking_uri == uri
    if resumed:
        run = mlflow.start_run(run_id=previous.run_id)
    else:
        tags = {"workbench.run_dir": str(rd.root.resolve())}
        run = mlflow.start_run(run_name=rd.root.name, tags=tags)
    tracker = TrackingRun("mlflow", uri, experiment, run.info.run_id, previous_uri)
    tracker.previous_max_params = os.environ.get("MLFLOW_MAX_LOG_PARAMS")
    if resumed:
        tracker.resumed = True
        os.environ["MLFLOW_MAX_LOG_PARAMS"] = "0"
    tracker.save(rd.root)
    log.info("Tracking in MLflow run %s (%s)", tracker.run_id, uri)
    return tracker


def _use_experiment(mlflow: Any, name: str, uri: str) -> None:
    """A SQLite store keeps its artifacts beside the database (MLflow's default: ./mlruns in the cwd)."""
    if uri.startswith("sqlite:///") and mlflow.get_experiment_by_name(name) is None:
        folder = Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts"
        mlflow.create_experiment(name, artifact_location=folder.resolve().as_uri())
    mlflow.set_experiment(name)


def end_tracking(tracker: TrackingRun | None, rd: RunDir, *, status: str) -> None:
    """Log what the Trainer did not, then close the run (FINISHED, or FAILED for a failed run)."""
    if tracker is None:
        return
    import mlflow

    try:
        mlflow.flush_async_logging()  # the callback logs metrics asynchronously
        log_run_files(rd.root, tracker=tracker)
    except Exception as exc:  # a tracker fault must not lose a finished run
        log.warning("Could not log the run's files to MLflow: %s", exc)
    finally:
        mlflow.end_run(status="FAILED" if status == "failed" else "FINISHED")
        mlflow.set_tracking_uri(tracker.previous_uri)  # None unsets it again
        if tracker.resumed:
            _put_back("MLFLOW_MAX_LOG_PARAMS", tracker.previous_max_params)


def _put_back(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def log_run_files(run_dir: str | Path, *, tracker: TrackingRun | None = None) -> TrackingRun | None:
    """Add the run directory's artifacts (whichever exist now) to its tracker run; safe to repeat.

    Training calls it at the end; call it again after notebooks 04 and 05 (the pipeline does) to
    add the comparison metrics with intervals and the documents. None when the run is not tracked.
    """
    rd = RunDir(run_dir)
    tracker = tracker or TrackingRun.load_optional(rd.root)
    if tracker is None or tracker.backend != "mlflow":
        return None
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracker.tracking_uri)
    params, metrics = _run_numbers(rd)
    _log_batch(client, tracker.run_id, params, metrics)
    result = _status(rd)
    if result is not None:  # a tag: it changes when a stopped run is resumed and completes
        client.set_tag(tracker.run_id, "workbench.status", result)
    for path, folder in _artifact_files(rd):
        if path.is_dir():
            client.log_artifacts(tracker.run_id, str(path), folder)
        else:
            client.log_artifact(tracker.run_id, str(path), folder)
    return tracker


def _run_numbers(rd: RunDir) -> tuple[dict[str, str], dict[str, float]]:
    from ..comparison.comparison import Comparison
    from ..config import TrainConfig
    from ..inspection.report import DatasetReport
    from .result import TrainResult

    params: dict[str, str] = {}
    metrics: dict[str, float] = {}
    cfg = TrainConfig.load_optional(rd.root)
    if cfg is not None:
        params.update({f"config.{k}": str(v)[:250] for k, v in cfg.to_dict().items()})
    result = TrainResult.load_optional(rd.root)
    if result is not None:
        metrics.update(_result_numbers(result))
    report = DatasetReport.load_optional(rd.root)
    if report is not None:
        metrics.update(_numbers("inspect", report.counts))
    comparison = Comparison.load_optional(rd.root)
    if comparison is not None:
        metrics.update(comparison_numbers(comparison))
    return params, metrics


def _status(rd: RunDir) -> str | None:
    from .result import TrainResult

    result = TrainResult.load_optional(rd.root)
    return result.status if result else None


def _result_numbers(result: Any) -> dict[str, float]:
    keys = ("steps", "tokens_seen", "wall_time_s", "tokens_per_second", "flops")
    out = {f"run.{k}": float(getattr(result, k)) for k in keys}
    out.update({f"run.{k}": float(v) for k, v in result.metrics.items()})
    return out


def comparison_numbers(comparison: Any) -> dict[str, float]:
    """compare.<metric>.{base,tuned,delta,delta_low,delta_high}, the probe's, and the forgetting flag."""
    out: dict[str, float] = {}
    groups = [("compare", comparison.summary)]
    if comparison.forgetting is not None:
        groups.append(("probe", comparison.forgetting.summary))
        out["probe.forgetting_flag"] = float(comparison.forgetting.flag)
    for prefix, summary in groups:
        for name, s in summary.items():
            values = {"base": s.base_mean, "tuned": s.tuned_mean, "delta": s.delta}
            if s.delta_ci:
                values["delta_low"], values["delta_high"] = s.delta_ci
            out.update(
                {f"{prefix}.{name}.{k}": float(v) for k, v in values.items() if v is not None}
            )
    return out


def _numbers(prefix: str, values: dict[str, Any]) -> dict[str, float]:
    return {
        f"{prefix}.{k}": float(v)
        for k, v in values.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }


def _log_batch(client: Any, run_id: str, params: dict[str, str], metrics: dict[str, float]) -> None:
    from mlflow.entities import Metric, Param

    logged = client.get_run(run_id).data.params
    fresh = [Param(k, v) for k, v in params.items() if logged.get(k) != v]
    stamp = int(time.time() * 1000)
    rows = [Metric(k, v, stamp, 0) for k, v in metrics.items()]
    for i in range(0, max(len(fresh), len(rows)), 100):  # MLflow's batch limit
        client.log_batch(run_id, metrics=rows[i : i + 100], params=fresh[i : i + 100])


def _artifact_files(rd: RunDir) -> list[tuple[Path, str]]:
    """(path, artifact folder) of every run file worth keeping beside the numbers."""
    files = [
        (rd.train_config_yaml, "run"),
        (rd.metrics_jsonl, "run"),
        (rd.samples_jsonl, "run"),
        (rd.train_result_json, "run"),
        (rd.loss_figure_html, "figures"),
        (rd.inspect_report_json, "inspect"),
        (rd.inspect_report_html, "inspect"),
        (rd.comparison_json, "comparison"),
        (rd.comparison_html, "comparison"),
        (rd.comparison_figures_html, "figures"),
        (rd.constrained_comparison_json, "comparison"),
        (rd.constrained_comparison_html, "comparison"),
    ]
    if rd.docs_dir.is_dir():
        files += [(p, "docs") for p in sorted(rd.docs_dir.iterdir()) if p.is_file()]
    weights = rd.adapter_dir if rd.adapter_dir.is_dir() else None
    if weights is not None and _size(weights) <= ADAPTER_LIMIT_BYTES:
        files.append((weights, "adapter"))
    return [(p, folder) for p, folder in files if p.exists()]


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


__all__ = [
    "TrackingRun",
    "tracking_uri",
    "report_to_integrations",
    "start_tracking",
    "end_tracking",
    "log_run_files",
    "comparison_numbers",
]
