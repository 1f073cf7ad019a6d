"""The learning-rate range test: raise the rate step by step on real batches, watch the loss, suggest one.

Leslie Smith's test as fastai runs it: one optimizer step per rate, the rate growing
exponentially from `start_lr` to `end_lr`, stopped once the smoothed loss passes `diverge` times
its best. The suggestion is the rate where the smoothed loss falls fastest (per decade of rate),
looked for before the loss's minimum; the minimum divided by 10 is the usual cross-check. The
weights and the optimizer state are put back afterwards, so a range test leaves the model as it
found it. It runs the engine's own Trainer (technique, batching, the chunked loss), not a copy.
"""

from __future__ import annotations

import copy
import html
import logging
import math
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from ..config import TrainConfig
from ..errors import ConfigError

log = logging.getLogger(__name__)


@dataclass
class LRFinderResult:
    """The rates tried, the loss at each (raw and smoothed), the suggestion and why."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestion: float | None
    reason: str
    min_loss_lr: float | None
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        from ..rundir import to_plain

        return to_plain(self)

    def figure(self) -> Any:
        """Loss against learning rate (log axis), the suggestion marked with its reason."""
        import plotly.graph_objects as go

        fig = go.Figure()
        fig.add_trace(go.Scatter(x=self.lrs, y=self.losses, name="loss", mode="markers"))
        fig.add_trace(go.Scatter(x=self.lrs, y=self.smoothed, name="smoothed", mode="lines"))
        if self.suggestion:
            fig.add_vline(x=self.suggestion, line_dash="dash", line_color="green")
            fig.add_annotation(
                x=math.log10(self.suggestion),
                y=1,
                yref="paper",
                showarrow=False,
                text=f"suggested {self.suggestion:.1e}",
                xanchor="left",
            )
        fig.update_layout(
            title="Learning-rate range test",
            xaxis={"type": "log", "title": "learning rate"},
            yaxis_title="training loss",
            template="plotly_white",
            height=360,
        )
        return fig

    def _repr_html_(self) -> str:
        head = (
            f"suggested learning_rate = {self.suggestion:.2e}"
            if self.suggestion
            else "no suggestion"
        )
        return f"<div><b>{head}</b><div>{html.escape(self.reason)}</div></div>"


def find_lr(
    cfg: TrainConfig,
    *,
    train_data: Any = None,
    start_lr: float = 1e-6,
    end_lr: float = 1e-1,
    num_steps: int = 40,
    num_batches: int = 8,
    diverge: float = 4.0,
) -> LRFinderResult:
    """Range-test `cfg` (its model, technique, data and batch size) on `num_batches` real batches."""
    from ..rundir import RunDir
    from .batching import load_splits
    from .engine import _build

    _check_range(start_lr, end_lr, num_steps)
    probe = cfg.replace(report_to="none", eval_at_start=False, max_steps=num_steps)
    with tempfile.TemporaryDirectory(prefix="lr-find-") as scratch:  # nothing lands in the run
        splits = load_splits(probe, train_data, None)
        trainer, _, _ = _build(probe.replace(run_dir=scratch), RunDir(scratch), splits, None)
        return lr_range_test(
            trainer,
            start_lr=start_lr,
            end_lr=end_lr,
            num_steps=num_steps,
            num_batches=num_batches,
            diverge=diverge,
        )


def lr_range_test(
    trainer: Any,
    *,
    start_lr: float = 1e-6,
    end_lr: float = 1e-1,
    num_steps: int = 40,
    num_batches: int = 8,
    diverge: float = 4.0,
    smoothing: float = 0.7,
) -> LRFinderResult:
    """The test on a built Trainer; its trainable weights and optimizer state are restored after."""
    _check_range(start_lr, end_lr, num_steps)
    started = time.monotonic()
    model = trainer.model
    batches = _batches(trainer, num_batches)
    saved = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    optimizer = trainer.optimizer or trainer.create_optimizer()
    saved_opt = copy.deepcopy(optimizer.state_dict())
    lrs, losses = [], []
    try:
        lrs, losses = _sweep(trainer, optimizer, batches, start_lr, end_lr, num_steps, diverge)
    finally:
        _restore(model, saved, optimizer, saved_opt)
    smoothed = _smooth(losses, smoothing)
    suggestion, min_lr, reason = suggest(lrs, smoothed)
    log.info("LR range test: %s", reason)
    return LRFinderResult(
        lrs, losses, smoothed, suggestion, reason, min_lr, round(time.monotonic() - started, 2)
    )


def _check_range(start_lr: float, end_lr: float, num_steps: int) -> None:
    if not 0 < start_lr < end_lr:
        raise ConfigError(f"Need 0 < start_lr < end_lr, got {start_lr} and {end_lr}.")
    if num_steps < 5:
        raise ConfigError(f"num_steps must be >= 5 for a curve to read, got {num_steps}.")


def _batches(trainer: Any, n: int) -> list[dict[str, Any]]:
    out = []
    for batch in trainer.get_train_dataloader():
        out.append(trainer._prepare_inputs(batch))
        if len(out) >= n:
            break
    if not out:
        raise ConfigError("The range test found no training batch: is the training data empty?")
    return out


def _sweep(
    trainer: Any,
    optimizer: Any,
    batches: list[dict[str, Any]],
    start_lr: float,
    end_lr: float,
    num_steps: int,
    diverge: float,
) -> tuple[list[float], list[float]]:
    import torch

    model, clip = trainer.model, trainer.args.max_grad_norm
    ratio = (end_lr / start_lr) ** (1 / (num_steps - 1))
    lrs, losses, best = [], [], math.inf
    model.train()
    for i in range(num_steps):
        lr = start_lr * ratio**i
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = trainer.compute_loss(model, batches[i % len(batches)])
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        value = float(loss.detach())
        lrs.append(lr)
        losses.append(value)
        best = min(best, value)
        if not math.isfinite(value) or value > diverge * best:  # one step per rate: stop early
            break
    return lrs, losses


def _restore(model: Any, saved: dict[str, Any], optimizer: Any, state: dict[str, Any]) -> None:
    import torch

    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in saved:
                p.copy_(saved[name])
    optimizer.load_state_dict(state)
    optimizer.zero_grad(set_to_none=True)


def _smooth(values: list[float], weight: float) -> list[float]:
    from ..plots import smooth

    finite = [v if math.isfinite(v) else float("nan") for v in values]
    return smooth(finite, weight)


def suggest(lrs: list[float], smoothed: list[float]) -> tuple[float | None, float | None, str]:
    """(suggested rate, rate at the minimum, the reason in words) from the smoothed curve."""
    points = [(lr, v) for lr, v in zip(lrs, smoothed, strict=True) if math.isfinite(v)]
    if len(points) < 4:
        return None, None, f"Only {len(points)} usable steps: widen the range or add steps."
    low = min(range(len(points)), key=lambda i: points[i][1])
    min_lr = points[low][0]
    if low < 2:
        return (
            None,
            min_lr,
            (
                f"The loss did not fall at any rate from {points[0][0]:.1e} (lowest at the start): "
                "start the range lower, or check the data."
            ),
        )
    slopes = [
        (points[i + 1][1] - points[i - 1][1]) / math.log10(points[i + 1][0] / points[i - 1][0])
        for i in range(1, low)
    ]
    steepest = min(range(len(slopes)), key=slopes.__getitem__) + 1
    lr = points[steepest][0]
    after = (
        "past that it rises"
        if low < len(points) - 1
        else "it was still falling at the end of the range (raise end_lr to see it turn)"
    )
    reason = (
        f"The smoothed loss falls fastest ({slopes[steepest - 1]:.2f} per tenfold rate) at "
        f"{lr:.1e}, before its minimum at {min_lr:.1e} ({points[low][1]:.3f}); {after}. "
        f"The rule of thumb minimum/10 gives {min_lr / 10:.1e}. For a run of a few dozen steps "
        f"the best rate can lie nearer the minimum (orders-json, 12 LoRA steps: suggested 6.8e-4, "
        f"best of a grid 3e-3): a short sweep settles it, e.g. `workbench sweep PARAMS --grid "
        f"learning_rate={lr:.1e},{math.sqrt(lr * min_lr / 2):.1e},{min_lr / 2:.1e}`."
    )
    return lr, min_lr, reason


__all__ = ["find_lr", "lr_range_test", "LRFinderResult", "suggest"]
