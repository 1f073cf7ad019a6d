"""LR range test on the tiny model: a curve on real batches, a suggestion with its reason, weights restored."""

from __future__ import annotations

import math

import pytest
import torch
from test_train import config, conversations

from workbench.errors import ConfigError
from workbench.rundir import RunDir
from workbench.training.batching import load_splits
from workbench.training.build import build_sft
from workbench.training.lr_finder import find_lr, lr_range_test, suggest


def test_range_test_restores_the_weights_and_the_optimizer_state(tiny_model_dir, tmp_path):
    cfg = config(tmp_path / "run")
    splits = load_splits(cfg, conversations(), conversations(8, offset=100))
    trainer, _, _ = build_sft(cfg, RunDir(tmp_path / "run"), splits, None)
    optimizer = trainer.create_optimizer()
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    result = lr_range_test(trainer, num_steps=12, num_batches=3, end_lr=1.0)
    after = dict(trainer.model.named_parameters())
    assert all(torch.equal(before[n], after[n]) for n in before)
    assert optimizer.state_dict()["state"] == {}  # as it was: no step taken
    assert len(result.lrs) >= 5 and result.lrs == sorted(result.lrs)
    assert result.lrs[0] == pytest.approx(1e-6)


def test_find_lr_suggests_a_rate_inside_the_range_and_says_why(tiny_model_dir, tmp_path):
    cfg = config(tmp_path / "run")
    result = find_lr(
        cfg, train_data=conversations(), start_lr=1e-5, end_lr=1.0, num_steps=25, refine=0
    )
    assert all(math.isfinite(v) for v in result.losses[:-1])
    assert result.suggestion is not None, result.reason
    assert result.suggestion == result.steepest_lr and result.refined == []
    assert 1e-5 <= result.suggestion <= (result.min_loss_lr or 1.0)
    assert "falls fastest" in result.reason and f"{result.suggestion:.1e}" in result.reason
    assert not (tmp_path / "run").exists()  # nothing written into the run directory
    assert result.figure().data[0].x[0] == pytest.approx(1e-5)


def test_refining_trains_each_rate_from_the_same_start_and_keeps_the_best(tiny_model_dir, tmp_path):
    cfg = config(tmp_path / "run")
    splits = load_splits(cfg, conversations(), conversations(8, offset=100))
    trainer, _, _ = build_sft(cfg, RunDir(tmp_path / "run"), splits, None)
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    result = lr_range_test(
        trainer, start_lr=1e-5, end_lr=1.0, num_steps=25, refine=3, refine_steps=3
    )
    after = dict(trainer.model.named_parameters())
    assert all(torch.equal(before[n], after[n]) for n in before)  # restored after the refining too
    assert result.steepest_lr is not None and result.min_loss_lr > result.steepest_lr
    rates = [r["lr"] for r in result.refined]
    assert rates[0] == pytest.approx(result.steepest_lr) and rates[-1] == pytest.approx(
        result.min_loss_lr
    )
    best = min(result.refined, key=lambda r: r["held_loss"])
    assert result.suggestion == best["lr"]
    assert f"Suggested {best['lr']:.1e}" in result.reason and "eval-split" in result.reason
    # every rate starts from the same weights: refining with two rates (the ends) gives the last
    # one the loss it had as the third, which it could not if it had trained on after the others
    ends = lr_range_test(trainer, start_lr=1e-5, end_lr=1.0, num_steps=25, refine=2, refine_steps=3)
    assert [r["lr"] for r in ends.refined] == pytest.approx([rates[0], rates[-1]])
    assert ends.refined[-1]["held_loss"] == pytest.approx(result.refined[-1]["held_loss"], rel=1e-5)
    assert len(result.figure().data) == 3  # loss, smoothed, the refined rates


def test_refine_settings_are_checked(tiny_model_dir, tmp_path):
    with pytest.raises(ConfigError, match="refine must be 0"):
        find_lr(config(tmp_path / "run"), train_data=conversations(), refine=1)


