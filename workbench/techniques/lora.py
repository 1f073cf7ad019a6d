"""LoRA: small low-rank adapters beside frozen base weights (peft)."""

from __future__ import annotations

from typing import Any, ClassVar

from .base import MemoryProfile, Technique
from .full import enable_checkpointing
from .registry import register


def target_modules(cfg: Any) -> str | list[str]:
    spec = cfg.target_modules.strip()
    return (
        "all-linear" if spec == "all-linear" else [m.strip() for m in spec.split(",") if m.strip()]
    )


def lora_config(cfg: Any, **extra: Any) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=target_modules(cfg),
        # SEQ_CLS also trains (and saves) the new classification head in full: peft adds it to
        # modules_to_save, since a random head cannot be adapted by low-rank updates
        task_type="SEQ_CLS"
        if getattr(cfg, "task", "generation") == "classification"
        else "CAUSAL_LM",
        **extra,
    )


def targeted_linears(arch: Any, cfg: Any) -> dict[str, tuple[int, int]]:
    """The decoder-layer Linears (name -> (in, out)) that `cfg.target_modules` selects.

    peft's "all-linear" means every Linear except the output head.
    """
    linears = arch.layer_linears()
    targets = target_modules(cfg)
    if targets == "all-linear":
        return linears
    return {
        name: shape for name, shape in linears.items() if any(name.endswith(t) for t in targets)
    }


@register
class LoRA(Technique):
    name = "lora"
    title = "LoRA"
    summary = (
        "Trains small low-rank adapters next to frozen base weights: a fraction of the memory, "
        "the default for most business cases."
    )
    memory = MemoryProfile(adapter=True)
    saves_adapter = True
    teaching_order = 2
    peft_extra: ClassVar[dict[str, Any]] = {}

    def prepare(self, model: Any, cfg: Any) -> Any:
        from peft import get_peft_model

        if cfg.gradient_checkpointing:
            enable_checkpointing(model, cfg)
            model.enable_input_require_grads()
        return get_peft_model(model, lora_config(cfg, **self.peft_extra))

    def count_trainable(self, arch: Any, cfg: Any) -> int:
        per_layer = sum(
            cfg.lora_r * (d_in + d_out) for d_in, d_out in targeted_linears(arch, cfg).values()
        )
        return arch.layers * per_layer
