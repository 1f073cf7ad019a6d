"""Tiny trained runs for the shipping tests: one per technique, trained once per test session.

The shipping tests need "a trained run", not a fresh one, and training is their slow part. So
`TinyRuns` trains each technique once into a folder that every xdist worker of the session
shares (a file lock lets one worker train while the other waits), and hands each test its own
copy: exports write into the run, and a test must not see another test's export.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock  # a dependency of transformers and huggingface_hub

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


@dataclass(frozen=True)
class TinyRuns:
    """The session's `tiny_run`s, trained on first use; only copies leave `root`."""

    root: Path

    def copy(self, dest: Path, technique: str = "lora") -> Path:
        """dest/run-<technique>: this test's own copy of the session's trained run."""
        source = self.root / f"run-{technique}"
        done = self.root / f"run-{technique}.done"  # beside the run, so copies do not carry it
        with FileLock(self.root / f"run-{technique}.lock"):
            if not done.is_file():
                shutil.rmtree(source, ignore_errors=True)  # a worker that failed half-way
                tiny_run(self.root, technique)
                done.touch()
        return Path(shutil.copytree(source, dest / source.name))
