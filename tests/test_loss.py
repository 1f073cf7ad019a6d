"""The chunked labelled-positions loss equals the model's own loss and gradients, without the logits."""

from __future__ import annotations

import pytest
import torch

from workbench.models import load_model
from workbench.training.loss import IGNORE, head_and_decoder, labelled_loss, model_loss


def _batch(vocab: int, *, rows: int = 3, length: int = 24, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (rows, length), generator=g)
    mask = torch.ones_like(ids)
    mask[1, -5:] = 0  # right padding on one row
    labels = ids.clone()
    labels[:, :10] = IGNORE  # the prompt: no loss
    labels[mask == 0] = IGNORE
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _grads(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def _both(model, batch, **kw):
    model.zero_grad()
    reference = model(**batch, **kw).loss
    reference.backward()
    ref_grads = _grads(model)
    model.zero_grad()
    ours = model_loss(model, batch, **({"num_items": kw["num_items_in_batch"]} if kw else {}))
    ours.backward()
    return reference, ours, ref_grads, _grads(model)


@pytest.mark.parametrize("technique", ["full", "lora"])
@pytest.mark.parametrize("num_items", [None, 37])
def test_loss_and_gradients_equal_the_models_own(tiny_model_dir, technique, num_items):
    from workbench.config import TrainConfig
    from workbench.techniques import get_technique

    torch.manual_seed(0)
    model, _ = load_model("tiny-random", technique=technique, dtype="float32", device="cpu")
    model = get_technique(technique).prepare(model, TrainConfig(model="tiny-random"))
    model.eval()  # no dropout: the two forwards must see the same network
    for (
        p
    ) in model.parameters():  # LoRA B starts at zero: move it so adapter gradients mean something
        if p.requires_grad:
            torch.nn.init.normal_(p, std=0.02) if p.dim() > 1 else None
    batch = _batch(model.config.vocab_size)
    kw = {"num_items_in_batch": torch.tensor(num_items)} if num_items else {}
    reference, ours, ref_grads, our_grads = _both(model, batch, **kw)
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-6)
    assert ref_grads.keys() == our_grads.keys() and ref_grads
    for name, grad in ref_grads.items():
        torch.testing.assert_close(our_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)


def test_chunks_do_not_change_the_result():
    torch.manual_seed(1)
    hidden = torch.randn(2, 30, 16, requires_grad=True)
    head = torch.nn.Linear(16, 50, bias=True)
    labels = torch.randint(0, 50, (2, 30))
    labels[0, :7] = IGNORE
    out = {}
    for chunk in (1, 7, 1000):
        hidden.grad, head.weight.grad, head.bias.grad = None, None, None
        loss = labelled_loss(hidden, head, labels, chunk=chunk)
        loss.backward()
        out[chunk] = (loss.detach(), hidden.grad.clone(), head.weight.grad.clone(), head.bias.grad)
    logits = head(hidden)[:, :-1]
    plain = torch.nn.functional.cross_entropy(logits.reshape(-1, 50), labels[:, 1:].reshape(-1))
    for loss, gh, gw, gb in out.values():
        torch.testing.assert_close(loss, plain.detach())
        torch.testing.assert_close(gh, out[1000][1])
        torch.testing.assert_close(gw, out[1000][2])
        torch.testing.assert_close(gb, out[1000][3])


def test_no_tensor_of_logits_size_is_kept_for_backward(tiny_model_dir):
    model, _ = load_model("tiny-random", technique="full", dtype="float32", device="cpu")
    batch = _batch(model.config.vocab_size, rows=4, length=64)
    full_logits = 4 * 64 * model.config.vocab_size

    def largest_saved(fn) -> int:
        sizes = []

        def pack(t):
            sizes.append(t.numel())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            fn()
        return max(sizes)

    assert largest_saved(lambda: model(**batch).loss) >= full_logits  # the check can fail
    assert largest_saved(lambda: model_loss(model, batch)) < full_logits


def test_heads_that_are_not_plain_keep_the_models_loss(tiny_model_dir):
    model, _ = load_model("tiny-random", technique="full", dtype="float32", device="cpu")
    assert head_and_decoder(model) is not None
    model.config.model_type = "gemma2"  # caps its logits: our sum would not be its loss
    assert head_and_decoder(model) is None
    assert model_loss(model, _batch(model.config.vocab_size)) is None


def test_the_forgetting_probes_perplexity_takes_the_same_path_and_value(tiny_model_dir):
    import math

    from workbench.comparison.generation import perplexity
    from workbench.templating import encode_chat

    model, tok = load_model("tiny-random", technique="full", dtype="float32", device="cpu")
    convs = [
        [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": "x " * i}]
        for i in range(1, 6)
    ]
    nll, count = 0.0, 0
    for c in convs:  # by hand, through the full logits, one conversation at a time
        e = encode_chat(tok, c, max_length=128)
        ids = torch.tensor([e.input_ids])
        labels = torch.tensor(
            [[t if m else IGNORE for t, m in zip(e.input_ids, e.labels_mask, strict=True)]]
        )
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0, :-1]
        target = labels[0, 1:]
        nll += float(torch.nn.functional.cross_entropy(logits, target, reduction="sum"))
        count += int((target != IGNORE).sum())
    expected = math.exp(nll / count)
    assert perplexity(model, tok, convs, batch_size=2) == pytest.approx(expected, rel=1e-5)
