"""DoRA: LoRA whose update is split into a direction (the low-rank adapter) and a learned magnitude.

Liu et al. 2024, "DoRA: Weight-Decomposed Low-Rank Adaptation" (arXiv:2402.09353); peft `use_dora=True`.
Often a little better than LoRA at low ranks; slower per step because every adapted layer
recomputes the norm of its full merged weight.
"""

from __future__ import annotations

from typing import Any, ClassVar

from . import register
from .lora import LoRA, targeted_linears


@register
class DoRA(LoRA):
    name = "dora"
    title = "DoRA"
    summary = (
        "LoRA plus a learned magnitude per output channel: often better than LoRA at the same "
        "rank, about as small to store, slower per step."
    )
    peft_extra: ClassVar[dict[str, Any]] = {"use_dora": True}

    def count_trainable(self, arch: Any, cfg: Any) -> int:
        magnitudes = sum(d_out for _, d_out in targeted_linears(arch, cfg).values())
        return super().count_trainable(arch, cfg) + arch.layers * magnitudes
