"""DPO on the tiny model: reward metrics in the history, adapter as reference, NaN guard, stop, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workbench.config import TrainConfig
from workbench.errors import ConfigError
from workbench.training.checkpoints import COMPLETE, complete_checkpoints
from workbench.training.engine import TrainResult, train
from workbench.training.events import Callback, StopFlag

REPO = Path(__file__).resolve().parents[1]


def config(run_dir: Path, **over) -> TrainConfig:
    base = dict(
        model="tiny-random",
        objective="dpo",
        dataset="support-tone-pairs",
        max_train_rows=32,
        max_eval_rows=8,
        run_dir=str(run_dir),
        max_steps=6,
        batch_size=4,
        log_every=2,
        eval_every=3,
        max_length=256,
        learning_rate=5e-3,
        warmup_ratio=0.0,
    )
    return TrainConfig(**{**base, **over})


class At(Callback):
    """Calls `action(state)` once when the run reaches `step`."""

    def __init__(self, step: int, action):
        self.step, self.action, self.done = step, action, False

    def on_step_end(self, state) -> None:
        if state.step >= self.step and not self.done:
            self.done = True
            self.action(state)


def test_dpo_run_logs_reward_margin_and_accuracy_and_saves_a_plain_adapter(tiny_model_dir, run_dir):
    result = train(config(run_dir))
    assert result.status == "completed", result.message
    train_logs = [r for r in result.history if r["kind"] == "train"]
    evals = [r for r in result.history if r["kind"] == "eval"]
    assert train_logs and all(
        "reward_margin" in r and "preference_accuracy" in r for r in train_logs
    )
    assert [r["step"] for r in evals] == [0, 3, 6]
    # at step 0 the policy is the reference (adapter off == fresh adapter): margin exactly 0
    assert evals[0]["eval_reward_margin"] == 0.0
    assert result.metrics["eval_reward_margin"] > 0.1 and result.metrics["eval_loss"] < 0.69
    assert result.metrics["eval_preference_accuracy"] > 0.5
    adapter = Path(result.adapter_dir)
    assert (adapter / "adapter_model.safetensors").is_file()
    assert not (adapter / "ref").exists()  # no reference copy: the base is the reference
    assert result.data["train"].rows == 32 and result.data["eval"].rows == 8
    loaded = TrainResult.load(run_dir)  # what compare and the documents read
    assert loaded.train_config.objective == "dpo" and loaded.history == result.history
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert any("eval_reward_margin" in json.loads(line) for line in lines)


def test_dpo_nan_guard_stops_and_keeps_only_the_good_checkpoint(tiny_model_dir, run_dir):
    import torch

    def poison(state):
        with torch.no_grad():
            next(p for p in state.model.parameters() if p.requires_grad).fill_(float("nan"))

    cfg = config(run_dir, max_steps=20, save_every=2, log_every=2, eval_every=0)
    result = train(cfg, callbacks=[At(3, poison)])
    assert result.status == "diverged" and "learning_rate" in result.message
    assert result.steps <= 3 + 2
    assert [p.name for p in complete_checkpoints(run_dir / "checkpoints")] == ["checkpoint-2"]
    assert result.adapter_dir is None


def test_dpo_stop_flag_saves_a_checkpoint(tiny_model_dir, run_dir):
    flag = StopFlag()
    cfg = config(run_dir, max_steps=50, eval_every=0)
    result = train(cfg, stop=flag, callbacks=[At(2, lambda s: flag.set())])
    assert result.status == "stopped" and result.steps in (2, 3)
    assert (run_dir / "checkpoints" / f"checkpoint-{result.steps}" / COMPLETE).is_file()


@pytest.mark.slow
def test_dpo_from_an_sft_adapter_uses_it_as_the_reference(tiny_model_dir, tmp_path):
    sft = train(
        TrainConfig(
            model="tiny-random",
            dataset="support-tone",
            max_train_rows=16,
            max_eval_rows=4,
            run_dir=str(tmp_path / "sft"),
            max_steps=2,
            batch_size=4,
            max_length=256,
            eval_at_start=False,
            learning_rate=5e-3,
            warmup_ratio=0.0,
        )  # fmt: skip
    )
    assert sft.status == "completed", sft.message
    dpo = train(config(tmp_path / "dpo", init_adapter=str(tmp_path / "sft"), max_steps=3))
    assert dpo.status == "completed", dpo.message
    first = next(r for r in dpo.history if r["kind"] == "eval")
    assert first["step"] == 0 and first["eval_reward_margin"] == 0.0  # policy == SFT reference
    # a reference of the bare base would give the SFT adapter a non-zero reward at step 0
    assert first["eval_reward_chosen"] == 0.0
    import torch
    from safetensors.torch import load_file

    name = "adapter_model.safetensors"
    start = load_file(str(tmp_path / "sft" / "adapter" / name))
    ref = load_file(str(Path(dpo.adapter_dir) / "ref" / name))  # TRL's frozen copy
    tuned = load_file(str(Path(dpo.adapter_dir) / name))
    assert all(torch.equal(start[k], ref[k]) for k in start)  # the reference never trains
    assert any(not torch.equal(start[k], tuned[k]) for k in start)  # the policy does
    from workbench.documents.writer import write_run_docs

    write_run_docs(run_dir=tmp_path / "dpo")  # the model card records the objective and its start
    card = (tmp_path / "dpo" / "docs" / "model_card.md").read_text()
    assert (
        "| **objective** | dpo |" in card and f"| **init_adapter** | {tmp_path / 'sft'} |" in card
    )


def test_dpo_refuses_a_technique_without_an_adapter_and_a_bad_objective(tiny_model_dir, run_dir):
    result = train(config(run_dir, technique="full"))
    assert result.status == "failed" and "adapter technique" in result.message
    with pytest.raises(ConfigError, match="objective"):
        TrainConfig(objective="ppo")
    with pytest.raises(ConfigError, match="beta"):
        TrainConfig(objective="dpo", beta=0)


CHILD = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from test_preference_train import At, config
from workbench.training.engine import train
from pathlib import Path
kill_at = int(sys.argv[2])
cbs = [At(kill_at, lambda s: os.kill(os.getpid(), signal.SIGKILL))] if kill_at else []
train(config(Path(sys.argv[1]), max_steps=8, save_every=4, log_every=1, eval_every=0,
             eval_at_start=False), callbacks=cbs)
"""


