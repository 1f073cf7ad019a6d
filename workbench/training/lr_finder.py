"""The learning-rate range test: raise the rate step by step on real batches, watch the loss, suggest one.

Leslie Smith's test as fastai runs it: one optimizer step per rate, the rate growing
exponentially from `start_lr` to `end_lr`, stopped once the smoothed loss passes `diverge` times
its best. The curve gives two landmarks: the rate where the smoothed loss falls fastest (per decade
of rate), looked for before the loss's minimum, and the minimum itself.

Which one to train at depends on the run. Measured on orders-json (default model, LoRA, 12-step
runs): the steepest fall was 6.8e-4, the minimum 4.6e-3, and the best of a grid 3e-3, a factor
4.4 from the steepest-fall rule. So the test then *refines* (`refine`, on by default): a few rates
spaced evenly (log scale) from the steepest fall to the minimum each train `refine_steps` steps
from the same start on the run's own schedule (warmup, then decay; weights and optimizer restored
in between) and are scored on held-out batches (the eval split, else training batches the sweep did not use). The one with the lowest
held-out loss is the suggestion: a measured short-horizon choice, not a rule of thumb. On that
orders-json run it suggested 1.3e-3, 2.3x from the grid's best (benchmarks/lr_finder.py, README).
`refine=0` keeps the classic steepest-fall suggestion.

The weights and the optimizer state are put back afterwards, so a range test leaves the model as it
found it. It runs the engine's own Trainer (technique, batching, the chunked loss), not a copy.
"""

from __future__ import annotations

import copy
import html
import logging
import math
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from ..config import TrainConfig
from ..errors import ConfigError
from ..rundir import Artifact

log = logging.getLogger(__name__)


