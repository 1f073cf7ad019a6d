"""Freeze: train only the last N decoder layers (and the final norm); everything below stays fixed.

The oldest form of transfer learning. Gradients stop at the first trainable layer, so both the
optimizer state and the stored activations shrink with N. The result is a full model.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .base import MemoryProfile, Technique
from .full import enable_checkpointing
from .registry import register


def decoder_layers(model: Any) -> Any:
    """The model's list of decoder layers (Llama/Mistral/Qwen layout: model.model.layers)."""
    inner = getattr(model, "model", None)
    layers = getattr(inner, "layers", None)
    if layers is None:
        raise ConfigError(
            f"freeze: cannot find the decoder layers of {type(model).__name__} (expected model.model.layers). "
            "Use 'lora' or 'full' for this architecture."
        )
    return layers


def classifier_head(model: Any) -> Any:
    """The sequence-classification head (`score` in the Llama family, `classifier` elsewhere)."""
    for name in ("score", "classifier"):
        if (head := getattr(model, name, None)) is not None:
            return head
    raise ConfigError(
        f"freeze: cannot find the classification head of {type(model).__name__} (expected "
        "`score` or `classifier`). Use 'lora' or 'full' for this architecture."
    )


@register
class Freeze(Technique):
    name = "freeze"
    title = "Freeze (last N layers)"
    summary = (
        "Trains only the top N decoder layers (TrainConfig.freeze_keep_last) and the final norm. "
        "Cheap and simple; adapts style more than deep behaviour. Saves a full model."
    )
    memory = MemoryProfile(trains_base=True)
    saves_adapter = False
    teaching_order = 1

    def prepare(self, model: Any, cfg: Any) -> Any:
        layers = decoder_layers(model)
        keep = cfg.freeze_keep_last
        if not 1 <= keep <= len(layers):
            raise ConfigError(
                f"TrainConfig.freeze_keep_last must be between 1 and {len(layers)} "
                f"(the model's decoder layers), got {keep}."
            )
        model.requires_grad_(False)
        for layer in layers[len(layers) - keep :]:
            layer.requires_grad_(True)
        norm = getattr(model.model, "norm", None)
        if norm is not None:
            norm.requires_grad_(True)
        if getattr(cfg, "task", "generation") == "classification":
            classifier_head(model).requires_grad_(True)  # new and random: it must learn
        enable_checkpointing(model, cfg)
        return model

    def count_trainable(self, arch: Any, cfg: Any) -> int:
        return min(cfg.freeze_keep_last, arch.layers) * arch.layer_params + arch.hidden

    def grad_layers(self, arch: Any, cfg: Any) -> int:
        return min(cfg.freeze_keep_last, arch.layers)
