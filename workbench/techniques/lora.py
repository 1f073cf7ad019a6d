"""LoRA: small low-rank adapters beside frozen base weights (peft)."""

from __future__ import annotations

from typing import Any

from . import register
from .base import MemoryProfile, Technique


def target_modules(cfg: Any) -> str | list[str]:
    spec = cfg.target_modules.strip()
    return "all-linear" if spec == "all-linear" else [m.strip() for m in spec.split(",") if m.strip()]


def lora_config(cfg: Any, **extra: Any) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=target_modules(cfg),
        task_type="CAUSAL_LM",
        **extra,
    )


@register
class LoRA(Technique):
    name = "lora"
    title = "LoRA"
    summary = "Trains small low-rank adapters next to frozen base weights: a fraction of the memory, the default for most business cases."
    memory = MemoryProfile(adapter=True)
    peft_extra: dict[str, Any] = {}

    def prepare(self, model: Any, cfg: Any) -> Any:
        from peft import get_peft_model

        if cfg.gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            model.enable_input_require_grads()
        return get_peft_model(model, lora_config(cfg, **self.peft_extra))

    def trainable_params(self, model: Any, cfg: Any) -> int:
        import copy

        from peft import get_peft_model

        peft_model = get_peft_model(copy.deepcopy(model), lora_config(cfg, **self.peft_extra))
        return sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
