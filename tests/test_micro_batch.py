"""A batch run as micro-batches trains exactly like the batch in one pass, with less memory at once."""

from __future__ import annotations

import pytest
from test_train import config, run

from workbench.config import TrainConfig
from workbench.errors import ConfigError
from workbench.estimation import estimator
from workbench.estimation.estimator import micro_batch_size


def _train_losses(result) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in result.history if r["kind"] == "train"}


@pytest.mark.slow  # two trainings
def test_micro_batches_give_the_same_losses_and_adapter(tiny_model_dir, tmp_path):
    import torch
    from safetensors.torch import load_file

    common = dict(max_steps=6, batch_size=4, log_every=1, eval_every=3, lora_dropout=0.0)
    whole = run(config(tmp_path / "whole", micro_batch_size=4, **common))
    split = run(config(tmp_path / "split", micro_batch_size=1, **common))
    assert whole.status == split.status == "completed"
    assert whole.tokens_seen == split.tokens_seen  # the same rows in every step
    a, b = _train_losses(whole), _train_losses(split)
    assert a.keys() == b.keys() and len(a) == 6
    for step in a:
        assert b[step] == pytest.approx(a[step], rel=1e-4), step
    ta = load_file(f"{whole.adapter_dir}/adapter_model.safetensors")
    tb = load_file(f"{split.adapter_dir}/adapter_model.safetensors")
    # Summing a batch in one piece or in four rounds differently, and Adam divides each gradient
    # by its own running size, so an element whose gradient is near zero can move by a visible
    # part of one step: 2.9e-5 for 1 of 4,096 elements with 2 threads (torch 2.13, transformers
    # 5.25; 0 with one thread). A twentieth of the learning rate allows that and still fails a
    # batch trained on other rows or other losses, which moves elements by whole steps (~lr).
    atol = config(tmp_path, **common).learning_rate / 20
    for key in ta:
        torch.testing.assert_close(tb[key], ta[key], rtol=1e-3, atol=atol)


def test_the_cpu_choice_is_the_largest_divisor_within_the_budget(tiny_model_dir, monkeypatch):
    cfg = TrainConfig(model="tiny-random", batch_size=12, max_length=256)
    one = micro_batch_size(cfg, device="cpu")
    assert one == 12  # a tiny model fits whole
    monkeypatch.setattr(estimator, "CPU_ACTIVATION_BUDGET", 0)
    assert micro_batch_size(cfg, device="cpu") == 1  # nothing fits: one row at a time
    monkeypatch.setattr(estimator, "CPU_ACTIVATION_BUDGET", 1e30)
    assert micro_batch_size(cfg, device="cpu") == 12
    per_row = _per_row(cfg)
    monkeypatch.setattr(estimator, "CPU_ACTIVATION_BUDGET", per_row * 5.5)
    assert micro_batch_size(cfg, device="cpu") == 4  # 6 would not fit, 5 does not divide 12
    assert micro_batch_size(cfg, device="cuda") == 12  # a GPU runs the whole batch
    assert micro_batch_size(cfg.replace(micro_batch_size=3), device="cpu") == 3


def _per_row(cfg) -> float:
    """One row's bytes, found from the function itself: the smallest budget at which 2 rows fit,
    halved (bisection; the choice only grows with the budget)."""
    lo, hi = 0.0, 1e13
    for _ in range(200):
        mid = (lo + hi) / 2
        estimator.CPU_ACTIVATION_BUDGET = mid
        lo, hi = (lo, mid) if micro_batch_size(cfg, device="cpu") >= 2 else (mid, hi)
    return hi / 2


def test_the_default_model_demo_batch_is_split_on_a_cpu():
    cfg = TrainConfig(batch_size=8, max_length=384)  # the demo's shape on SmolLM2-135M
    assert micro_batch_size(cfg, device="cpu") < 8


def test_a_micro_batch_that_does_not_fit_the_batch_is_refused():
    with pytest.raises(ConfigError, match="micro_batch_size must be between 1 and batch_size"):
        TrainConfig(batch_size=4, micro_batch_size=8)
