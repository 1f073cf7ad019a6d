"""LR range test on the tiny model: a curve on real batches, a suggestion with its reason, weights restored."""

from __future__ import annotations

import math

import pytest
import torch
from test_train import config, conversations

from workbench.errors import ConfigError
from workbench.rundir import RunDir
from workbench.training.batching import load_splits
from workbench.training.engine import _build
from workbench.training.lr_finder import find_lr, lr_range_test, suggest


def test_range_test_restores_the_weights_and_the_optimizer_state(tiny_model_dir, tmp_path):
    cfg = config(tmp_path / "run")
    splits = load_splits(cfg, conversations(), conversations(8, offset=100))
    trainer, _, _ = _build(cfg, RunDir(tmp_path / "run"), splits, None)
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
    result = find_lr(cfg, train_data=conversations(), start_lr=1e-5, end_lr=1.0, num_steps=25)
    assert all(math.isfinite(v) for v in result.losses[:-1])
    assert result.suggestion is not None, result.reason
    assert 1e-5 <= result.suggestion <= (result.min_loss_lr or 1.0)
    assert "falls fastest" in result.reason and f"{result.suggestion:.1e}" in result.reason
    assert not (tmp_path / "run").exists()  # nothing written into the run directory
    assert result.figure().data[0].x[0] == pytest.approx(1e-5)


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
