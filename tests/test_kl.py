"""KL to base: the chunked term equals the plain one, starts at zero, trains only the adapter, holds
the tuned model near its base, is logged, and is refused where there is no adapter to switch off."""

from __future__ import annotations

import pytest
import torch
from test_train import config, conversations

from workbench.config import TrainConfig
from workbench.errors import ConfigError
from workbench.models import load_model
from workbench.techniques import get_technique
from workbench.training.engine import train
from workbench.training.events import Callback, read_jsonl
from workbench.training.kl import chunked_kl, kl_sum_of_logits, loss_and_kl
from workbench.training.loss import IGNORE


def _batch(vocab: int, *, rows: int = 3, length: int = 24, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (rows, length), generator=g)
    mask = torch.ones_like(ids)
    mask[1, -5:] = 0
    labels = ids.clone()
    labels[:, :10] = IGNORE
    labels[mask == 0] = IGNORE
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _lora(tiny_model_dir, *, moved: bool):
    torch.manual_seed(0)
    model, _ = load_model("tiny-random", technique="lora", dtype="float32", device="cpu")
    model = get_technique("lora").prepare(model, TrainConfig(model="tiny-random"))
    model.eval()  # no dropout: the tuned and base forwards differ only by the adapter
    if moved:  # LoRA B starts at zero (tuned == base); move it as training would
        for name, p in model.named_parameters():
            if "lora_B" in name:
                torch.nn.init.normal_(p, std=0.05)
    return model


@pytest.mark.parametrize("chunk", [1, 5, 1000])
def test_chunked_kl_equals_the_plain_autograd_kl(chunk):
    torch.manual_seed(3)
    hidden = torch.randn(17, 8, requires_grad=True)
    base = torch.randn(17, 8, requires_grad=True)
    head = torch.nn.Linear(8, 40, bias=True)
    ours = chunked_kl(hidden, base, head.weight, head.bias, chunk=chunk)
    ours.backward()
    got = (hidden.grad.clone(), head.weight.grad.clone(), head.bias.grad.clone())
    assert base.grad is None  # the base side is a fixed target
    hidden.grad = head.weight.grad = head.bias.grad = None
    plain = kl_sum_of_logits(head(hidden), head(base).detach())
    plain.backward()
    torch.testing.assert_close(ours, plain.detach())
    for mine, ref in zip(got, (hidden.grad, head.weight.grad, head.bias.grad), strict=True):
        torch.testing.assert_close(mine, ref, rtol=1e-4, atol=1e-6)
    assert float(ours.detach()) > 0


def test_kl_is_zero_for_a_fresh_lora(tiny_model_dir):
    model = _lora(tiny_model_dir, moved=False)
    terms = loss_and_kl(model, _batch(model.config.vocab_size))
    assert abs(float(terms.kl)) < 1e-6 and int(terms.tokens) > 0
    moved = _lora(tiny_model_dir, moved=True)
    assert float(loss_and_kl(moved, _batch(moved.config.vocab_size)).kl) > 1e-4


