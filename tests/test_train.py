"""The training engine on the tiny model: techniques, artifacts, NaN guard, stop, interrupt, resume."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workbench.config import TrainConfig
from workbench.training.checkpoints import COMPLETE, complete_checkpoints
from workbench.training.engine import TrainResult, train
from workbench.training.events import Callback, StopFlag, read_jsonl

REPO = Path(__file__).resolve().parents[1]
COLOURS = ["red", "green", "blue", "amber", "violet", "black", "white", "grey"]


def conversations(n: int = 48, offset: int = 0) -> list[list[dict[str, str]]]:
    """Short, learnable chats: the answer is a fixed function of the question."""
    rows = []
    for i in range(offset, offset + n):
        a, b = COLOURS[i % 8], COLOURS[(i * 3 + 1) % 8]
        rows.append(
            [
                {"role": "user", "content": f"Mix {a} and {b}."},
                {"role": "assistant", "content": f'{{"mix":["{a}","{b}"]}}'},
            ]
        )
    return rows


def config(run_dir: Path, **over) -> TrainConfig:
    base = dict(
        model="tiny-random",
        run_dir=str(run_dir),
        max_steps=8,
        batch_size=4,
        log_every=2,
        eval_every=4,
        max_length=256,
        learning_rate=2e-3,
        warmup_ratio=0.0,
        eval_at_start=True,
    )
    return TrainConfig(**{**base, **over})


def run(cfg: TrainConfig, **kw) -> TrainResult:
    return train(cfg, train_data=conversations(), eval_data=conversations(8, offset=100), **kw)


class At(Callback):
    """Calls `action(state)` once when the run reaches `step`."""

    def __init__(self, step: int, action):
        self.step, self.action, self.done = step, action, False

    def on_step_end(self, state) -> None:
        if state.step >= self.step and not self.done:
            self.done = True
            self.action(state)


def test_lora_run_leaves_every_artifact_and_eval_loss_falls(tiny_model_dir, run_dir):
    result = run(config(run_dir, max_steps=12, eval_every=6))
    assert result.status == "completed", result.message
    assert result.steps == 12 and result.tokens_seen > 0 and result.flops > 0
    assert result.metrics["eval_loss"] < result.metrics["first_eval_loss"]
    adapter = Path(result.adapter_dir)
    assert (adapter / "adapter_model.safetensors").is_file() and (adapter / "README.md").is_file()
    assert not list(adapter.glob("*.bin"))
    saved = json.loads((run_dir / "train_result.json").read_text())
    assert saved["status"] == "completed" and saved["history"] == result.history
    logged = read_jsonl(run_dir / "metrics.jsonl")
    assert [r["step"] for r in logged if r["kind"] == "train"] == [2, 4, 6, 8, 10, 12]
    assert TrainConfig.from_yaml(run_dir / "train_config.yaml") == config(
        run_dir, max_steps=12, eval_every=6
    )
    assert (run_dir / "figures" / "loss.html").stat().st_size > 10_000
    assert "completed" in result._repr_html_()


def test_flops_estimate_follows_the_documented_formula(tiny_model_dir, run_dir):
    from workbench.training.engine import estimate_flops

    assert estimate_flops(tokens=10, total_params=100, trainable_params=100) == 6 * 100 * 10
    assert estimate_flops(tokens=10, total_params=100, trainable_params=0) == 4 * 100 * 10


@pytest.mark.parametrize(
    "technique, saved_file", [("full", "model.safetensors"), ("qlora", "adapter_model.safetensors")]
)
def test_other_techniques_train_and_save(tiny_model_dir, run_dir, technique, saved_file):
    result = run(
        config(
            run_dir,
            technique=technique,
            max_steps=4,
            eval_every=0,
            eval_at_start=False,
            log_every=1,
        )
    )
    assert result.status == "completed", result.message
    assert (Path(result.adapter_dir) / saved_file).is_file()
    assert all(math.isfinite(r["loss"]) for r in result.history if r["kind"] == "train")


def test_merged_model_is_written_on_request(tiny_model_dir, run_dir):
    result = run(config(run_dir, max_steps=2, eval_every=0, eval_at_start=False, save_merged=True))
    merged = Path(result.merged_dir)
    assert (merged / "model.safetensors").is_file() and (merged / "README.md").is_file()
    assert not (merged / "adapter_config.json").exists()


def test_nan_guard_stops_within_one_log_interval_and_keeps_the_good_checkpoint(
    tiny_model_dir, run_dir
):
    import torch

    def poison(state):
        with torch.no_grad():
            next(p for p in state.model.parameters() if p.requires_grad).fill_(float("nan"))

    result = run(
        config(run_dir, max_steps=20, save_every=2, log_every=2, eval_every=0),
        callbacks=[At(3, poison)],
    )
    assert result.status == "diverged"
    assert "diverged" in result.message and "learning_rate" in result.message
    assert result.steps <= 3 + 2  # stopped at the first log after the bad step
    kept = complete_checkpoints(run_dir / "checkpoints")
    assert [p.name for p in kept] == ["checkpoint-2"]
    assert result.adapter_dir is None  # NaN weights are never saved as the result


def test_stop_flag_saves_a_checkpoint_and_returns_stopped(tiny_model_dir, run_dir):
    flag = StopFlag()
    result = run(
        config(run_dir, max_steps=50, eval_every=0),
        stop=flag,
        callbacks=[At(3, lambda s: flag.set())],
    )
    assert result.status == "stopped" and result.steps in (3, 4)  # after the step in progress
    assert (run_dir / "checkpoints" / f"checkpoint-{result.steps}" / COMPLETE).is_file()
    assert result.adapter_dir and Path(result.adapter_dir).is_dir()


def test_kernel_interrupt_stops_cleanly_with_a_checkpoint(tiny_model_dir, run_dir):
    result = run(
        config(run_dir, max_steps=50, eval_every=0),
        callbacks=[At(2, lambda s: os.kill(os.getpid(), signal.SIGINT))],
    )
    assert result.status == "stopped" and "Interrupted" in result.message
    assert result.checkpoint and Path(result.checkpoint, COMPLETE).is_file()


def test_early_stopping_on_eval_loss(tiny_model_dir, run_dir):
    # a learning rate this small cannot improve eval loss by min_delta 0: patience 1 stops it quickly
    result = run(
        config(run_dir, max_steps=40, eval_every=2, learning_rate=1e-12, early_stopping_patience=1)
    )
    assert result.status == "stopped" and "Early stopping" in result.message and result.steps < 40


CHILD = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from test_train import At, config, run
from pathlib import Path
kill_at = int(sys.argv[2])
cbs = [At(kill_at, lambda s: os.kill(os.getpid(), signal.SIGKILL))] if kill_at else []
run(config(Path(sys.argv[1]), max_steps=12, save_every=4, log_every=1, eval_every=0, eval_at_start=False,
           lora_dropout=0.1), callbacks=cbs)
"""


