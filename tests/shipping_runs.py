"""Tiny trained runs for the shipping tests: one per technique, trained once per test session."""

from __future__ import annotations

from pathlib import Path

from workbench.config import TrainConfig
from workbench.training.engine import train


def tiny_run(root: Path, technique: str = "lora", **over) -> Path:
    """A tiny-random run on orders-json, trained a few steps at a rate that moves the adapter."""
    run_dir = root / f"run-{technique}"
    cfg = TrainConfig(
        **{
            "model": "tiny-random",
            "dataset": "orders-json",
            "technique": technique,
            "run_dir": str(run_dir),
            "max_steps": 3,
            "batch_size": 4,
            "max_train_rows": 12,
            "max_eval_rows": 4,
            "max_length": 256,
            "learning_rate": 5e-2,
            "warmup_ratio": 0.0,
            "eval_at_start": False,
            **over,
        }
    )
    result = train(cfg)
    assert result.completed, result.message
    return run_dir
