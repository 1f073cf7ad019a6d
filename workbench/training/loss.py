"""The language-model loss without the full logits: the head runs only where a label is, in chunks.

A causal LM's head turns every position's hidden state into a vocabulary-wide row of logits
(SmolLM2: 49,152 floats), and the usual loss keeps them all, with their softmax and gradient,
for every position of every row: batch 8 x 384 tokens is 604 MB per fp32 copy. Only positions
that carry a label (the answer tokens, with the assistant-only mask) add to the loss, and their
logits are needed only long enough to reduce them to a number and, in backward, to a gradient.

`labelled_loss` therefore gathers the hidden states of labelled positions and runs head plus
cross-entropy over them in chunks of `CHUNK` rows; backward recomputes each chunk's logits
instead of keeping them (about one extra head matmul over the labelled positions). Peak memory
for the loss is one chunk's logits, whatever the batch, sequence length or vocabulary. The sum
is the one the model's own loss computes, so loss and gradients match it to float rounding.
"""

from __future__ import annotations

from typing import Any

IGNORE = -100  # label value the loss skips (as in transformers)
CHUNK = 1024  # labelled positions per head matmul: 1024 x 49,152 fp32 logits = 201 MB
# architectures whose forward is `lm_head(decoder(...))` with nothing applied to the logits
PLAIN_HEAD = frozenset({"llama", "mistral", "qwen2", "qwen3"})


def head_and_decoder(model: Any) -> tuple[Any, Any] | None:
    """(decoder, lm_head) of a causal LM (peft-wrapped or not), or None where this loss would not
    be the model's own: an architecture not known to apply its head plainly (Gemma 2 caps logits,
    Granite scales them), or a head that is not a plain linear layer (an adapter, 4-bit)."""
    import torch

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    if getattr(base.config, "model_type", None) not in PLAIN_HEAD:
        return None
    head = base.get_output_embeddings()
    if type(head) is not torch.nn.Linear:
        return None
    return base.get_decoder(), head


def labelled_loss(
    hidden: Any, head: Any, labels: Any, *, num_items: Any = None, chunk: int = CHUNK
) -> Any:
    """Cross-entropy of next-token predictions at labelled positions.

    hidden: [batch, seq, dim] decoder output; labels: [batch, seq] with IGNORE where no loss.
    Returns sum / num_items when num_items is given (the Trainer's count over the accumulated
    batch), else the mean over labelled positions, exactly as transformers' causal-LM loss.
    """
    import torch

    targets = labels[:, 1:]
    keep = targets != IGNORE
    picked = hidden[:, :-1][keep]  # [n, dim]: only positions that predict a labelled token
    total = _ChunkedHeadLoss.apply(picked, head.weight, head.bias, targets[keep], chunk)
    if num_items is None:
        return total / keep.sum().clamp(min=1)
    if torch.is_tensor(num_items):
        num_items = num_items.to(total.device)
    return total / num_items


class HeadGrads:
    """Gradients of a linear head (hidden, weight, bias), accumulated chunk by chunk from blocks of
    d(loss)/d(logits): the backward shared by the chunked cross-entropy here and the KL in kl.py."""

    def __init__(self, hidden: Any, weight: Any, bias: Any, needs: Any):
        import torch

        need_h, need_w, need_b = needs
        self.hidden, self.weight, self.bias = hidden, weight, bias
        self.h = torch.empty_like(hidden) if need_h else None
        self.w = torch.zeros_like(weight, dtype=torch.float32) if need_w else None
        self.b = torch.zeros_like(bias, dtype=torch.float32) if need_b else None

    def add(self, rows: slice, grad: Any) -> None:
        if self.h is not None:
            self.h[rows] = (grad.to(self.weight.dtype) @ self.weight).to(self.hidden.dtype)
        if self.w is not None:
            self.w += grad.t() @ self.hidden[rows].float()
        if self.b is not None:
            self.b += grad.sum(0)

    def result(self) -> tuple[Any, Any, Any]:
        w = None if self.w is None else self.w.to(self.weight.dtype)
        b = None if self.b is None else self.b.to(self.bias.dtype)
        return self.h, w, b


class _ChunkedHeadLoss:
    """Sum of cross-entropy over rows of `hidden @ weight.T (+ bias)`, chunk by chunk.

    Defined lazily as a torch.autograd.Function (see `apply`) so importing this module stays light.
    """

    _fn = None

    @classmethod
    def apply(cls, *args: Any) -> Any:
        if cls._fn is None:
            cls._fn = _build_function()
        return cls._fn.apply(*args)


def _build_function() -> Any:
    import torch
    import torch.nn.functional as F

    class ChunkedHeadLoss(torch.autograd.Function):
        @staticmethod
        def forward(ctx, hidden, weight, bias, targets, chunk):  # noqa: ANN001
            total = torch.zeros((), dtype=torch.float32, device=hidden.device)
            for start in range(0, hidden.shape[0], chunk):
                logits = F.linear(hidden[start : start + chunk], weight, bias).float()
                total += F.cross_entropy(logits, targets[start : start + chunk], reduction="sum")
            ctx.save_for_backward(hidden, weight, bias, targets)
            ctx.chunk = chunk
            return total

        @staticmethod
        def backward(ctx, grad_total):  # noqa: ANN001
            hidden, weight, bias, targets = ctx.saved_tensors
            grads = HeadGrads(hidden, weight, bias, ctx.needs_input_grad[:3])
            for start in range(0, hidden.shape[0], ctx.chunk):
                rows = slice(start, start + ctx.chunk)
                logits = F.linear(hidden[rows], weight, bias).float()
                # d(sum CE)/d(logits) = softmax - one_hot(target), computed in place
                grad = torch.softmax(logits, dim=-1)
                del logits
                grad[torch.arange(grad.shape[0], device=grad.device), targets[rows]] -= 1.0
                grads.add(rows, grad.mul_(grad_total))
            return *grads.result(), None, None

    return ChunkedHeadLoss


def model_loss(model: Any, inputs: dict[str, Any], *, num_items: Any = None) -> Any | None:
    """The causal-LM loss of `inputs` (with `labels`) through the chunked head, or None when the
    model's shape does not allow it (the caller then uses the model's own loss)."""
    parts = head_and_decoder(model)
    if parts is None or "labels" not in inputs:
        return None
    decoder, head = parts
    rest = {k: v for k, v in inputs.items() if k != "labels"}
    hidden = decoder(**rest, use_cache=False).last_hidden_state
    return labelled_loss(hidden, head, inputs["labels"], num_items=num_items)
