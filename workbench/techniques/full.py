"""Full fine-tuning: every weight is trained. Best quality, most memory."""

from __future__ import annotations

from typing import Any

from .base import MemoryProfile, Technique
from .registry import register


def enable_checkpointing(model: Any, cfg: Any) -> None:
    """Gradient checkpointing when the config asks: keep only layer inputs, recompute the rest."""
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.config.use_cache = False  # a KV cache is useless in training and clashes with it


@register
class Full(Technique):
    name = "full"
    title = "Full fine-tuning"
    summary = (
        "Trains every weight. Best quality ceiling; needs memory for gradients and optimizer "
        "state of all parameters (about 16 bytes per parameter with AdamW)."
    )
    memory = MemoryProfile(trains_base=True)
    saves_adapter = False
    teaching_order = 0

    def prepare(self, model: Any, cfg: Any) -> Any:
        for p in model.parameters():
            p.requires_grad_(True)
        enable_checkpointing(model, cfg)
        return model

    def count_trainable(self, arch: Any, cfg: Any) -> int:
        return arch.params
