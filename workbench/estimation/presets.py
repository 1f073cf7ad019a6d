"""Built-in model architectures and hardware for offline estimates: public config values, no downloads.

Model values are copied from each model's public `config.json` on the Hugging Face hub (hidden_size,
intermediate_size, num_hidden_layers, num_attention_heads, num_key_value_heads, head_dim,
vocab_size, tie_word_embeddings). Hardware figures are the vendors' data-sheet numbers: memory as
sold (decimal GB) and dense (no sparsity) 16-bit tensor-core TFLOP/s.
"""

from __future__ import annotations

import functools
import os
from dataclasses import asdict, dataclass, replace
from typing import Any

from ..errors import ConfigError

GB = 1e9


@dataclass(frozen=True)
class Architecture:
    """The shape numbers of a decoder-only transformer (Llama family: RMSNorm, SwiGLU MLP, GQA)."""

    name: str
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    vocab: int
    head_dim: int = 0  # 0: hidden // heads
    tied_embeddings: bool = False
    qkv_bias: bool = False  # Qwen2 has biases on q/k/v

    @property
    def dim_head(self) -> int:
        return self.head_dim or self.hidden // self.heads

    def layer_linears(self) -> dict[str, tuple[int, int]]:
        """(in_features, out_features) of each Linear in one decoder layer, by module name."""
        h, i, d = self.hidden, self.intermediate, self.dim_head
        return {
            "q_proj": (h, self.heads * d),
            "k_proj": (h, self.kv_heads * d),
            "v_proj": (h, self.kv_heads * d),
            "o_proj": (self.heads * d, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }

    @property
    def linear_params_per_layer(self) -> int:
        bias = (self.heads + 2 * self.kv_heads) * self.dim_head if self.qkv_bias else 0
        return sum(a * b for a, b in self.layer_linears().values()) + bias

    @property
    def norm_params_per_layer(self) -> int:
        return 2 * self.hidden

    @property
    def layer_params(self) -> int:
        return self.linear_params_per_layer + self.norm_params_per_layer

    @property
    def embedding_params(self) -> int:
        """Input embedding plus the output head when it is not tied to it."""
        return self.vocab * self.hidden * (1 if self.tied_embeddings else 2)

    @property
    def linear_params(self) -> int:
        """Parameters in the decoder layers' Linear modules: the ones 4-bit quantisation touches."""
        return self.layers * self.linear_params_per_layer

    @property
    def params(self) -> int:
        return self.layers * self.layer_params + self.embedding_params + self.hidden

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "params": self.params}

    @classmethod
    def from_config(cls, config: Any, *, name: str | None = None) -> Architecture:
        """Read a transformers config object or a `config.json` dict."""
        get = config.get if isinstance(config, dict) else lambda k, d=None: getattr(config, k, d)
        heads = get("num_attention_heads")
        try:
            return cls(
                name=name or get("_name_or_path") or get("model_type") or "model",
                hidden=int(get("hidden_size")),
                intermediate=int(get("intermediate_size")),
                layers=int(get("num_hidden_layers")),
                heads=int(heads),
                kv_heads=int(get("num_key_value_heads") or heads),
                vocab=int(get("vocab_size")),
                head_dim=int(get("head_dim") or 0),
                tied_embeddings=bool(get("tie_word_embeddings", False)),
                qkv_bias=bool(get("attention_bias", False)) or get("model_type") == "qwen2",
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"Model config {name or ''} lacks a decoder-transformer field ({exc}); the estimator "
                "needs hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, vocab_size."
            ) from None


def _arch(name: str, h: int, i: int, n: int, a: int, kv: int, v: int, **kw: Any) -> Architecture:
    return Architecture(
        name=name, hidden=h, intermediate=i, layers=n, heads=a, kv_heads=kv, vocab=v, **kw
    )


