"""Full fine-tuning: every weight is trained. Best quality, most memory."""

from __future__ import annotations

from typing import Any

from . import register
from .base import MemoryProfile, Technique


@register
class Full(Technique):
    name = "full"
    title = "Full fine-tuning"
    summary = "Trains every weight. Best quality ceiling; needs memory for gradients and optimizer state of all parameters."
    memory = MemoryProfile(trains_base=True)

    def prepare(self, model: Any, cfg: Any) -> Any:
        for p in model.parameters():
            p.requires_grad_(True)
        if cfg.gradient_checkpointing:
            model.gradient_checkpointing_enable()
        return model

    def trainable_params(self, model: Any, cfg: Any) -> int:
        return sum(p.numel() for p in model.parameters())
