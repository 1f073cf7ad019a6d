"""What a lever trial measured: one `Arm` per way of answering, and the `LeverTrial` holding them all.

The lowest module of the lever trial (lever_trial.py runs it, lever_decision.py decides from it):
`LeverTrial` is the run directory's `lever_trial.json`, read back typed by notebook 02, the
pipeline's `min_finetune_lead` gate and the documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..rundir import OPTIONAL, Artifact, RunDir
from .learning_curve import LearningCurve


@dataclass
class Arm:
    """One way of answering, its per-row scores and what it cost."""

    name: str  # "zero-shot", "few-shot k=3", "retrieval k=3", "lora 25%"
    lever: str  # the advisor's lever: "prompt", "rag" or "finetune"
    scores: dict[str, list[float | None]]  # metric -> one score per eval row (None: not scored)
    means: dict[str, float | None]
    intervals: dict[str, list[float] | None]  # metric -> 95% bootstrap interval of the mean
    answers: list[str]
    answer_s: float  # seconds to answer every eval row
    prompt_tokens: float  # mean prompt length per request: what each answer costs to serve
    train_s: float = 0.0
    train_rows: int | None = None
    steps: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)  # k, knowledge source, run_dir

    @property
    def seconds(self) -> float:
        return self.train_s + self.answer_s

    def mean(self, metric: str) -> float | None:
        return self.means.get(metric)


@dataclass
class LeverTrial(Artifact):
    """Every arm's scores on the same rows, fine-tuning's paired lead, and the recommendation."""

    FILE = "lever_trial_json"
    MADE_BY = "notebook 02_choose_technique (the lever trial)"

    dataset: str
    model: str
    metric: str  # the metric the recommendation is decided on
    row_ids: list[int]
    arms: list[Arm]
    margin: float  # the lead fine-tuning needs over the best prompt-only arm
    recommendation: str  # "prompt", "rag" or "finetune"
    reasons: list[str]
    finetune_lead: float | None = None  # best fine-tune minus best prompt-only arm, on `metric`
    finetune_lead_ci: list[float] | None = None
    curve: LearningCurve | None = None
    advisor: str | None = field(default=None, metadata=OPTIONAL)  # the advisor's answer
    hourly_price: float | None = field(default=None, metadata=OPTIONAL)
    settings: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def best(self, *levers: str) -> Arm | None:
        """The best-scoring arm on `metric` among `levers` (all when none given); ties: the cheaper."""
        pool = [
            a
            for a in self.arms
            if (not levers or a.lever in levers) and a.mean(self.metric) is not None
        ]
        return max(pool, key=lambda a: (a.mean(self.metric), -a.seconds), default=None)

    def cost(self, arm: Arm) -> float | None:
        return None if self.hourly_price is None else arm.seconds / 3600 * self.hourly_price

    def summary_lines(self) -> list[str]:
        lines = [f"Lever trial on {self.dataset} ({len(self.row_ids)} eval rows, {self.model}):"]
        for arm in self.arms:
            m, ci = arm.mean(self.metric), arm.intervals.get(self.metric)
            lines.append(
                f"  {arm.name:<18} {self.metric} {_pct(m)} {_ci(ci)}  "
                f"{arm.seconds:.0f} s, {arm.prompt_tokens:.0f} prompt tokens/request"
            )
        lines.append(f"Recommendation: {self.recommendation}. " + " ".join(self.reasons))
        return lines

    def markdown_table(self) -> str:
        """The arms as a Markdown table (the README's, the documents'): metric with interval, cost."""
        lines = [
            f"| arm | {self.metric} (95% CI) | train s | answer s | prompt tokens / request |",
            "|---|---|---:|---:|---:|",
        ]
        for arm in self.arms:
            ci = arm.intervals.get(self.metric)
            lines.append(
                f"| {arm.name} | {_pct(arm.mean(self.metric))} {_ci(ci)} | {arm.train_s:.0f} | "
                f"{arm.answer_s:.0f} | {arm.prompt_tokens:.0f} |"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_html(self) -> str:
        from .lever_html import lever_trial_html

        return lever_trial_html(self)

    def save(self, run_dir: str | Path) -> dict[str, Path]:  # type: ignore[override]
        """lever_trial.json and lever_trial.html, atomically."""
        from ..io import write_text_atomic

        path = super().save(run_dir)
        html = write_text_atomic(RunDir(run_dir).lever_trial_html, self.to_html())
        return {"json": path, "html": html}


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _pts(x: float) -> str:
    return f"{100 * x:+.1f}" if x else "0"


def _ci(ci: Sequence[float] | None, *, points: bool = False) -> str:
    if not ci:
        return ""
    if points:
        return f"[{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]"
    return f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


__all__ = ["Arm", "LeverTrial"]
