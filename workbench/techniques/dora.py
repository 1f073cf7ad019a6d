"""DoRA: LoRA whose update is split into a direction (the low-rank adapter) and a learned magnitude.

Liu et al. 2024, "DoRA: Weight-Decomposed Low-Rank Adaptation" (arXiv:2402.09353); peft `use_dora=True`.
Often a little better than LoRA at low ranks; slower per step because every adapted layer
recomputes the norm of its full merged weight.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .lora import LoRA, targeted_linears
from .registry import register


@register
class DoRA(LoRA):
    name = "dora"
    title = "DoRA"
    summary = (
        "LoRA plus a learned magnitude per output channel: often better than LoRA at the same "
        "rank, about as small to store, slower per step."
    )
    peft_extra: ClassVar[dict[str, Any]] = {"use_dora": True}
    teaching_order = 3
    # Every adapted layer recomputes its merged weight's norm each step (peft's DoRA docs: slower).
    step_time_factor = 1.2

    def estimate_notes(self, hardware: Any, arch: Any) -> list[str]:
        return ["DoRA activations are approximate (not yet checked against a probe)."]

    def count_trainable(self, arch: Any, cfg: Any) -> int:
        magnitudes = sum(d_out for _, d_out in targeted_linears(arch, cfg).values())
        return super().count_trainable(arch, cfg) + arch.layers * magnitudes
