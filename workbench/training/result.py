"""TrainResult: what a training run produced, saved as train_result.json (the training stage's contract)."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..rundir import RunDir

STATUSES = ("completed", "stopped", "diverged", "failed")


@dataclass
class TrainResult:
    """What a run produced. `status` is completed, stopped, diverged or failed; `message` says why."""

    status: str
    message: str
    run_dir: str
    steps: int = 0
    max_steps: int = 0
    epoch: float = 0.0
    tokens_seen: int = 0
    wall_time_s: float = 0.0
    tokens_per_second: float = 0.0
    flops: float = 0.0  # estimate, see `estimate_flops`
    trainable_params: int = 0
    total_params: int = 0
    metrics: dict[str, float] = field(default_factory=dict)  # train_loss, first/final eval_loss
    history: list[dict[str, Any]] = field(default_factory=list)
    adapter_dir: str | None = None  # adapter (or full model) folder, safetensors
    merged_dir: str | None = None
    checkpoint: str | None = None  # newest complete checkpoint
    resumed_from: str | None = None
    data: dict[str, Any] = field(default_factory=dict)  # rows, tokens, truncation per split
    world_size: int = 1
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainResult:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @classmethod
    def load(cls, run_dir: str | Path) -> TrainResult:
        import json

        return cls.from_dict(
            json.loads(RunDir(run_dir).train_result_json.read_text(encoding="utf-8"))
        )

    def _repr_html_(self) -> str:
        colour = {"completed": "#2a7", "stopped": "#c80", "diverged": "#c33", "failed": "#c33"}.get(
            self.status, "#555"
        )
        rows = [
            ("steps", f"{self.steps} / {self.max_steps}"),
            ("train loss", _fmt(self.metrics.get("train_loss"))),
            (
                "eval loss",
                f"{_fmt(self.metrics.get('first_eval_loss'))} &rarr; {_fmt(self.metrics.get('eval_loss'))}",
            ),
            ("tokens", f"{self.tokens_seen:,} ({self.tokens_per_second:,.0f}/s)"),
            ("wall time", f"{self.wall_time_s:,.1f} s"),
            ("FLOPs (est.)", f"{self.flops:.3g}"),
            ("trainable params", f"{self.trainable_params:,} of {self.total_params:,}"),
            ("saved", html.escape(self.adapter_dir or "nothing")),
        ]
        if self.merged_dir:
            rows.append(("merged", html.escape(self.merged_dir)))
        body = "".join(
            f"<tr><th style='text-align:left'>{k}</th><td>{v}</td></tr>" for k, v in rows
        )
        return (
            f"<div><b>TrainResult</b> <span style='color:{colour};font-weight:bold'>{self.status}</span>"
            f"<div>{html.escape(self.message)}</div><table>{body}</table></div>"
        )


def _fmt(value: float | None) -> str:
    return "&ndash;" if value is None else f"{value:.4f}"
