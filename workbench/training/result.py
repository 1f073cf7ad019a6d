"""TrainResult: what a training run produced, saved as train_result.json (the training stage's contract)."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..rundir import Artifact

if TYPE_CHECKING:
    from ..config import TrainConfig

STATUSES = ("completed", "stopped", "diverged", "failed")


@dataclass
class SplitData:
    """What tokenisation did to one split (train or eval), and where the split came from."""

    rows: int = 0
    tokens: int = 0
    label_tokens: int = 0
    truncated: int = 0
    dropped_no_labels: int = 0
    packed_rows: int = 0
    source: str = ""
    replay_rows: int = 0  # of `rows`, how many came from TrainConfig.replay (train split only)
    replay: str = ""


@dataclass
class TrainResult(Artifact):
    """What a run produced. `status` is completed, stopped, diverged or failed; `message` says why."""

    FILE = "train_result_json"
    MADE_BY = "notebook 03_train (or `workbench train`)"

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
    data: dict[str, SplitData] = field(default_factory=dict)  # per split: rows, tokens, truncation
    world_size: int = 1
    config: dict[str, Any] = field(default_factory=dict)  # the TrainConfig, as a dict

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ConfigError(
                f"TrainResult.status must be one of {', '.join(STATUSES)}, got {self.status!r}."
            )

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    def failure_reason(self) -> str | None:
        """Why the run's work did not succeed (failed or diverged), else None: stops a pipeline."""
        if self.status in ("failed", "diverged"):
            return f"training ended with status {self.status}: {self.message}"
        return None

    @property
    def train_config(self) -> TrainConfig:
        from ..config import TrainConfig

        return TrainConfig.from_dict(self.config, strict=False)

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
