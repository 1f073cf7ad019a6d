"""Numbers the run documents share: task and forgetting metrics, hyperparameters, compute and energy."""

from __future__ import annotations

from typing import Any

from .facts import POWER_W, RunFacts


def metric_rows(facts: RunFacts) -> list[list[Any]]:
    """[[metric, base mean, tuned mean, change]] of the task metrics in comparison.json."""
    return _summary_rows((facts.comparison or {}).get("summary"))


def forgetting_rows(facts: RunFacts) -> list[list[Any]]:
    """The same for the forgetting probe (general questions outside the task)."""
    return _summary_rows(((facts.comparison or {}).get("forgetting") or {}).get("summary"))


def _summary_rows(summary: Any) -> list[list[Any]]:
    rows = []
    for name, m in (summary or {}).items():
        if isinstance(m, dict) and (
            as_number(m.get("base_mean")) is not None or as_number(m.get("tuned_mean")) is not None
        ):
            rows.append([name, m.get("base_mean"), m.get("tuned_mean"), m.get("delta")])
    return rows


def forgetting(facts: RunFacts) -> dict[str, Any] | None:
    probe = (facts.comparison or {}).get("forgetting")
    return probe if isinstance(probe, dict) else None


def as_number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def hyperparameters(facts: RunFacts) -> list[tuple[str, Any]]:
    keys = (
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
    cfg = facts.train_config or {}
    return [(k, cfg[k]) for k in keys if k in cfg]


def compute(facts: RunFacts) -> dict[str, Any]:
    """Training compute, hardware, wall time and an energy estimate, each None when unknown."""
    from ..pipeline.summary import hardware

    train = facts.train or {}
    hw = (facts.summary or {}).get("hardware")
    if not hw and facts.train is not None:  # notebooks run by hand: no summary.json
        hw = dict(
            hardware(),
            note="the machine that wrote this record; training is assumed to have run on it",
        )
    hw = hw or {}
    gpus = hw.get("gpus") or []
    wall = as_number(train.get("wall_time_s"))
    if gpus:
        watts, basis = (
            POWER_W["gpu"] * len(gpus),
            f"{len(gpus)} GPU x {POWER_W['gpu']:.0f} W (assumed average board power)",
        )
    elif hw.get("cpu_count"):
        watts = POWER_W["cpu_core"] * hw["cpu_count"]
        basis = f"{hw['cpu_count']} CPU cores x {POWER_W['cpu_core']:.0f} W (assumed average draw per busy core)"
    else:
        watts, basis = None, "hardware not recorded (run through `workbench run` to record it)"
    energy_wh = wall * watts / 3600 if wall is not None and watts else None
    base_flops = as_number(facts.base.get("training_flops"))
    flops = as_number(train.get("flops")) or None
    return {
        "flops": flops,
        "tokens": train.get("tokens_seen"),
        "trainable_params": train.get("trainable_params"),
        "total_params": train.get("total_params"),
        "wall_time_s": wall,
        "hardware": _hardware_text(hw, gpus),
        "power_w": watts,
        "power_basis": basis,
        "energy_wh": energy_wh,
        "base_flops": base_flops,
        "third_of_base": base_flops / 3 if base_flops else None,
        "share_of_third": flops / (base_flops / 3) if flops and base_flops else None,
    }


def _hardware_text(hw: dict[str, Any], gpus: list[Any]) -> str | None:
    if not hw:
        return None
    text = f"{hw.get('cpu_count')} CPU cores, {hw.get('machine', '')} ({hw.get('platform', '')})"
    text += f"; GPUs: {', '.join(map(str, gpus))}" if gpus else "; no GPU"
    return text + (f" ({hw['note']})" if hw.get("note") else "")


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