MODEL_PRESETS: dict[str, Architecture] = {
    a.name: a
    for a in [
        _arch("smollm2-135m", 576, 1536, 30, 9, 3, 49152, tied_embeddings=True),
        _arch("smollm2-360m", 960, 2560, 32, 15, 5, 49152, tied_embeddings=True),
        _arch("smollm2-1.7b", 2048, 8192, 24, 32, 32, 49152, tied_embeddings=True),
        _arch("qwen2.5-0.5b", 896, 4864, 24, 14, 2, 151936, tied_embeddings=True, qkv_bias=True),
        _arch("qwen2.5-7b", 3584, 18944, 28, 28, 4, 152064, qkv_bias=True),
        _arch("llama-3.2-1b", 2048, 8192, 16, 32, 8, 128256, head_dim=64, tied_embeddings=True),
        _arch("llama-3.2-3b", 3072, 8192, 28, 24, 8, 128256, head_dim=128, tied_embeddings=True),
        _arch("llama-3.1-8b", 4096, 14336, 32, 32, 8, 128256),
        _arch("llama-3.1-70b", 8192, 28672, 80, 64, 8, 128256),
        _arch("mistral-7b", 4096, 14336, 32, 32, 8, 32768),
        _arch("llama-65b", 8192, 22016, 80, 64, 64, 32000),  # LLaMA 1 65B: the QLoRA paper's model
    ]
}
# Names users type for the same presets.
MODEL_ALIASES = {
    "smollm2-135m-instruct": "smollm2-135m",
    "HuggingFaceTB/SmolLM2-135M-Instruct": "smollm2-135m",
    "HuggingFaceTB/SmolLM2-135M": "smollm2-135m",
    "HuggingFaceTB/SmolLM2-360M-Instruct": "smollm2-360m",
    "HuggingFaceTB/SmolLM2-1.7B-Instruct": "smollm2-1.7b",
    "Qwen/Qwen2.5-0.5B-Instruct": "qwen2.5-0.5b",
    "Qwen/Qwen2.5-7B-Instruct": "qwen2.5-7b",
    "meta-llama/Llama-3.2-1B-Instruct": "llama-3.2-1b",
    "meta-llama/Llama-3.2-3B-Instruct": "llama-3.2-3b",
    "meta-llama/Llama-3.1-8B-Instruct": "llama-3.1-8b",
    "meta-llama/Llama-3.1-70B-Instruct": "llama-3.1-70b",
    "mistralai/Mistral-7B-Instruct-v0.3": "mistral-7b",
}


@dataclass(frozen=True)
class Hardware:
    """One accelerator (or this CPU): memory, 16-bit and 32-bit dense throughput, what it supports."""

    name: str
    kind: str  # "cuda" or "cpu"
    memory_bytes: float
    tflops_16bit: float  # dense tensor-core bf16/fp16; 0 when it has none worth using
    tflops_fp32: float
    bf16: bool = True
    mfu: float = 0.35  # share of peak a fine-tuning step typically reaches (see estimate.py)
    overhead_bytes: float = 0.5 * GB  # CUDA context / runtime that the allocator does not count

    @property
    def train_dtype_bytes(self) -> int:
        """fp32 on CPUs (bf16 matmul is ~400x slower there), 16-bit on GPUs."""
        return 4 if self.kind == "cpu" else 2

    @property
    def train_flops(self) -> float:
        return (self.tflops_fp32 if self.kind == "cpu" else self.tflops_16bit) * 1e12

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _gpu(name: str, mem_gb: float, bf16_tflops: float, fp32_tflops: float, **kw: Any) -> Hardware:
    return Hardware(name, "cuda", mem_gb * GB, bf16_tflops, fp32_tflops, **kw)


HARDWARE_PRESETS: dict[str, Hardware] = {
    h.name: h
    for h in [
        _gpu("t4-16gb", 16, 65, 8.1, bf16=False),  # fp16 tensor cores only
        _gpu("l4-24gb", 24, 121, 30.3),
        _gpu("a10-24gb", 24, 125, 31.2),
        _gpu("rtx-4090-24gb", 24, 165, 82.6),
        _gpu("rtx-a6000-48gb", 48, 155, 38.7),  # the QLoRA paper's "single 48 GB GPU" class
        _gpu("l40s-48gb", 48, 362, 91.6),
        _gpu("a100-40gb", 40, 312, 19.5),
        _gpu("a100-80gb", 80, 312, 19.5),
        _gpu("h100-80gb", 80, 989, 67),
        _gpu("h200-141gb", 141, 989, 67),
    ]
}

