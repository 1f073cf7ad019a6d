"""The KL-to-base regulariser: how far the tuned model's next-token distribution moved from the base.

`TrainConfig.kl_to_base` (beta) adds beta * KL(tuned || base) to the loss, normalised like the task
loss (per labelled token of the batch). `kl_on="all"` sums it over every labelled token;
`kl_on="replay"` over the replay rows' only (a `kl_mask` from the collator), and their tokens leave
the task loss: the task's answers train on cross-entropy alone and the replay rows on the KL
alone, held to the base's whole next-token distribution instead of copying its one greedy answer
(as in learning without forgetting). The base distribution comes from the very model being
trained with its adapter switched off (`disable_adapter()`, under no_grad), so no second copy of
the weights is held; the cost is one extra forward without gradients per micro-batch (with
`kl_on="replay"`, over its replay rows only).

As in loss.py, logits exist only at labelled positions and one chunk at a time: the tuned and
base hidden states are gathered there, and head + log-softmax + KL run over `CHUNK` rows, with
backward recomputing each chunk instead of keeping it. Peak memory is a few chunk-sized logit
blocks, whatever the vocabulary or batch.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from .loss import IGNORE, HeadGrads, head_and_decoder, labelled_loss

CHUNK = 512  # labelled positions per block: ~4 blocks of 512 x 49,152 fp32 live at once (400 MB)


@contextmanager
def base_model(model: Any) -> Any:
    """`model` with its adapter switched off and no gradients: the base the KL is measured against."""
    import torch

    inner = getattr(model, "module", model)  # under DDP the adapter lives on the wrapped module
    if not hasattr(inner, "disable_adapter"):
        raise ConfigError(
            "TrainConfig.kl_to_base needs an adapter to switch off (a peft model), got "
            f"{type(inner).__name__}; use an adapter technique (lora, qlora, dora) or kl_to_base=0."
        )
    with torch.no_grad(), inner.disable_adapter():
        yield inner


@dataclass
class KLTerms:
    """One micro-batch's terms: `task` and `kl` are normalised alike (the Trainer's `num_items`,
    else the labelled-token count); `kl_sum` and `tokens` (tensors) are what the log averages."""

    task: Any
    kl: Any
    kl_sum: Any
    tokens: Any


def loss_and_kl(
    model: Any,
    inputs: dict[str, Any],
    *,
    num_items: Any = None,
    chunked: bool = True,
    kl_mask: Any = None,
) -> KLTerms:
    """The task loss and KL(tuned || base) over the labelled tokens of `inputs`; with `kl_mask`,
    the KL over the marked tokens (the replay rows') and the task loss over the others: a replay
    row is then held to the base's whole distribution instead of copying its one greedy answer.

    The chunked path (loss.py) when `chunked` and the model's shape allow it; otherwise the
    model's own forward and full logits, picked at labelled positions (more memory, same
    numbers). Under DDP pass chunked=False: the forward must go through the wrapper. With
    `kl_mask` the base forward runs on the marked rows only; a batch with none skips it, and its
    KL is an exact zero. Without it nothing here waits on the device.
    """
    labels = inputs["labels"]
    keep = labels[:, 1:] != IGNORE
    labelled = keep.sum()
    if kl_mask is not None:
        kl_mask = kl_mask.to(labels.device)
        keep = keep & kl_mask[:, 1:]
        labels = labels.masked_fill(kl_mask, IGNORE)  # the task loss: the other rows' tokens
    # both terms per labelled token of the batch (the Trainer's count over accumulated batches)
    norm = labelled.clamp(min=1) if num_items is None else num_items
    rest = {k: v for k, v in inputs.items() if k != "labels"}
    base_in, base_keep, measured = rest, keep, True
    if kl_mask is not None:  # the base sees the marked rows only (one device sync to find them)
        rows = keep.any(dim=1)
        measured = bool(rows.any())
        # indexing by `keep` flattens row-major, so the kept positions line up with the tuned
        # model's over the whole batch
        base_in, base_keep = {k: v[rows] for k, v in rest.items()}, keep[rows]
    parts = head_and_decoder(model) if chunked else None
    if parts is not None:
        decoder, head = parts
        if measured:
            with base_model(model):
                base = decoder(**base_in, use_cache=False).last_hidden_state[:, :-1][base_keep]
        hidden = decoder(**rest, use_cache=False).last_hidden_state
        task = labelled_loss(hidden, head, labels, num_items=norm)
        kl_sum = (
            chunked_kl(hidden[:, :-1][keep], base, head.weight, head.bias)
            if measured
            else hidden.new_zeros(()).float()
        )
    else:
        if measured:
            with base_model(model) as inner:
                base = inner(**base_in, use_cache=False).logits[:, :-1][base_keep]
        out = model(**rest, use_cache=False)
        task = _sum_loss(out.logits, labels) / _to(norm, out.logits)
        kl_sum = (
            kl_sum_of_logits(out.logits[:, :-1][keep], base)
            if measured
            else out.logits.new_zeros(()).float()
        )
    tokens = keep.sum()
    return KLTerms(task, kl_sum / _to(norm, kl_sum), kl_sum.detach(), tokens)


def _to(norm: Any, like: Any) -> Any:
    import torch

    return norm.to(like.device) if torch.is_tensor(norm) else norm


def _sum_loss(logits: Any, labels: Any) -> Any:
    import torch.nn.functional as F

    return F.cross_entropy(
        logits[:, :-1].flatten(0, 1).float(),
        labels[:, 1:].flatten(),
        ignore_index=IGNORE,
        reduction="sum",
    )


def kl_sum_of_logits(tuned: Any, base: Any) -> Any:
    """Sum over rows of KL(softmax(tuned) || softmax(base)): the plain autograd reference."""
    import torch

    log_p = torch.log_softmax(tuned.float(), dim=-1)
    log_q = torch.log_softmax(base.float(), dim=-1)
    return (log_p.exp() * (log_p - log_q)).sum()


def chunked_kl(hidden: Any, base_hidden: Any, weight: Any, bias: Any, *, chunk: int = CHUNK) -> Any:
    """Sum of KL(tuned || base) over rows, logits = h @ weight.T (+ bias); gradients reach `hidden`
    (and `weight`/`bias` when they train), never `base_hidden`."""
    return _ChunkedKL.apply(hidden, base_hidden.detach(), weight, bias, chunk)


class _ChunkedKL:
    """Built lazily as a torch.autograd.Function so importing this module stays light."""

    _fn = None

    @classmethod
    def apply(cls, *args: Any) -> Any:
        if cls._fn is None:
            cls._fn = _build_function()
        return cls._fn.apply(*args)


def _log_probs(hidden: Any, weight: Any, bias: Any) -> Any:
    import torch
    import torch.nn.functional as F

    return torch.log_softmax(F.linear(hidden, weight, bias).float(), dim=-1)


def _block(h: Any, hb: Any, weight: Any, bias: Any) -> tuple[Any, Any, Any]:
    """(p, log p - log q, per-row KL) of one chunk; in place where it can be, to keep peak low."""
    log_p = _log_probs(h, weight, bias)
    diff = _log_probs(hb, weight, bias).neg_().add_(log_p)  # log p - log q
    p = log_p.exp_()
    row_kl = (p.unsqueeze(1) @ diff.unsqueeze(2)).squeeze(2)  # [n, 1] without a [n, V] product
    return p, diff, row_kl


def _build_function() -> Any:
    import torch

    class ChunkedKL(torch.autograd.Function):
        @staticmethod
        def forward(ctx, hidden, base_hidden, weight, bias, chunk):  # noqa: ANN001
            total = torch.zeros((), dtype=torch.float32, device=hidden.device)
            for start in range(0, hidden.shape[0], chunk):
                rows = slice(start, start + chunk)
                total += _block(hidden[rows], base_hidden[rows], weight, bias)[2].sum()
            ctx.save_for_backward(hidden, base_hidden, weight, bias)
            ctx.chunk = chunk
            return total

        @staticmethod
        def backward(ctx, grad_total):  # noqa: ANN001
            hidden, base_hidden, weight, bias = ctx.saved_tensors
            needs = ctx.needs_input_grad
            grads = HeadGrads(hidden, weight, bias, (needs[0], needs[2], needs[3]))
            for start in range(0, hidden.shape[0], ctx.chunk):
                rows = slice(start, start + ctx.chunk)
                p, diff, row_kl = _block(hidden[rows], base_hidden[rows], weight, bias)
                # d KL / d logits = p * (log p - log q - KL_row), in place over `diff`
                grads.add(rows, diff.sub_(row_kl).mul_(p).mul_(grad_total))
                del p
            grad_h, grad_w, grad_b = grads.result()
            return grad_h, None, grad_w, grad_b, None

    return ChunkedKL