def _child(run_dir: Path, kill_at: int) -> int:
    code = textwrap.dedent(CHILD.format(tests=str(REPO / "tests")))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", code, str(run_dir), str(kill_at)], env=env, cwd=REPO, timeout=600
    ).returncode


@pytest.mark.slow
def test_resume_after_sigkill_continues_the_same_loss_curve(tiny_model_dir, tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert _child(straight, 0) == 0
    assert _child(killed, 6) == -signal.SIGKILL
    assert [p.name for p in complete_checkpoints(killed / "checkpoints")] == ["checkpoint-4"]
    (
        killed / "checkpoints" / "checkpoint-8"
    ).mkdir()  # a half-written one (no marker) must be ignored
    assert _child(killed, 0) == 0
    a = json.loads((straight / "train_result.json").read_text())
    b = json.loads((killed / "train_result.json").read_text())
    assert b["status"] == "completed" and b["resumed_from"].endswith("checkpoint-4")
    loss_a = {r["step"]: r["loss"] for r in a["history"] if r["kind"] == "train"}
    loss_b = {r["step"]: r["loss"] for r in b["history"] if r["kind"] == "train"}
    assert sorted(loss_b) == list(range(1, 13))
    for step in range(1, 13):
        assert loss_b[step] == pytest.approx(loss_a[step], rel=1e-4, abs=1e-5), step
    assert b["tokens_seen"] == a["tokens_seen"]


def test_cli_train_runs_a_params_file_and_sets_the_exit_code(tiny_model_dir, tmp_path):
    from workbench.cli import main

    data = tmp_path / "chat.jsonl"
    data.write_text("".join(json.dumps({"messages": c}) + "\n" for c in conversations(16)))
    params = tmp_path / "params.yaml"
    params.write_text(
        f"train:\n  model: tiny-random\n  dataset: {data}\n  max_length: 256\n  batch_size: 4\n"
        "  eval_every: 0\n  eval_at_start: false\n  log_every: 1\n"
    )
    run_dir = tmp_path / "cli-run"
    assert main(["train", str(params), "--run-dir", str(run_dir), "--set", "max_steps=2"]) == 0
    result = json.loads((run_dir / "train_result.json").read_text())
    assert result["status"] == "completed" and result["steps"] == 2
    assert main(["export-script", str(run_dir)]) == 0
    assert (run_dir / "scaleout" / "train.py").is_file()