HARDWARE_ALIASES = {
    "t4": "t4-16gb",
    "l4": "l4-24gb",
    "a10": "a10-24gb",
    "a6000": "rtx-a6000-48gb",
    "4090": "rtx-4090-24gb",
    "l40s": "l40s-48gb",
    "a100": "a100-80gb",
    "a100-40": "a100-40gb",
    "a100-80": "a100-80gb",
    "h100": "h100-80gb",
    "h200": "h200-141gb",
}

# Measured on the 2-core machines this project is developed on (docs/design: ~116 GFLOP/s fp32).
_CPU_FALLBACK_GFLOPS = 116.0
# RSS of a Python process after importing torch + transformers + peft, before any model (measured
# here: 0.40-0.45 GB). Counted as the CPU runtime overhead.
CPU_RUNTIME_BYTES = 0.45 * GB
# A plain fp32 PEFT loop on this CPU ran at ~63% of the fp32 matmul rate (docs/design).
CPU_MFU = 0.6


def this_cpu(*, measure: bool = False) -> Hardware:
    """The machine we run on: total RAM, and (when `measure`) a 0.3 s fp32 matmul benchmark."""
    import psutil

    gflops = _measure_cpu_gflops() if measure else _CPU_FALLBACK_GFLOPS
    return Hardware(
        name="this-cpu",
        kind="cpu",
        memory_bytes=float(psutil.virtual_memory().total),
        tflops_16bit=0.0,
        tflops_fp32=gflops / 1e3,
        bf16=False,
        mfu=CPU_MFU,
        overhead_bytes=CPU_RUNTIME_BYTES,
    )


def this_gpu() -> Hardware:
    """The CUDA device in use: the matching preset's speeds with the memory torch reports."""
    import torch

    props = torch.cuda.get_device_properties(torch.cuda.current_device())
    label = props.name.lower().replace("nvidia", "").strip()
    match = next((hw for key, hw in HARDWARE_ALIASES.items() if key in label.split()), None)
    preset = HARDWARE_PRESETS[match] if match else Hardware("gpu", "cuda", 0, 100.0, 20.0)
    return replace(preset, name=f"this-gpu ({props.name})", memory_bytes=float(props.total_memory))


@functools.lru_cache(maxsize=1)
def _measure_cpu_gflops(n: int = 512, seconds: float = 0.3) -> float:
    import time

    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    runs, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        runs += 1
    return 2 * n**3 * runs / (time.perf_counter() - t0) / 1e9


def get_hardware(spec: str | Hardware | dict[str, Any]) -> Hardware:
    """A preset name ("this-cpu", "a100-80gb", ...), a Hardware, or explicit numbers as a dict."""
    if isinstance(spec, Hardware):
        return spec
    if isinstance(spec, dict):
        data = dict(spec)
        if "memory_gb" in data:
            data["memory_bytes"] = float(data.pop("memory_gb")) * GB
        data.setdefault("name", "custom")
        data.setdefault("kind", "cuda")
        data.setdefault("tflops_16bit", 100.0)
        data.setdefault("tflops_fp32", 20.0)
        try:
            return Hardware(**data)
        except TypeError as exc:
            raise ConfigError(
                f"Explicit hardware: {exc}. Give memory_gb and optionally kind, tflops_16bit."
            ) from None
    key = spec.strip().lower()
    if key in ("this-cpu", "cpu"):
        return this_cpu(measure=os.environ.get("WORKBENCH_MEASURE_CPU", "1") == "1")
    key = HARDWARE_ALIASES.get(key, key)
    if key not in HARDWARE_PRESETS:
        raise ConfigError(
            f"Unknown hardware {spec!r}. Presets: this-cpu, {', '.join(HARDWARE_PRESETS)}; "
            "or pass explicit numbers, e.g. {'memory_gb': 24, 'tflops_16bit': 120}."
        )
    return HARDWARE_PRESETS[key]


__all__ = [
    "Architecture",
    "Hardware",
    "MODEL_PRESETS",
    "HARDWARE_PRESETS",
    "get_hardware",
    "this_cpu",
    "this_gpu",
]
