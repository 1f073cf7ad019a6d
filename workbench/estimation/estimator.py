"""How much memory, time and money a fine-tuning run needs, before you start it; and a probe that checks.

`estimate(cfg, hardware=)` adds up the components in memory.py for the run a TrainConfig
describes (its model: a preset, a local config, a loaded model or a hub id) on a hardware preset.
`calibration.probe(cfg)` runs a few real optimizer steps on this machine and measures peak memory
and step time; an estimate corrected by a probe (`Estimate.calibrated(probe)`) is what to plan
the full run with.
"""

from __future__ import annotations

import dataclasses
import html
import json
import logging
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..config import TrainConfig
from ..errors import ConfigError, WorkbenchError
from .memory import (
    OPTIMIZERS,
    activation_bytes,
    cpu_adapter_temporaries_bytes,
    dequant_buffer_bytes,
    logits_bytes,
    static_bytes,
    training_flops_per_token,
    training_for,
)
from .presets import GB, MODEL_ALIASES, MODEL_PRESETS, Architecture, Hardware, get_hardware

log = logging.getLogger(__name__)

COMPONENTS = ("weights", "gradients", "optimizer", "adapters", "activations", "logits", "overhead")
# The keywords `estimate` took before it took a TrainConfig -> the config field each one sets.
_LEGACY_KEYWORDS = {
    "model": "model",
    "technique": "technique",
    "seq_len": "max_length",
    "max_length": "max_length",
    "batch_size": "batch_size",
    "grad_checkpointing": "gradient_checkpointing",
    "cpu_low_memory": "cpu_low_memory",
    "epochs": "epochs",
}


