"""Re-tune on a new base model: the same parameters through the same notebooks, then old against new.

A base model gets new versions, and each time a team decides whether to rerun its fine-tune: a
recurring cost to budget. `retune(run_dir, model=NEW)` reads what the run was made with (the
pipeline's `summary.json` when `workbench run` made it, else its `train_config.yaml`), swaps the
base model, and runs notebooks 01-05 headless with papermill into a new run directory. The new
run's `retune.json` (`RetuneRecord`) names the run it repeats, is written before the notebooks
run (so notebook 05 puts the recurring line into the model card) and is completed afterwards with
both runs' training time and compute. The two runs are then compared (`compare_runs`: task
metrics with intervals, forgetting, the config diff, which is the base model) into
`retune_comparison.html`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..rundir import RunDir
from .retune_record import RetuneRecord


@dataclass
class RetuneResult:
    """What `retune` did: the new run, its record, the pipeline's outcome and the comparison."""

    run_dir: Path
    record: RetuneRecord
    pipeline: Any  # PipelineResult
    comparison: Any | None  # RunsComparison, None when the pipeline failed before comparing

    @property
    def ok(self) -> bool:
        return bool(self.pipeline.ok)


def retune(
    run_dir: str | Path,
    *,
    model: str,
    new_run_dir: str | Path | None = None,
    profile: str | None = None,
    cell_timeout: int | None = None,
) -> RetuneResult:
    """Rerun `run_dir`'s parameters on base `model` through notebooks 01-05, then compare the runs.

    `new_run_dir` defaults to a sibling named after the new model (`<run>-<model>`); `profile`
    applies a parameters profile on top (the previous run's parameters already hold the one it
    ran with). Raises ConfigError when `run_dir` is no run or `model` is the base it already used.
    """
    from ..comparison.runs import compare_runs, write_runs_page
    from .runner import run_pipeline

    old = RunDir(run_dir)
    params, source, old_model = previous_parameters(old)
    if str(model) == str(old_model):
        raise ConfigError(
            f"{old.root} was already trained on {model!r}: retune needs the new base model "
            "(--model NAME, a local folder or a hub id)."
        )
    target = RunDir(new_run_dir or old.root.with_name(f"{old.root.name}-{_slug(model)}"))
    if target.root.resolve() == old.root.resolve():
        raise ConfigError(f"{target.root}: the new run must not overwrite the run it repeats.")
    params.shared["model"] = model
    previous = _training(old)
    record = RetuneRecord(
        previous_run=str(old.root),
        previous_model=str(old_model),
        model=str(model),
        parameters_from=source,
        started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        previous_train_seconds=previous[0],
        previous_flops=previous[1],
    )
    from ..training.claim import claim

    claim(target)  # refuses a folder the workbench did not make, before anything is written
    record.save(target.root)
    started = time.perf_counter()
    result = run_pipeline(params, run_dir=target.root, profile=profile, cell_timeout=cell_timeout)
    record.pipeline_seconds = round(time.perf_counter() - started, 1)
    record.train_seconds, record.flops = _training(target)
    record.status = "ok" if result.ok else "failed"
    record.save(target.root)
    if target.docs_dir.is_dir():  # notebook 05 ran: its model card gets both trainings' cost
        from ..documents.writer import write_run_docs

        write_run_docs(run_dir=target.root)
    comparison = None
    if result.failed_step is None:
        names = [f"{old.root.name} ({old_model})", f"{target.root.name} ({model})"]
        comparison = compare_runs([old.root, target.root], names=names)
        write_runs_page(comparison, target.retune_comparison_html)
    return RetuneResult(target.root, record, result, comparison)


def previous_parameters(rd: RunDir) -> tuple[Any, str, str]:
    """(PipelineParams, the file they came from, the base model) of a finished run."""
    from ..config import TrainConfig
    from .runner import PipelineParams
    from .summary import RunSummary

    summary = RunSummary.load_optional(rd.root)
    if summary is not None:
        params = PipelineParams(
            shared=dict(summary.parameters),  # the profile it ran with is already applied
            notebooks={k: dict(v) for k, v in summary.notebook_overrides.items()},
            gates=dict(summary.gate_thresholds),
            provider=dict(summary.provider),
            source=str(rd.summary_json),
        )
        model = params.shared.get("model") or TrainConfig().model
        return params, str(rd.summary_json), str(model)
    if not rd.train_config_yaml.is_file():
        raise ConfigError(
            f"{rd.root}: no summary.json and no train_config.yaml, so nothing says how this run "
            "was made. Retune a run directory that `workbench run` or `workbench train` wrote."
        )
    cfg = TrainConfig.from_yaml(rd.train_config_yaml)
    shared = {k: v for k, v in cfg.to_dict().items() if k != "run_dir"}
    params = PipelineParams(shared=shared, source=str(rd.train_config_yaml))
    return params, str(rd.train_config_yaml), cfg.model


def _training(rd: RunDir) -> tuple[float | None, float | None]:
    from ..training.result import TrainResult

    train = TrainResult.load_optional(rd.root)
    if train is None:
        return None, None
    return round(float(train.wall_time_s), 1), (float(train.flops) if train.flops else None)


def _slug(model: str) -> str:
    """A folder-name form of a model name, a path or a hub id."""
    name = Path(str(model).rstrip("/")).name or str(model)
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "new-base"


__all__ = ["RetuneRecord", "RetuneResult", "retune", "previous_parameters"]