def test_suggestion_is_the_steepest_fall_before_the_minimum():
    lrs = [10 ** (-6 + i * 0.5) for i in range(10)]  # 1e-6 .. ~3e-2
    losses = [5.0, 4.9, 4.7, 3.5, 2.0, 1.5, 1.4, 1.3, 3.0, 9.0]
    lr, min_lr, reason = suggest(lrs, losses)
    assert min_lr == lrs[7] and lr == lrs[3]  # the 4.7 -> 2.0 drop is the steepest, centred at 3
    # the sweep it proposes spans the suggestion to half the minimum
    assert (
        f"--grid learning_rate={lr:.1e},{(lr * min_lr / 2) ** 0.5:.1e},{min_lr / 2:.1e}" in reason
    )
    flat_then_up = [1.0, 1.1, 1.5, 2.0, 4.0]
    assert suggest(lrs[:5], flat_then_up)[0] is None


def test_bad_ranges_are_refused(tiny_model_dir, tmp_path):
    with pytest.raises(ConfigError, match="start_lr < end_lr"):
        find_lr(config(tmp_path / "run"), train_data=conversations(), start_lr=1e-2, end_lr=1e-3)


def test_learning_rate_find_trains_at_the_rate_found_and_a_rerun_reuses_it(
    tiny_model_dir, tmp_path, monkeypatch
):
    from test_train import run

    import workbench.training.lr_finder as lr_finder
    from workbench.config import TrainConfig

    cfg = config(tmp_path / "run", learning_rate="find", max_steps=4, lr_scheduler="constant")
    result = run(cfg)
    assert result.status == "completed", result.message
    found = lr_finder.LRFinderResult.load(tmp_path / "run")
    assert found.suggestion and found.refined and found.found_for["learning_rate"] == "find"
    saved = TrainConfig.from_yaml(RunDir(tmp_path / "run").train_config_yaml)
    assert saved.learning_rate == found.suggestion  # the config saved is the rate trained at
    rates = [r["learning_rate"] for r in result.history if "learning_rate" in r]
    assert rates and all(r == pytest.approx(found.suggestion) for r in rates)
    assert RunDir(tmp_path / "run").lr_find_figure_html.is_file()

    def no_second_test(*args, **kwargs):
        raise AssertionError("the range test ran again")

    monkeypatch.setattr(lr_finder, "find_lr", no_second_test)
    again = run(cfg)  # same config: the saved finding, and the finished run is not redone
    assert again.status == "completed"
    with pytest.raises(AssertionError, match="ran again"):  # another config: a new range test
        run(cfg.replace(max_steps=6))


def test_learning_rate_find_is_a_word_or_a_number():
    from workbench.config import TrainConfig

    assert TrainConfig(learning_rate=" Find ").learning_rate == "find"
    assert TrainConfig(learning_rate="3e-4").learning_rate == pytest.approx(3e-4)
    with pytest.raises(ConfigError, match="learning_rate"):
        TrainConfig(learning_rate="fast")
    with pytest.raises(ConfigError, match="objective 'dpo'"):
        TrainConfig(learning_rate="find", objective="dpo")


def test_lr_find_cli_prints_the_refined_suggestion(tiny_model_dir, tmp_path, capsys):
    import json

    from workbench.cli import main

    data = tmp_path / "chat.jsonl"
    data.write_text("".join(json.dumps({"messages": c}) + "\n" for c in conversations(32)))
    params = tmp_path / "params.yaml"
    params.write_text(f"model: tiny-random\ndataset: {data}\nbatch_size: 4\nmax_length: 128\n")
    code = main(["lr-find", str(params), "--steps", "20", "--refine", "2", "--refine-steps", "2"])
    out = capsys.readouterr()
    assert code == 0, out.err
    rate = float(out.out.strip())
    assert f"Suggested {rate:.1e}" in out.err and "each trained 2 steps" in out.err
