"""summary.json: parameters, versions, hardware, dataset fingerprints, timings, metrics and gate results of a run."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..io import write_json_atomic
from ..rundir import RunDir
from .gates import GateResult


class RunSummary:
    """Builds and rewrites run_dir/summary.json as the run progresses."""

    def __init__(self, run: RunDir, params: Any, profile: str | None):
        self.run, self.profile = run, profile
        self.parameters = params.resolved(profile=profile)
        self.static = {
            "parameters_file": params.source,
            "profile": profile,
            "parameters": self.parameters,
            "notebook_overrides": params.notebooks,
            "gate_thresholds": params.gates,
            "provider": params.provider,
            "versions": versions(),
            "hardware": hardware(),
            "datasets": dataset_fingerprints(self.parameters),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    def write(self, steps: list[Any], *, gates: list[GateResult], seconds: float) -> None:
        failed = next((s for s in steps if s.status == "failed"), None)
        data = {
            **self.static,
            "status": "failed"
            if failed or any(g.failed for g in gates)
            else ("ok" if all(s.status == "ok" for s in steps) else "running"),
            "seconds": round(seconds, 2),
            "timings": {s.notebook: round(s.seconds, 2) for s in steps if s.status != "not run"},
            "steps": [s.to_dict() for s in steps],
            "failure": failed.error if failed else None,
            "metrics": collect_metrics(self.run),
            "gates": [g.to_dict() for g in gates],
        }
        write_json_atomic(self.run.summary_json, data)


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


def hardware() -> dict[str, Any]:
    """This machine, for the compute and energy record (GPUs listed by name when torch sees them)."""
    gpus: list[str] = []
    try:
        import torch

        gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # noqa: BLE001 - no torch or no driver: a CPU machine for the record
        pass
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "gpus": gpus,
    }


def dataset_fingerprints(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """sha256 and size of each dataset file the parameters name (samples resolve to their files)."""
    from ..data.dataset import SAMPLES_DIR, file_sha256

    out: dict[str, Any] = {}
    for key in ("dataset", "eval_dataset"):
        name = parameters.get(key)
        if not name:
            continue
        folder = SAMPLES_DIR / str(name)
        files = sorted(folder.glob("*.jsonl")) if folder.is_dir() else [Path(str(name))]
        out[key] = {
            "name": str(name),
            "files": [
                {"path": str(p), "sha256": file_sha256(p), "bytes": p.stat().st_size}
                for p in files
                if p.is_file()
            ],
        }
    return out


def collect_metrics(run: RunDir) -> dict[str, Any]:
    """Scalar results of the steps that ran: training and comparison numbers."""
    out: dict[str, Any] = {}
    for key, path in (
        ("train", run.train_result_json),
        ("compare", run.comparison_json),
        ("inspect", run.inspect_report_json),
    ):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        out[key] = _scalars(data)
    return out


def _scalars(data: Any, prefix: str = "", depth: int = 0) -> dict[str, Any]:
    """Flatten numbers and short strings up to three levels deep (`a.b.c`); lists are skipped."""
    out: dict[str, Any] = {}
    if not isinstance(data, Mapping) or depth > 2:
        return out
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, (int, float, bool)) or (isinstance(value, str) and len(value) <= 120):
            out[name] = value
        elif isinstance(value, Mapping):
            out.update(_scalars(value, f"{name}.", depth + 1))
    return out
