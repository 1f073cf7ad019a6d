"""Numbers the run documents share: task and forgetting metrics, hyperparameters, compute and energy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from .facts import POWER_W, RunFacts

if TYPE_CHECKING:
    from ..comparison.comparison import Forgetting
    from ..comparison.stats import MetricSummary
    from ..pipeline.summary import Machine


def metric_rows(facts: RunFacts) -> list[list[Any]]:
    """[[metric, base mean, tuned mean, change]] of the comparison's task metrics."""
    return _summary_rows(facts.comparison.summary if facts.comparison else {})


def forgetting_rows(facts: RunFacts) -> list[list[Any]]:
    """The same for the forgetting probe (general questions outside the task)."""
    probe = forgetting(facts)
    return _summary_rows(probe.summary if probe else {})


def _summary_rows(summary: Mapping[str, MetricSummary]) -> list[list[Any]]:
    return [
        [name, s.base_mean, s.tuned_mean, s.delta]
        for name, s in summary.items()
        if s.base_mean is not None or s.tuned_mean is not None
    ]


def forgetting(facts: RunFacts) -> Forgetting | None:
    return facts.comparison.forgetting if facts.comparison else None


def as_number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def hyperparameters(facts: RunFacts) -> list[tuple[str, Any]]:
    keys = (
        "objective",  # sft, or dpo on preference pairs (then beta and the starting adapter)
        "technique",
        "lora_r",
        "lora_alpha",
        "lora_dropout",
        "target_modules",
        "max_length",
        "epochs",
        "max_steps",
        "batch_size",
        "grad_accum",
        "learning_rate",
        "lr_scheduler",
        "warmup_ratio",
        "assistant_only_loss",
        "packing",
        "seed",
        "dtype",
    )
    cfg = facts.train_config
    if cfg is not None and cfg.objective == "dpo":
        keys += ("beta", "init_adapter")
    return [] if cfg is None else [(k, getattr(cfg, k)) for k in keys]


def compute(facts: RunFacts) -> dict[str, Any]:
    """Training compute, hardware, wall time and an energy estimate, each None when unknown."""
    train = facts.train
    hw = _machine(facts)
    gpus = hw.gpus if hw else []
    wall = train.wall_time_s if train else None
    if gpus:
        watts, basis = (
            POWER_W["gpu"] * len(gpus),
            f"{len(gpus)} GPU x {POWER_W['gpu']:.0f} W (assumed average board power)",
        )
    elif hw and hw.cpu_count:
        watts = POWER_W["cpu_core"] * hw.cpu_count
        basis = f"{hw.cpu_count} CPU cores x {POWER_W['cpu_core']:.0f} W (assumed average draw per busy core)"
    else:
        watts, basis = None, "hardware not recorded (run through `workbench run` to record it)"
    energy_wh = wall * watts / 3600 if wall is not None and watts else None
    base_flops = as_number(facts.base.get("training_flops"))
    flops = (train.flops if train else None) or None
    return {
        "flops": flops,
        "tokens": train.tokens_seen if train else None,
        "trainable_params": train.trainable_params if train else None,
        "total_params": train.total_params if train else None,
        "wall_time_s": wall,
        "hardware": _hardware_text(hw),
        "power_w": watts,
        "power_basis": basis,
        "energy_wh": energy_wh,
        "base_flops": base_flops,
        "third_of_base": base_flops / 3 if base_flops else None,
        "share_of_third": flops / (base_flops / 3) if flops and base_flops else None,
    }


def _machine(facts: RunFacts) -> Machine | None:
    """The pipeline's record of the machine; for notebooks run by hand (no summary.json), this one."""
    from ..pipeline.summary import Machine, hardware

    if facts.summary is not None:
        return facts.summary.hardware
    if facts.train is None:
        return None
    note = "the machine that wrote this record; training is assumed to have run on it"
    return Machine(**{**asdict(hardware()), "note": note})


def _hardware_text(hw: Machine | None) -> str | None:
    if hw is None:
        return None
    text = f"{hw.cpu_count} CPU cores, {hw.machine} ({hw.platform})"
    text += f"; GPUs: {', '.join(hw.gpus)}" if hw.gpus else "; no GPU"
    return text + (f" ({hw.note})" if hw.note else "")


def sci(value: float | None) -> str | None:
    if value is None:
        return None
    return f"{value:.3g}" if value == 0 or 1e-3 <= abs(value) < 1e6 else f"{value:.2e}"


def dataset_names(facts: RunFacts) -> list[str]:
    return [str(n) for n in (facts.param("dataset"), facts.param("eval_dataset")) if n]


__all__ = [
    "metric_rows",
    "forgetting_rows",
    "forgetting",
    "hyperparameters",
    "compute",
    "sci",
    "dataset_names",
]
