"""The estimate knows DPO: two sequences per pair (memory), a reference forward (time), both sides' tokens."""

from __future__ import annotations

import pytest

from workbench.config import TrainConfig
from workbench.estimation.estimator import dataset_tokens, estimate


def test_dpo_doubles_activations_and_costs_a_reference_forward():
    # on a GPU the whole batch is one forward (a CPU may split it into micro-batches)
    sft = estimate(TrainConfig(max_length=256, batch_size=4), hardware="a100-80gb")
    dpo = estimate(TrainConfig(max_length=256, batch_size=4, objective="dpo"), hardware="a100-80gb")
    assert dpo.breakdown["activations"] == pytest.approx(2 * sft.breakdown["activations"])
    assert dpo.breakdown["weights"] == sft.breakdown["weights"]  # no second model in memory
    assert dpo.peak_bytes > sft.peak_bytes
    # LoRA ~4N per token; DPO adds a 2N reference forward: about 1.5x the time per token
    assert sft.tokens_per_s / dpo.tokens_per_s == pytest.approx(1.5, rel=0.1)
    assert any("reference forward" in note for note in dpo.notes)


def test_pair_tokens_count_both_sides_with_their_prompt():
    pairs = dataset_tokens("support-tone-pairs", max_length=512)
    chats = dataset_tokens("support-tone", max_length=512)  # the same prompts and chosen replies
    assert 1.5 * chats < pairs < 2 * chats  # rejected replies are shorter on average
