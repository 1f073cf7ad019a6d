"""summary.json: parameters, versions, hardware, dataset fingerprints, timings, metrics and gate results of a run."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..comparison.comparison import Comparison
from ..errors import ArtifactError
from ..inspection.report import DatasetReport
from ..rundir import Artifact, RunDir
from ..training.result import TrainResult
from .gates import GateResult


@dataclass
class StepResult:
    notebook: str
    status: str  # ok | failed | not run
    seconds: float = 0.0
    output: str | None = None  # the executed notebook
    error: str | None = None  # one line: which cell failed and why

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Machine:
    """The machine a run was made on, for the compute and energy record."""

    platform: str
    machine: str
    cpu_count: int | None
    gpus: list[str]
    note: str | None = None  # e.g. "the machine that wrote this record" when guessed


@dataclass
class FileFingerprint:
    path: str
    sha256: str
    bytes: int


@dataclass
class DatasetFiles:
    """A dataset the parameters name, and the files it resolved to."""

    name: str
    files: list[FileFingerprint]


@dataclass
class RunSummary(Artifact):
    """summary.json: what the pipeline ran with, on what, how each step went, the numbers and gates."""

    FILE = "summary_json"
    MADE_BY = "`workbench run` (the headless pipeline)"

    parameters_file: str
    profile: str | None
    parameters: dict[str, Any]
    notebook_overrides: dict[str, dict[str, Any]]
    gate_thresholds: dict[str, float]
    provider: dict[str, Any]
    versions: dict[str, str]
    hardware: Machine
    datasets: dict[str, DatasetFiles]
    started: str
    unused_parameters: list[str] = field(default_factory=list)
    status: str = "running"  # running | ok | failed
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    steps: list[StepResult] = field(default_factory=list)
    failure: str | None = None
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    gates: list[GateResult] = field(default_factory=list)

    @classmethod
    def begin(cls, params: Any, profile: str | None) -> RunSummary:
        """The parts known before any notebook runs (a PipelineParams and the profile)."""
        parameters = params.resolved(profile=profile)
        return cls(
            parameters_file=params.source,
            profile=profile,
            parameters=parameters,
            notebook_overrides=params.notebooks,
            gate_thresholds=params.gates,
            provider=params.provider,
            versions=versions(),
            hardware=hardware(),
            datasets=dataset_fingerprints(parameters),
            started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )

    def write(
        self, run: RunDir, steps: list[StepResult], *, gates: list[GateResult], seconds: float
    ) -> Path:
        """Record the steps so far, the steps' numbers and the gates; save summary.json."""
        failed = next((s for s in steps if s.status == "failed"), None)
        if failed or any(g.failed for g in gates):
            self.status = "failed"
        else:
            self.status = "ok" if all(s.status == "ok" for s in steps) else "running"
        self.seconds = round(seconds, 2)
        self.timings = {s.notebook: round(s.seconds, 2) for s in steps if s.status != "not run"}
        self.steps = list(steps)
        self.failure = failed.error if failed else None
        self.metrics = collect_metrics(run)
        self.gates = list(gates)
        return self.save(run.root)


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in (
        "workbench",
        "torch",
        "transformers",
        "peft",
        "accelerate",
        "papermill",
        "bitsandbytes",
    ):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def hardware() -> Machine:
    """This machine (GPUs listed by name when torch sees them)."""
    gpus: list[str] = []
    try:
        import torch

        gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # noqa: BLE001 - no torch or no driver: a CPU machine for the record
        pass
    return Machine(platform.platform(), platform.machine(), os.cpu_count(), gpus)


def dataset_fingerprints(parameters: Mapping[str, Any]) -> dict[str, DatasetFiles]:
    """sha256 and size of each dataset file the parameters name (samples resolve to their files)."""
    from ..data.dataset import SAMPLES_DIR, file_sha256

    out: dict[str, DatasetFiles] = {}
    for key in ("dataset", "eval_dataset"):
        name = parameters.get(key)
        if not name:
            continue
        folder = SAMPLES_DIR / str(name)
        files = sorted(folder.glob("*.jsonl")) if folder.is_dir() else [Path(str(name))]
        out[key] = DatasetFiles(
            str(name),
            [
                FileFingerprint(str(p), file_sha256(p), p.stat().st_size)
                for p in files
                if p.is_file()
            ],
        )
    return out


# -- the steps' headline numbers, read from their typed results ----------------------------------


def collect_metrics(run: RunDir) -> dict[str, dict[str, Any]]:
    """Numbers of the steps that ran; a step whose result is corrupt shows the reader's error."""
    out: dict[str, dict[str, Any]] = {}
    for key, owner, pick in (
        ("train", TrainResult, train_metrics),
        ("compare", Comparison, compare_metrics),
        ("inspect", DatasetReport, inspect_metrics),
    ):
        try:
            result = owner.load_optional(run.root)
        except ArtifactError as exc:
            out[key] = {"error": str(exc)}
            continue
        if result is not None:
            out[key] = pick(result)
    return out


def train_metrics(result: TrainResult) -> dict[str, Any]:
    return {
        "status": result.status,
        "steps": result.steps,
        "max_steps": result.max_steps,
        "tokens_seen": result.tokens_seen,
        "tokens_per_second": result.tokens_per_second,
        "wall_time_s": result.wall_time_s,
        "flops": result.flops,
        **result.metrics,
    }


def compare_metrics(comparison: Comparison) -> dict[str, Any]:
    """Per metric base mean, tuned mean and difference; the same for the probe, and its flag."""
    out: dict[str, Any] = {"prompts": len(comparison.rows), "task": _means(comparison.summary)}
    probe = comparison.forgetting
    if probe is not None:
        out["probe"] = {
            **_means(probe.summary),
            "perplexity": probe.perplexity,
            "largest_drop": probe.largest_drop,
            "net_drop": probe.net_drop,
            "flips": probe.flips,
        }
    out["forgetting_flag"] = comparison.forgetting_flag
    return out


def _means(summary: Mapping[str, Any]) -> dict[str, dict[str, float | None]]:
    return {
        name: {"base_mean": s.base_mean, "tuned_mean": s.tuned_mean, "delta": s.delta}
        for name, s in summary.items()
    }


def inspect_metrics(report: DatasetReport) -> dict[str, Any]:
    return {
        "rows": report.rows,
        "findings": report.severity_counts(),
        "pii_errors": report.pii_error_count,
        "share_truncated": report.share_truncated,
    }
