"""Memory formulas for fine-tuning a decoder transformer: bytes per component, with their sources.

Notation: N parameters, N_t trainable, b micro-batch, s sequence length, h hidden size,
i MLP intermediate size, v vocabulary, L layers, e bytes per activation element.

Sources:
- Static memory per parameter: Hugging Face "Model training anatomy" (transformers docs,
  model_memory_anatomy.md): weights 4 B (fp32) or 2 B (16-bit), gradients the weights' size,
  AdamW 2 states (8 B/param in fp32; 2 B with bitsandbytes 8-bit AdamW); ZeRO (Rajbhandari et al.
  2020) for the same accounting. Pure fp32 AdamW = 4 + 4 + 8 = 16 B/param.
- LoRA: Hu et al. 2021 (arXiv:2106.09685): an adapted W (d_out x d_in) adds r(d_in + d_out)
  parameters; peft keeps adapters in fp32 (`autocast_adapter_dtype=True`), so 16 B per adapter
  parameter with AdamW.
- QLoRA: Dettmers et al. 2023 (arXiv:2305.14314): NF4 = 4 bits/param plus 0.127 bits of
  double-quantised block constants; peft's `prepare_model_for_kbit_training` casts the remaining
  (embedding, head, norm) parameters to fp32.
- Activations: Korthikanti et al. 2022 (arXiv:2205.05198) count what each op of a GPT layer saves
  for backward (34·s·b·h bytes/layer for 16-bit GPT with dropout, plus 5·a·s²·b without fused
  attention). The Llama-family layer here has no dropout, RMSNorm, SwiGLU and SDPA (no s² term),
  so the count below is our own adaptation of that method, tensor by tensor (see
  `layer_activation_elems`), checked against `torch.autograd.graph.saved_tensors_hooks` on
  SmolLM2-135M: full 11,207 elements/token/layer counted by the hooks vs 11,196 from the formula,
  LoRA without dropout 10,109 vs 10,003 (transformers 5.24, peft 0.21, torch 2.13, CPU);
  tests/test_estimate.py repeats the check on the tiny model.
- CPU only: freed LoRA (and 4-bit dequantisation) temporaries that the process keeps resident
  (`cpu_adapter_temporaries_bytes`), an empirical term fitted to one probe shape of SmolLM2-135M
  and checked at two others (see its docstring); the probe re-checks it.
- Logits: Korthikanti et al. §4.3 note the output layer's b·s·v logits dominate for large
  vocabularies; the loss keeps fp32 log-probabilities, and backward holds their gradient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .presets import Architecture

# Optimizer state bytes per trainable parameter, as a function of the parameter's own bytes.
OPTIMIZERS = {
    "adamw": lambda p: 2 * p,  # exp_avg + exp_avg_sq in the parameter's dtype (torch.optim.AdamW)
    "adamw_8bit": lambda p: 2.0,  # bitsandbytes 8-bit AdamW: two 1-byte states
    "paged_adamw_8bit": lambda p: 2.0,
    "sgd": lambda p: 0.0,
    "sgd_momentum": lambda p: 1 * p,
}

ATTN_IN, O_IN, MLP_IN, DOWN_IN = (
    ("q_proj", "k_proj", "v_proj"),
    ("o_proj",),
    ("gate_proj", "up_proj"),
    ("down_proj",),
)


@dataclass(frozen=True)
class Training:
    """What a technique trains, in the terms the formulas need."""

    trains_base: bool  # base Linear weights and norms get gradients (full, freeze)
    adapted: tuple[str, ...]  # Linear names with LoRA adapters
    lora_r: int = 0
    dropout: bool = False  # LoRA dropout > 0: each adapter saves its own dropped input and mask
    dora: bool = False
    grad_layers: int = 0  # decoder layers that gradients flow through


def layer_activation_elems(arch: Architecture, t: Training) -> float:
    """Activation elements one decoder layer saves for backward, per token.

    Saved whatever is trained (gradients must flow through): the two RMSNorm inputs (2h), the
    rotated q and SDPA's output, which is also o_proj's input (2 * heads * head_dim), rotated k and
    v (2 * kv_heads * head_dim), and the SwiGLU's gate output, SiLU output and up output (3i).
    Saved only when a weight there trains: each Linear group's shared input (q/k/v: h,
    gate/up: h, down: i; o's input is already counted), and the normalised hidden state of each
    norm whose weight trains (2h). LoRA adds its A output (r per adapter); with dropout each
    adapter stores its own dropped copy plus the mask (2 * d_in) instead of sharing the input.
    DoRA also keeps the base output and the adapter output of each layer (2 * d_out; approximate).
    """
    h, i = arch.hidden, arch.intermediate
    q_dim, kv_dim = arch.heads * arch.dim_head, arch.kv_heads * arch.dim_head
    elems = 2 * h + 2 * q_dim + 2 * kv_dim + 3 * i
    d_in = {
        "q_proj": h,
        "k_proj": h,
        "v_proj": h,
        "o_proj": q_dim,
        "gate_proj": h,
        "up_proj": h,
        "down_proj": i,
    }
    for group in (ATTN_IN, O_IN, MLP_IN, DOWN_IN):
        adapted = [m for m in group if m in t.adapted]
        if t.dropout and adapted:
            elems += 2 * sum(d_in[m] for m in adapted)
            shared = t.trains_base
        else:
            shared = t.trains_base or bool(adapted)
        if shared and group is not O_IN:
            elems += d_in[group[0]]
    if t.trains_base:
        elems += 2 * h
    linears = arch.layer_linears()
    elems += t.lora_r * len(t.adapted)
    if t.dora:
        elems += 2 * sum(linears[m][1] for m in t.adapted)
    return elems


def activation_bytes(
    arch: Architecture, t: Training, *, tokens: int, act_bytes: int, checkpointing: bool
) -> float:
    """Activations kept between forward and backward for `tokens` = batch * seq_len tokens.

    With gradient checkpointing only each layer's input (h) stays, plus one layer's full working
    set while it is recomputed during backward (Korthikanti et al., "full recomputation").
    """
    per_layer = layer_activation_elems(arch, t)
    if checkpointing:
        kept = t.grad_layers * arch.hidden + per_layer
    else:
        kept = t.grad_layers * per_layer
    # The final norm saves its input; when it and the head train, also its normalised output and
    # the head's input.
    kept += arch.hidden * (3 if t.trains_base else 1)
    return kept * tokens * act_bytes


def logits_bytes(
    arch: Architecture,
    *,
    tokens: int,
    act_bytes: int,
    loss_chunks: int = 1,
    full_logits: bool = False,
    chunk_rows: int = 1024,
) -> float:
    """Logits-sized tensors alive at the peak (start of backward).

    The workbench's loss (training/loss.py) runs the head only at labelled positions, `chunk_rows`
    at a time, recomputing in backward: one chunk's fp32 logits and their softmax/gradient, plus
    the gathered hidden states (at most every position labelled).
    `full_logits` is transformers' own loss over every position: the logits, the fp32
    log-probabilities the loss saves, and their gradient (16-bit logits are upcast to fp32 first).
    A loss in chunks of the sequence (`loss_chunks` > 1, torchtune's CEWithChunkedOutputLoss under
    torch.compile) keeps the logits in the training dtype and upcasts one chunk at a time.
    """
    if loss_chunks > 1:
        return tokens * arch.vocab * act_bytes + tokens / loss_chunks * arch.vocab * (4 + 4)
    if full_logits:
        return tokens * arch.vocab * (act_bytes + 4 + 4)
    return min(tokens, chunk_rows) * arch.vocab * (4 + 4) + tokens * arch.hidden * act_bytes


def static_bytes(
    arch: Architecture,
    t: Training,
    *,
    n_trainable: int,
    weight_bits: float | None,
    param_bytes: int,
    optimizer: str,
    pure_16bit: bool = False,
) -> dict[str, float]:
    """Weights, adapters, gradients and optimizer state (bytes).

    By default (peft) adapters, their gradients and optimizer state are fp32, and with 4-bit
    weights `prepare_model_for_kbit_training` upcasts embeddings, head and norms to fp32.
    `pure_16bit` keeps every tensor in the training dtype instead, as torchtune's recipes do.
    """
    kept_bytes = param_bytes if pure_16bit else 4
    if weight_bits is None:
        weights = arch.params * param_bytes
    else:  # quantised Linears; the rest (embeddings, head, norms) unquantised
        weights = (
            arch.linear_params * weight_bits / 8 + (arch.params - arch.linear_params) * kept_bytes
        )
    trainable_bytes = param_bytes if t.trains_base else kept_bytes
    adapters = 0.0 if t.trains_base else float(n_trainable * trainable_bytes)
    state = OPTIMIZERS[optimizer](trainable_bytes)
    return {
        "weights": float(weights),
        "adapters": adapters,
        "gradients": float(n_trainable * trainable_bytes),
        "optimizer": float(n_trainable * state),
    }


def cpu_adapter_temporaries_bytes(
    arch: Architecture, t: Training, *, tokens: int, act_bytes: int, quantised: bool = False
) -> float:
    """CPU only, measured rather than derived: freed temporaries that stay resident.

    peft computes each adapted Linear as `base(x) + B(A(x)) * scaling`, three d_out-sized
    temporaries that are freed at once, yet the process's resident peak on CPU (glibc malloc keeps
    freed blocks of a few MB in its heap) grew as if they were kept: SmolLM2-135M LoRA at 1,024
    tokens peaked 1.9 GB above the live tensors, which 3 * sum(d_out) per adapted layer predicts
    (1.91 GB); the same term holds at 512 and 2,048 tokens (benchmarks/estimate_accuracy.py).
    A 4-bit base (`quantised`) dequantises every weight in forward and backward, interleaving
    weight-sized blocks with these: one more d_out-sized block per quantised Linear, fitted at
    1,024 tokens (0.67 GB) and checked at 512 and 2,048. CUDA's caching allocator reuses such
    blocks; the probe re-checks the term on your machine.
    """
    if not t.adapted:
        return 0.0
    linears = arch.layer_linears()
    per_layer = 3 * sum(linears[m][1] for m in t.adapted)
    if quantised:
        per_layer += sum(d_out for _, d_out in linears.values())
    return per_layer * t.grad_layers * tokens * act_bytes


def dequant_buffer_bytes(arch: Architecture, *, weight_bits: float | None, act_bytes: int) -> float:
    """4-bit Linears are dequantised one at a time to the compute dtype: one largest-Linear copy."""
    if weight_bits is None:
        return 0.0
    return max(a * b for a, b in arch.layer_linears().values()) * act_bytes


def training_flops_per_token(
    arch: Architecture, t: Training, *, seq_len: int, checkpointing: bool
) -> float:
    """Forward 2 FLOPs per weight; backward 2 for input gradients through every layer gradients
    reach, plus 2 for weight gradients of trained weights (Kaplan et al. 2020: 6N for full
    training); checkpointing re-runs the forward (+2N). Attention adds 6 * s * heads * head_dim per
    layer (causal QK^T and AV, forward + backward)."""
    per_layer = arch.linear_params_per_layer
    head = arch.vocab * arch.hidden
    frac = t.grad_layers / arch.layers
    forward = 2 * (arch.linear_params + head)
    backward = 2 * (per_layer * t.grad_layers + head) + (
        2 * (per_layer * t.grad_layers + head) if t.trains_base else 0
    )
    attention = 6 * seq_len * arch.heads * arch.dim_head * arch.layers * (1 + frac) / 2
    recompute = forward * frac if checkpointing else 0
    return forward + backward + attention + recompute


def training_for(tech: Any, arch: Architecture, cfg: Any) -> Training:
    """Describe what `tech` trains on `arch` with the knobs in `cfg` (a TrainConfig)."""
    from ..techniques.lora import targeted_linears

    profile = tech.memory
    adapted = tuple(targeted_linears(arch, cfg)) if profile.adapter else ()
    return Training(
        trains_base=profile.trains_base,
        adapted=adapted,
        lora_r=cfg.lora_r if adapted else 0,
        dropout=bool(adapted) and cfg.lora_dropout > 0,
        dora=getattr(tech, "peft_extra", {}).get("use_dora", False),
        grad_layers=tech.grad_layers(arch, cfg),
    )