@dataclass
class LRFinderResult(Artifact):
    """The rates tried, the loss at each (raw and smoothed), the suggestion and why. A run with
    `learning_rate="find"` saves it as lr_find.json, with the config it was found for."""

    FILE = "lr_find_json"
    MADE_BY = "training with learning_rate='find' (training/lr_finder.py)"

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestion: float | None
    reason: str
    min_loss_lr: float | None
    seconds: float
    steepest_lr: float | None = None  # the curve's steepest fall (the suggestion when not refined)
    refined: list[dict[str, float]] = field(default_factory=list)  # {lr, held_loss} per rate tried
    found_for: dict[str, Any] = field(default_factory=dict)  # the config, learning_rate "find"

    def figure(self) -> Any:
        """Loss against learning rate (log axis), the suggestion marked with its reason."""
        import plotly.graph_objects as go

        fig = go.Figure()
        fig.add_trace(go.Scatter(x=self.lrs, y=self.losses, name="loss", mode="markers"))
        fig.add_trace(go.Scatter(x=self.lrs, y=self.smoothed, name="smoothed", mode="lines"))
        if self.refined:
            fig.add_trace(
                go.Scatter(
                    x=[r["lr"] for r in self.refined],
                    y=[r["held_loss"] for r in self.refined],
                    name="held-out loss after the refining steps",
                    mode="markers+lines",
                    marker={"symbol": "diamond", "size": 9},
                )
            )
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
    eval_data: Any = None,
    start_lr: float = 1e-6,
    end_lr: float = 1e-1,
    num_steps: int = 40,
    num_batches: int = 8,
    diverge: float = 4.0,
    refine: int = 4,
    refine_steps: int = 8,
) -> LRFinderResult:
    """Range-test `cfg` (its model, technique, data and batch size) on `num_batches` real batches,
    then refine between the curve's landmarks (module docstring); `refine=0`: the curve only."""
    from ..rundir import RunDir
    from .batching import load_splits
    from .build import build_sft

    _check_range(start_lr, end_lr, num_steps)
    # the rate in the config does not matter (each step sets its own); "find" is not a number
    rate = cfg.learning_rate if cfg.learning_rate != "find" else start_lr
    probe = cfg.replace(
        report_to="none", eval_at_start=False, max_steps=num_steps, learning_rate=rate
    )
    with tempfile.TemporaryDirectory(prefix="lr-find-") as scratch:  # nothing lands in the run
        splits = load_splits(probe, train_data, eval_data)
        trainer, _, _ = build_sft(probe.replace(run_dir=scratch), RunDir(scratch), splits, None)
        return lr_range_test(
            trainer,
            start_lr=start_lr,
            end_lr=end_lr,
            num_steps=num_steps,
            num_batches=num_batches,
            diverge=diverge,
            refine=refine,
            refine_steps=refine_steps,
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
    refine: int = 4,
    refine_steps: int = 8,
    held_batches: int = 2,
) -> LRFinderResult:
    """The test on a built Trainer; its trainable weights and optimizer state are restored after."""
    _check_range(start_lr, end_lr, num_steps)
    if refine < 0 or refine == 1 or refine_steps < 1:
        raise ConfigError(
            f"refine must be 0 (off) or >= 2 rates and refine_steps >= 1, got {refine} and "
            f"{refine_steps}."
        )
    started = time.monotonic()
    model = trainer.model
    batches = _batches(trainer, num_batches)
    saved = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    optimizer = trainer.optimizer or trainer.create_optimizer()
    saved_opt = copy.deepcopy(optimizer.state_dict())
    lrs, losses, refined = [], [], []
    try:
        lrs, losses = _sweep(trainer, optimizer, batches, start_lr, end_lr, num_steps, diverge)
        _restore(model, saved, optimizer, saved_opt)
        smoothed = _smooth(losses, smoothing)
        steepest, min_lr, reason = suggest(lrs, smoothed)
        suggestion = steepest
        if refine and steepest and min_lr and min_lr > steepest:
            held = _held_batches(trainer, held_batches, num_batches)
            for lr in _between(steepest, min_lr, refine):
                loss = _short_run(trainer, optimizer, batches, held, lr, refine_steps)
                refined.append({"lr": lr, "held_loss": loss})
                _restore(model, saved, optimizer, saved_opt)
            suggestion, reason = _refined_choice(refined, steepest, min_lr, refine_steps, held)
    finally:
        _restore(model, saved, optimizer, saved_opt)
    log.info("LR range test: %s", reason)
    return LRFinderResult(
        lrs,
        losses,
        smoothed,
        suggestion,
        reason,
        min_lr,
        round(time.monotonic() - started, 2),
        steepest_lr=steepest,
        refined=refined,
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


def _held_batches(trainer: Any, n: int, skip: int) -> tuple[list[dict[str, Any]], str]:
    """Batches to score the refining runs on: the eval split's, else training batches past the
    `skip` the sweep trains on (none left: the sweep's own, said so in the reason)."""
    if trainer.eval_dataset is not None and len(trainer.eval_dataset):
        loader, where, skip = trainer.get_eval_dataloader(), "eval-split", 0
    else:
        loader, where = trainer.get_train_dataloader(), "held training"
    out = []
    for i, batch in enumerate(loader):
        if i >= skip:
            out.append(trainer._prepare_inputs(batch))
        if len(out) >= n:
            break
    if not out:
        return _batches(trainer, n), "training (no held-out rows left)"
    return out, where


def _between(low: float, high: float, n: int) -> list[float]:
    """`n` rates from `low` to `high`, both included, evenly spaced on a log scale."""
    step = (high / low) ** (1 / (n - 1))
    return [low * step**i for i in range(n)]


def _short_run(
    trainer: Any,
    optimizer: Any,
    batches: list[dict[str, Any]],
    held: tuple[list[dict[str, Any]], str],
    lr: float,
    steps: int,
) -> float:
    """Train `steps` steps from the current weights, peaking at `lr` on the run's schedule; the
    mean loss on `held`. The random state (dropout) is seeded the same for every rate and put back
    after."""
    import torch

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(trainer.args.seed)
        return _train_and_score(trainer, optimizer, batches, held, lr, steps)


def _train_and_score(
    trainer: Any,
    optimizer: Any,
    batches: list[dict[str, Any]],
    held: tuple[list[dict[str, Any]], str],
    lr: float,
    steps: int,
) -> float:
    import torch
    from transformers import get_scheduler

    model, args = trainer.model, trainer.args
    for group in optimizer.param_groups:
        group["lr"] = lr
        group.pop("initial_lr", None)  # a scheduler before this one would pin its own start
    # a miniature of the configured run: its schedule (warmup, then decay) over `steps` steps. A
    # constant rate instead favours the lowest rate: a high one ends on a noisy step, not settled
    schedule = get_scheduler(
        args.lr_scheduler_type,
        optimizer,
        num_warmup_steps=args.get_warmup_steps(steps),
        num_training_steps=steps,
    )
    clip = args.max_grad_norm
    model.train()
    for i in range(steps):
        loss = trainer.compute_loss(model, batches[i % len(batches)])
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        if not math.isfinite(float(loss.detach())):
            return math.inf
    model.eval()
    with torch.no_grad():  # eval mode: the task loss alone (no KL term)
        values = [float(trainer.compute_loss(model, batch)) for batch in held[0]]
    model.train()
    value = sum(values) / len(values)
    return value if math.isfinite(value) else math.inf


def _refined_choice(
    refined: list[dict[str, float]],
    steepest: float,
    min_lr: float,
    steps: int,
    held: tuple[list[dict[str, Any]], str],
) -> tuple[float, str]:
    best = min(refined, key=lambda r: r["held_loss"])
    tried = ", ".join(f"{r['lr']:.1e}: {r['held_loss']:.3f}" for r in refined)
    reason = (
        f"Suggested {best['lr']:.1e}: of {len(refined)} rates from the curve's steepest fall "
        f"({steepest:.1e}) to its minimum ({min_lr:.1e}), each trained {steps} steps from the same "
        f"start on the run's schedule, it ended with the lowest loss on {len(held[0])} {held[1]} "
        f"batch(es) ({tried}). "
        f"That is the best rate for a short run; for a run of many epochs a lower rate can be "
        f"safer: the steepest fall ({steepest:.1e}) is the classic, more cautious choice."
    )
    return best["lr"], reason


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
        f"the best rate can lie nearer the minimum (orders-json, 12 LoRA steps: steepest fall "
        f"6.8e-4, best of a grid 3e-3): the refining runs (`refine`) measure it, or a short sweep "
        f"settles it, e.g. `workbench sweep PARAMS --grid "
        f"learning_rate={lr:.1e},{math.sqrt(lr * min_lr / 2):.1e},{min_lr / 2:.1e}`."
    )
    return lr, min_lr, reason