def _child(run_dir: Path, kill_at: int) -> int:
    code = textwrap.dedent(CHILD.format(tests=str(REPO / "tests")))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", code, str(run_dir), str(kill_at)], env=env, cwd=REPO, timeout=600
    ).returncode


@pytest.mark.slow
def test_dpo_resume_after_sigkill_continues_the_same_curve(tiny_model_dir, tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert _child(straight, 0) == 0
    assert _child(killed, 6) == -signal.SIGKILL
    assert [p.name for p in complete_checkpoints(killed / "checkpoints")] == ["checkpoint-4"]
    assert _child(killed, 0) == 0
    a = json.loads((straight / "train_result.json").read_text())
    b = json.loads((killed / "train_result.json").read_text())
    assert b["status"] == "completed" and b["resumed_from"].endswith("checkpoint-4")
    for key in ("loss", "reward_margin"):
        curve_a = {r["step"]: r[key] for r in a["history"] if r["kind"] == "train"}
        curve_b = {r["step"]: r[key] for r in b["history"] if r["kind"] == "train"}
        assert sorted(curve_b) == list(range(1, 9))
        for step in range(1, 9):
            assert curve_b[step] == pytest.approx(curve_a[step], rel=1e-4, abs=1e-5), (key, step)
    assert b["tokens_seen"] == a["tokens_seen"]


def test_pair_splits_follow_the_sft_policy():
    from workbench.training.preference import load_pair_splits

    rows = [{"prompt": f"Q{i}", "chosen": "Good answer.", "rejected": "Bad."} for i in range(20)]
    cfg = TrainConfig(objective="dpo", eval_fraction=0.25)  # dataset names a chat sample
    carved = load_pair_splits(cfg, train_data=rows)  # given rows: never the sample's eval split
    assert (len(carved.train), len(carved.eval)) == (15, 5)
    assert not {p.prompt[0]["content"] for p in carved.eval.pairs} & {
        p.prompt[0]["content"] for p in carved.train.pairs
    }
    sample = load_pair_splits(cfg.replace(dataset="support-tone-pairs"))
    assert (len(sample.train), len(sample.eval)) == (300, 40)
    assert sample.sources["eval"].endswith("support-tone-pairs/eval.jsonl")


def test_trl_still_has_what_the_preference_trainer_overrides():
    """Canary: a renamed TRL method would silently come back (telemetry pings, TRL's model card)."""
    import inspect

    from trl import DPOTrainer

    from workbench.training.preference import preference_trainer_class

    trainer = preference_trainer_class()
    for name in ("_send_telemetry", "create_model_card", "_track_num_input_tokens", "compute_loss"):
        assert callable(getattr(DPOTrainer, name, None)), name
        assert name in vars(trainer), name
    assert list(inspect.signature(DPOTrainer.compute_loss).parameters)[:3] == [
        "self",
        "model",
        "inputs",
    ]


@pytest.mark.slow
def test_cli_train_runs_dpo_from_a_params_file(tiny_model_dir, tmp_path):
    from workbench.cli import main

    params = tmp_path / "params.yaml"
    params.write_text(
        "train:\n  model: tiny-random\n  objective: dpo\n  dataset: support-tone-pairs\n"
        "  max_train_rows: 8\n  max_eval_rows: 4\n  max_length: 256\n  batch_size: 4\n"
        "  eval_every: 0\n  eval_at_start: false\n  log_every: 1\n"
    )
    run_dir = tmp_path / "cli-dpo"
    assert main(["train", str(params), "--run-dir", str(run_dir), "--set", "max_steps=2"]) == 0
    result = TrainResult.load(run_dir)
    assert result.status == "completed" and result.steps == 2
    assert "eval_reward_margin" in result.metrics