@pytest.mark.parametrize("num_items", [None, 37])
def test_chunked_path_matches_full_logits_and_grads_reach_only_the_adapter(
    tiny_model_dir, num_items
):
    model = _lora(tiny_model_dir, moved=True)
    batch = _batch(model.config.vocab_size)
    n = torch.tensor(num_items) if num_items else None
    results = {}
    for chunked in (True, False):
        model.zero_grad()
        terms = loss_and_kl(model, batch, num_items=n, chunked=chunked)
        terms.kl.backward()  # the regulariser alone
        grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
        results[chunked] = (terms.task.detach(), terms.kl.detach(), grads)
    (task_c, kl_c, grads_c), (task_f, kl_f, grads_f) = results[True], results[False]
    torch.testing.assert_close(task_c, task_f, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(kl_c, kl_f, rtol=1e-4, atol=1e-7)
    assert grads_c and grads_c.keys() == grads_f.keys()
    assert all("lora_" in name for name in grads_c), sorted(grads_c)
    assert any(float(g.abs().sum()) > 0 for g in grads_c.values())
    for name, grad in grads_c.items():
        torch.testing.assert_close(grad, grads_f[name], rtol=1e-3, atol=1e-7, msg=name)
    frozen = [p for name, p in model.named_parameters() if "lora_" not in name]
    assert frozen and all(p.grad is None for p in frozen)


@pytest.mark.parametrize("chunked", [True, False])
def test_kl_on_replay_holds_the_marked_rows_by_kl_and_the_others_by_their_loss(
    tiny_model_dir, chunked
):
    model = _lora(tiny_model_dir, moved=True)
    batch = _batch(model.config.vocab_size)
    labelled = int((batch["labels"][:, 1:] != IGNORE).sum())
    whole = loss_and_kl(model, batch, chunked=chunked)
    mask = torch.zeros_like(batch["input_ids"], dtype=torch.bool)
    mask[2] = True  # the third row is a replay row
    part = loss_and_kl(model, batch, chunked=chunked, kl_mask=mask)
    task_rows = loss_and_kl(model, {k: v[:2] for k, v in batch.items()}, chunked=chunked)
    replay_row = loss_and_kl(model, {k: v[2:] for k, v in batch.items()}, chunked=chunked)
    # the KL: the replay row's alone; the task loss: the other rows' alone; both per labelled
    # token of the whole batch, so the two terms add up as one loss over the batch
    torch.testing.assert_close(part.kl_sum, replay_row.kl_sum, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(part.kl, part.kl_sum / labelled)
    n_task = int(task_rows.tokens)
    torch.testing.assert_close(part.task * labelled, task_rows.task * n_task, rtol=1e-5, atol=1e-6)
    assert int(part.tokens) == int(replay_row.tokens) < int(whole.tokens)
    assert 0 < float(part.kl_sum) < float(whole.kl_sum)
    none = loss_and_kl(model, batch, chunked=chunked, kl_mask=torch.zeros_like(mask))
    assert float(none.kl) == 0.0 and int(none.tokens) == 0
    torch.testing.assert_close(none.task, whole.task)  # no replay row: the plain task loss
    everything = loss_and_kl(model, batch, chunked=chunked, kl_mask=torch.ones_like(mask))
    assert float(everything.task) == 0.0  # all replay: no task token, KL only
    torch.testing.assert_close(everything.kl_sum, whole.kl_sum, rtol=1e-4, atol=1e-7)
    (part.task + part.kl).backward()


class KeepModel(Callback):
    def on_train_end(self, state) -> None:
        self.model = state.model


def _held_kl(model, tokenizer) -> float:
    """Mean KL(tuned || base) per assistant token on general prompts training never saw."""
    from workbench.data.dataset import load_dataset
    from workbench.training.batching import Collator, encode_dataset

    probe = load_dataset("general-probe", split="eval").conversations[:24]
    items, _ = encode_dataset(tokenizer, probe, max_length=128)
    rows = [{"input_ids": i.input_ids, "labels": i.labels} for i in items]
    batch = Collator(pad_token_id=tokenizer.pad_token_id)(rows)
    batch.pop("real_tokens")
    model.eval()
    with torch.no_grad():
        return float(loss_and_kl(model, batch).kl)


@pytest.mark.slow  # two trainings
def test_a_large_beta_keeps_the_tuned_model_closer_to_base(tiny_model_dir, tmp_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    held, eval_loss_at_start = {}, {}
    for beta in (0.0, 50.0):  # large: the tiny model's task loss (~6 nats) dominates a small beta
        keep = KeepModel()
        cfg = config(tmp_path / f"beta{beta}", kl_to_base=beta, max_steps=12, learning_rate=5e-3)
        result = train(
            cfg,
            train_data=conversations(),
            eval_data=conversations(8, offset=100),
            callbacks=[keep],
        )
        assert result.status == "completed", result.message
        held[beta] = _held_kl(keep.model, tokenizer)
        records = read_jsonl(tmp_path / f"beta{beta}" / "metrics.jsonl")
        evals = [r for r in records if r["kind"] == "eval"]
        eval_loss_at_start[beta] = evals[0]["eval_loss"]
        kls = [r["kl_to_base"] for r in records if r["kind"] == "train" and "kl_to_base" in r]
        if beta:
            assert len(kls) == 12 // cfg.log_every and all(k > 0 for k in kls)
            assert any("kl_to_base" in r for r in result.history)
            assert all("kl_to_base" not in r for r in evals)  # eval is the task loss alone
        else:
            assert kls == []
    assert held[0.0] > 0
    assert held[50.0] < 0.5 * held[0.0], held
    # the same model before any step: the eval loss is the task's, with or without the term
    assert eval_loss_at_start[50.0] == pytest.approx(eval_loss_at_start[0.0], rel=1e-6)


@pytest.mark.parametrize("technique", ["full", "freeze"])
def test_techniques_without_an_adapter_refuse_kl_to_base(technique):
    with pytest.raises(ConfigError, match="adapter") as err:
        TrainConfig(technique=technique, kl_to_base=0.1)
    assert "kl_to_base=0" in str(err.value) and "replay" in str(err.value)
    TrainConfig(technique=technique)  # off: fine
    TrainConfig(technique="lora", kl_to_base=0.1)


@pytest.mark.parametrize(
    "over, words",
    [
        ({"kl_to_base": -0.1}, ">= 0"),
        ({"kl_to_base": 0.1, "objective": "dpo"}, "objective='sft'"),
        ({"kl_to_base": 0.1, "kl_on": "task"}, "kl_on must be one of"),
        ({"kl_to_base": 0.1, "kl_on": "replay"}, "needs kl_to_base > 0 .* and `replay` data"),
        (
            {"kl_on": "replay", "replay": "general-replay", "replay_share": 0.2},
            r"needs kl_to_base > 0 \(got 0.0\)",
        ),
    ],
)
def test_kl_to_base_values_are_checked(over, words):
    with pytest.raises(ConfigError, match=words):
        TrainConfig(**over)
    TrainConfig(kl_to_base=0.1, kl_on="replay", replay="general-replay", replay_share=0.2)