@dataclass
class Estimate:
    """Memory by component (bytes), whether it fits, and how long and how much a run would take."""

    model: str
    technique: str
    hardware: str
    max_length: int
    batch_size: int
    grad_checkpointing: bool
    optimizer: str
    params: int
    trainable_params: int
    breakdown: dict[str, float]
    peak_bytes: float
    memory_bytes: float
    tokens_per_s: float
    dataset_tokens: int | None = None
    epochs: float = 1.0
    hourly_price: float | None = None
    notes: list[str] = field(default_factory=list)
    calibration: dict[str, float] | None = None
    loss_chunks: int = 1
    full_logits: bool = False  # transformers' own loss over every position (not the workbench's)
    pure_bf16: bool = False
    cpu_low_memory: bool = False

    @property
    def fits(self) -> bool:
        return self.peak_bytes <= self.memory_bytes

    @property
    def headroom_bytes(self) -> float:
        return self.memory_bytes - self.peak_bytes

    @property
    def wall_s(self) -> float | None:
        if not self.dataset_tokens or self.tokens_per_s <= 0:
            return None
        return self.dataset_tokens * self.epochs / self.tokens_per_s

    @property
    def cost(self) -> float | None:
        if self.wall_s is None or self.hourly_price is None:
            return None
        return self.wall_s / 3600 * self.hourly_price

    def calibrated(self, probe: Any) -> Estimate:
        """This estimate scaled by a probe's measured/estimated ratios (memory and speed)."""
        mem_ratio = probe.memory_ratio
        speed_ratio = probe.tokens_per_s / max(probe.estimate.tokens_per_s, 1e-9)
        parts = {k: v * mem_ratio for k, v in self.breakdown.items()}
        note = f"Calibrated by a {probe.steps}-step probe: memory x{mem_ratio:.2f}, speed x{speed_ratio:.2f}."
        return replace(
            self,
            breakdown=parts,
            peak_bytes=sum(parts.values()),
            tokens_per_s=self.tokens_per_s * speed_ratio,
            notes=[*self.notes, note],
            calibration={"memory_ratio": mem_ratio, "speed_ratio": speed_ratio},
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            fits=self.fits, headroom_bytes=self.headroom_bytes, wall_s=self.wall_s, cost=self.cost
        )
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Estimate:
        names = {f for f in cls.__dataclass_fields__}
        if "seq_len" in data and "max_length" not in data:  # saved before the rename
            data = {**data, "max_length": data["seq_len"]}
        return cls(**{k: v for k, v in data.items() if k in names})

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs for a table: the breakdown, then the verdict and time/cost."""
        rows = [(name, _gb(self.breakdown.get(name, 0.0))) for name in COMPONENTS]
        rows += [
            ("peak", _gb(self.peak_bytes)),
            (f"{self.hardware} memory", _gb(self.memory_bytes)),
            ("fits", f"{'yes' if self.fits else 'NO'} (headroom {_gb(self.headroom_bytes)})"),
            (
                "trainable parameters",
                f"{self.trainable_params:,} of {self.params:,} "
                f"({100 * self.trainable_params / max(self.params, 1):.2f}%)",
            ),
            ("tokens/s", f"{self.tokens_per_s:,.0f}"),
        ]
        if self.wall_s is not None:
            rows.append(("wall time", _duration(self.wall_s)))
        if self.cost is not None:
            rows.append(("cost", f"{self.cost:,.2f} at {self.hourly_price}/h"))
        return rows

    def to_text(self) -> str:
        title = f"{self.model} | {self.technique} | {self.hardware} | max_length {self.max_length} x batch {self.batch_size}"
        if self.grad_checkpointing:
            title += " | checkpointing"
        if self.loss_chunks > 1:
            title += f" | loss in {self.loss_chunks} chunks"
        elif self.full_logits:
            title += " | full-logits loss"
        if self.pure_bf16:
            title += " | pure bf16"
        if self.cpu_low_memory:
            title += " | cpu_low_memory"
        width = max(len(k) for k, _ in self.rows())
        lines = [title, "-" * len(title)] + [f"{k:<{width}}  {v}" for k, v in self.rows()]
        return "\n".join(lines + [f"note: {n}" for n in self.notes])

    def _repr_html_(self) -> str:
        cells = "".join(
            f"<tr><td>{html.escape(k)}</td><td style='text-align:right'>{html.escape(v)}</td></tr>"
            for k, v in self.rows()
        )
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        colour = "#2e7d32" if self.fits else "#c62828"
        return (
            f"<div><b>{html.escape(self.model)}</b> · {html.escape(self.technique)} · "
            f"<span style='color:{colour}'>{'fits' if self.fits else 'does not fit'}</span> on "
            f"{html.escape(self.hardware)}<table>{cells}</table><ul>{notes}</ul></div>"
        )


def estimate(
    config: TrainConfig | None = None,
    *,
    hardware: Any = "this-cpu",
    hourly_price: float | None = None,
    dataset_tokens: int | None = None,
    optimizer: str = "adamw",
    loss_chunks: int = 1,
    full_logits: bool = False,
    pure_bf16: bool = False,
    **legacy: Any,
) -> Estimate:
    """Estimate peak memory (by component), fit, tokens/s, wall time and cost of the run `config` describes.

    From the config: the model, technique and its knobs (lora_r, target_modules, lora_dropout,
    freeze_keep_last), the shape (max_length, batch_size, gradient_checkpointing), epochs and
    cpu_low_memory (on a CPU the allocator then holds no freed temporaries, so that term of the
    overhead drops out). About the machine: `hardware` (a preset name, a `Hardware`, or a dict of
    numbers) and its `hourly_price`. `dataset_tokens` (tokens per epoch, see `dataset_tokens()`)
    gives the wall time and cost.

    The workbench trains with transformers + peft and AdamW, and computes the loss only at labelled
    positions in chunks (no full logits); four knobs describe other stacks so their published
    figures can be compared like for like: `optimizer` (adamw_8bit, paged, sgd), `loss_chunks` (a
    cross-entropy computed in chunks of the sequence, as torchtune's CEWithChunkedOutputLoss),
    `full_logits` (transformers' own loss over every position's logits) and `pure_bf16` (adapters,
    their optimizer state and unquantised layers kept in bf16 rather than fp32; GPU only).

    The keywords of the older form (`model=`, `technique=`, `seq_len=`, `batch_size=`,
    `grad_checkpointing=`, `cpu_low_memory=`, `epochs=`, `config=`) still work, with a
    DeprecationWarning: they set the matching fields of the config.
    """
    from ..techniques import get_technique

    cfg = config_from_keywords(config, legacy)
    if optimizer not in OPTIMIZERS:
        raise ConfigError(
            f"Unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}."
        )
    if loss_chunks < 1:
        raise ConfigError(f"loss_chunks must be >= 1 (1 = no chunking), got {loss_chunks}.")
    tech = get_technique(cfg.technique)
    arch = resolve_architecture(cfg.model)
    hw = get_hardware(hardware)
    pure_bf16 = pure_bf16 and hw.kind != "cpu"  # CPUs train in fp32 throughout
    cpu_low_memory = cfg.cpu_low_memory and hw.kind == "cpu"
    parts = _breakdown(
        tech,
        arch,
        hw,
        cfg,
        optimizer=optimizer,
        loss_chunks=loss_chunks,
        full_logits=full_logits,
        pure_bf16=pure_bf16,
        cpu_low_memory=cpu_low_memory,
    )
    train = training_for(tech, arch, cfg)
    flops = training_flops_per_token(
        output_shape(arch, cfg),
        train,
        seq_len=cfg.max_length,
        checkpointing=cfg.gradient_checkpointing,
    ) + reference_flops_per_token(arch, cfg)
    est = Estimate(
        model=arch.name,
        technique=tech.name,
        hardware=hw.name,
        max_length=cfg.max_length,
        batch_size=cfg.batch_size,
        grad_checkpointing=cfg.gradient_checkpointing,
        optimizer=optimizer,
        params=arch.params,
        trainable_params=tech.count_trainable(arch, cfg),
        breakdown={k: float(parts[k]) for k in COMPONENTS},
        peak_bytes=float(sum(parts.values())),
        memory_bytes=hw.memory_bytes,
        tokens_per_s=hw.train_flops * hw.mfu / flops / tech.step_time_factor,
        dataset_tokens=dataset_tokens,
        epochs=cfg.epochs,
        hourly_price=hourly_price,
        notes=_notes(tech, hw, arch) + _objective_notes(cfg),
        loss_chunks=loss_chunks,
        full_logits=full_logits,
        pure_bf16=pure_bf16,
        cpu_low_memory=cpu_low_memory,
    )
    if hw.kind == "cpu" and not est.fits and not cpu_low_memory:
        est.notes.append(
            "Does not fit: cpu_low_memory=True lowered the peak by 11-47% here (steps 17-37% "
            "slower); a smaller batch_size or max_length lowers activations and logits."
        )
    return est


def _breakdown(
    tech: Any,
    arch: Architecture,
    hw: Hardware,
    cfg: TrainConfig,
    *,
    optimizer: str,
    loss_chunks: int,
    full_logits: bool,
    pure_bf16: bool,
    cpu_low_memory: bool,
) -> dict[str, float]:
    """Bytes per component (COMPONENTS) of one training step of `cfg` on `hw`."""
    act_bytes = hw.train_dtype_bytes
    train = training_for(tech, arch, cfg)
    rows = micro_batch_size(cfg, device=hw.kind) if hw.kind == "cpu" else cfg.batch_size
    tokens = cfg.max_length * rows * rows_per_example(cfg)  # one forward/backward's worth
    parts = static_bytes(
        arch,
        train,
        n_trainable=tech.count_trainable(arch, cfg),
        weight_bits=tech.memory.weight_bits,
        param_bytes=act_bytes,
        optimizer=optimizer,
        pure_16bit=pure_bf16,
    )
    parts["activations"] = activation_bytes(
        arch, train, tokens=tokens, act_bytes=act_bytes, checkpointing=cfg.gradient_checkpointing
    )
    classifier = cfg.task == "classification"  # its head scores every position over the labels
    parts["logits"] = logits_bytes(
        output_shape(arch, cfg),
        tokens=tokens,
        act_bytes=act_bytes,
        loss_chunks=1 if classifier else loss_chunks,
        full_logits=full_logits or classifier,
    )
    parts["overhead"] = hw.overhead_bytes + dequant_buffer_bytes(
        arch, weight_bits=tech.memory.weight_bits, act_bytes=act_bytes
    )
    if hw.kind == "cpu" and not cpu_low_memory:  # the allocator keeps freed temporaries
        parts["overhead"] += cpu_adapter_temporaries_bytes(
            arch,
            train,
            tokens=tokens,
            act_bytes=act_bytes,
            quantised=tech.memory.weight_bits is not None,
        )
    return parts


# A classifier's output layer scores the labels, not the vocabulary; with the label set not named
# in the config, assume this many (its logits and FLOPs are negligible either way).
UNNAMED_LABELS = 32


def output_shape(arch: Architecture, cfg: TrainConfig) -> Architecture:
    """`arch` as its output layer sees it: a classifier's head has one output per label, so its
    logits and head FLOPs are those of a `vocab` of that size (the embedding keeps its size)."""
    if cfg.task != "classification":
        return arch
    return dataclasses.replace(arch, vocab=len(cfg.label_set() or []) or UNNAMED_LABELS)


# Activations and loss tensors one forward/backward may keep on a CPU. `TrainConfig.batch_size` is
# the optimizer's batch; on a CPU the engine runs it as micro-batches within this budget and
# accumulates their gradients (SmolLM2-135M, LoRA, 8 x 384 tokens: ~6 GB of activations in one
# pass). The loss is normalised by the whole batch's token count, so the update is the same.
CPU_ACTIVATION_BUDGET = 1.5e9


def micro_batch_size(cfg: TrainConfig, *, device: str) -> int:
    """Rows per forward/backward: `cfg.micro_batch_size` when set; on a CPU the largest divisor
    of batch_size whose activations fit CPU_ACTIVATION_BUDGET; on other devices the whole batch."""
    if cfg.micro_batch_size:
        return int(cfg.micro_batch_size)
    if not device.startswith("cpu"):
        return cfg.batch_size
    from ..techniques import get_technique

    try:
        tech, arch = get_technique(cfg.technique), resolve_architecture(cfg.model)
    except (WorkbenchError, OSError, ValueError) as exc:
        log.info("micro-batch not chosen from memory (%s): the whole batch at once", exc)
        return cfg.batch_size
    tokens = cfg.max_length * rows_per_example(cfg)
    per_row = activation_bytes(
        arch,
        training_for(tech, arch, cfg),
        tokens=tokens,
        act_bytes=4,
        checkpointing=cfg.gradient_checkpointing,
    ) + logits_bytes(output_shape(arch, cfg), tokens=tokens, act_bytes=4)
    fits = [d for d in range(1, cfg.batch_size + 1) if cfg.batch_size % d == 0]
    return max((d for d in fits if d * per_row <= CPU_ACTIVATION_BUDGET), default=1)


def config_from_keywords(
    config: TrainConfig | None, keywords: dict[str, Any], *, caller: str = "estimate"
) -> TrainConfig:
    """`config` (default: TrainConfig()) with the older keyword form's fields applied.

    The keywords (`model=`, `seq_len=`, ..., `config=`: see `_LEGACY_KEYWORDS`) are deprecated:
    they warn once per call site and set the matching TrainConfig fields.
    """
    if config is not None and not isinstance(config, TrainConfig):
        raise ConfigError(
            f"{caller}() takes a TrainConfig, got {type(config).__name__}: build one with "
            "TrainConfig(model=..., technique=...) or TrainConfig.from_yaml(path)."
        )
    keywords = dict(keywords)
    base = keywords.pop("config", None) if config is None else config
    unknown = sorted(set(keywords) - set(_LEGACY_KEYWORDS))
    if unknown:
        raise TypeError(f"{caller}() got unexpected keyword argument(s): {', '.join(unknown)}")
    cfg = base if base is not None else TrainConfig()
    if keywords:
        warnings.warn(
            f"{caller}({', '.join(f'{k}=' for k in keywords)}...) is deprecated: set them on the "
            f"TrainConfig and call {caller}(config, hardware=...); seq_len is now max_length.",
            DeprecationWarning,
            stacklevel=3,
        )
        cfg = cfg.replace(**{_LEGACY_KEYWORDS[k]: v for k, v in keywords.items()})
    return cfg


def rows_per_example(cfg: TrainConfig) -> int:
    """Sequences one example puts through the model: DPO runs chosen and rejected as one batch."""
    return 2 if cfg.objective == "dpo" else 1


def reference_flops_per_token(arch: Architecture, cfg: TrainConfig) -> float:
    """DPO's reference pass (the model with the adapter off, no gradients): a forward, 2N per token."""
    return 2.0 * arch.params if cfg.objective == "dpo" else 0.0


def _objective_notes(cfg: TrainConfig) -> list[str]:
    if cfg.objective != "dpo":
        return []
    return [
        "DPO: chosen and rejected both go through the model (2 x batch_size sequences a step), "
        "plus a reference forward with the adapter off (no second model in memory): about 1.5x "
        "the LoRA time per token; tokens count the prompt once per side."
    ]


def estimate_config(cfg: TrainConfig, **kwargs: Any) -> Estimate:
    """Deprecated: `estimate(cfg, ...)` takes the config itself now."""
    warnings.warn(
        "estimate_config(cfg, ...) is deprecated: call estimate(cfg, ...).",
        DeprecationWarning,
        stacklevel=2,
    )
    return estimate(cfg, **kwargs)


def compare_techniques(
    techniques: Sequence[str] | None = None,
    *,
    config: TrainConfig | None = None,
    **options: Any,
) -> list[Estimate]:
    """One estimate per technique (default: all, in teaching order) of `config` at the same shape.

    `options` are `estimate`'s (hardware=, hourly_price=, ...); the older keyword form works too.
    """
    from ..techniques import all_techniques

    legacy = {k: options.pop(k) for k in list(options) if k in _LEGACY_KEYWORDS or k == "config"}
    cfg = config_from_keywords(config, legacy, caller="compare_techniques")
    names = list(techniques) if techniques else [t.name for t in all_techniques()]
    return [estimate(cfg.replace(technique=name), **options) for name in names]


# Rough characters per token of BPE tokenizers on English text and JSON, plus the chat template's
# few tokens per turn: enough for a time estimate; the probe measures the real speed.
CHARS_PER_TOKEN, TOKENS_PER_TURN = 4.0, 5


def dataset_tokens(dataset: Any, *, max_length: int, config: TrainConfig | None = None) -> int:
    """Approximate training tokens per epoch of a dataset (each conversation capped at max_length).
    With a classification `config`, the dataset is labelled texts (its text_field / label_field)."""
    from ..data.dataset import load_dataset
    from ..data.preferences import is_preference_source, load_preferences

    if config is not None and config.task == "classification":
        from ..data.labelled import load_labelled

        split = {"split": "train"} if isinstance(dataset, str) else {}
        texts = load_labelled(
            dataset, text_field=config.text_field, label_field=config.label_field, **split
        ).texts
        return sum(min(max_length, int(len(t) / CHARS_PER_TOKEN) + 1) for t in texts)
    if is_preference_source(dataset):  # DPO: both sides, each with its prompt
        pairs = load_preferences(dataset, split="train").pairs
        conversations = [p.conversation(side) for p in pairs for side in ("chosen", "rejected")]
    else:
        split = {"split": "train"} if isinstance(dataset, str) else {}
        conversations = load_dataset(dataset, **split).conversations
    total = 0
    for conversation in conversations:
        chars = sum(len(turn["content"]) for turn in conversation)
        total += min(max_length, int(chars / CHARS_PER_TOKEN) + TOKENS_PER_TURN * len(conversation))
    return total


def dataset_rows(dataset: Any, *, config: TrainConfig | None = None) -> int:
    """Training rows of a dataset: conversations, labelled texts for a classification `config`,
    preference pairs for a DPO one."""
    split = {"split": "train"} if isinstance(dataset, str) else {}
    if config is not None and config.objective == "dpo":
        from ..data.preferences import load_preferences

        return len(load_preferences(dataset, **split))
    if config is not None and config.task == "classification":
        from ..data.labelled import load_labelled

        columns = {"text_field": config.text_field, "label_field": config.label_field}
        return len(load_labelled(dataset, **columns, **split))
    from ..data.dataset import load_dataset

    return len(load_dataset(dataset, **split))


def resolve_architecture(model: Any) -> Architecture:
    """A preset name, a local folder / config.json, a loaded model, a config dict, or a hub id."""
    if isinstance(model, Architecture):
        return model
    if hasattr(model, "config") and not isinstance(model, (str, Path)):
        return Architecture.from_config(
            model.config, name=getattr(model.config, "_name_or_path", None)
        )
    if isinstance(model, dict):
        return Architecture.from_config(model)
    name = str(model)
    key = MODEL_ALIASES.get(name, name)
    if key in MODEL_PRESETS:
        return MODEL_PRESETS[key]
    path = _local_config(name)
    if path is not None:
        return Architecture.from_config(json.loads(path.read_text(encoding="utf-8")), name=name)
    return _hub_architecture(name)


def _local_config(name: str) -> Path | None:
    from ..models import TINY_MODEL, ensure_tiny_model

    if name == TINY_MODEL:
        return ensure_tiny_model() / "config.json"
    path = Path(name).expanduser()
    if path.is_file() and path.name.endswith(".json"):
        return path
    if (path / "config.json").is_file():
        return path / "config.json"
    return None


def _hub_architecture(name: str) -> Architecture:
    try:
        from transformers import AutoConfig

        return Architecture.from_config(
            AutoConfig.from_pretrained(name, trust_remote_code=False), name=name
        )
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"Cannot get the architecture of {name!r}: not a preset, not a local folder, and the hub "
            f"did not answer ({type(exc).__name__}). Presets: {', '.join(MODEL_PRESETS)}."
        ) from None


def _notes(tech: Any, hw: Hardware, arch: Architecture) -> list[str]:
    notes = []
    if hw.kind == "cpu":
        notes.append(
            "CPU: trains in fp32; memory is process RSS including the Python/torch runtime."
        )
    notes += tech.estimate_notes(hw, arch)
    if hw.kind == "cuda" and not hw.bf16:
        notes.append(f"{hw.name} has no bf16: training uses fp16 with loss scaling.")
    return notes


def _gb(value: float) -> str:
    return f"{value / GB:,.2f} GB"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


__all__ = [
    "Estimate",
    "estimate",
    "estimate_config",
    "compare_techniques",
    "dataset_tokens",
    "resolve_architecture",
]