def resolve_learning_rate(
    cfg: TrainConfig, run_dir: Any, *, train_data: Any = None, eval_data: Any = None
) -> TrainConfig:
    """`cfg` with `learning_rate="find"` replaced by the range test's suggestion, saved in the run
    (lr_find.json, figures/lr_find.html). A rerun of the same config reuses the saved finding, so
    it resumes its checkpoints instead of starting over at a rate found again."""
    from ..io import write_text_atomic
    from ..rundir import RunDir

    if cfg.learning_rate != "find":
        return cfg
    rd = RunDir(run_dir)
    wanted = cfg.to_dict()
    saved = LRFinderResult.load_optional(rd.root)
    if saved is not None and saved.found_for == wanted and saved.suggestion:
        log.info("learning_rate='find': %.2e, found before (%s)", saved.suggestion, rd.lr_find_json)
        return cfg.replace(learning_rate=saved.suggestion)
    found = find_lr(cfg, train_data=train_data, eval_data=eval_data)
    found.found_for = wanted
    found.save(rd.root)
    rd.figures_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(rd.lr_find_figure_html, found.figure().to_html(include_plotlyjs=True))
    if not found.suggestion:
        raise ConfigError(
            f"learning_rate='find': the range test gave no suggestion ({found.reason}) "
            f"See {rd.lr_find_figure_html}; set learning_rate to a number."
        )
    log.info("learning_rate='find': %.2e. %s", found.suggestion, found.reason)
    return cfg.replace(learning_rate=found.suggestion)


__all__ = ["find_lr", "lr_range_test", "LRFinderResult", "suggest", "resolve_learning_rate"]
