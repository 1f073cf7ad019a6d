"""What a fine-tuning technique is: how the base is loaded, what is trained, what it needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import torch

    from ..config import TrainConfig


@dataclass(frozen=True)
class MemoryProfile:
    """Bytes per parameter the estimator uses for this technique (see estimate.py for sources).

    base_bytes_per_param: storage of the (frozen or trained) base weights.
    trains_base: whether base weights get gradients and optimizer state.
    adapter: whether small adapter matrices are added (LoRA family).
    """

    base_bytes_per_param: float | None = None  # None: the compute dtype's size
    trains_base: bool = False
    adapter: bool = False


class Technique:
    """A registered strategy. Subclasses live one per file and never touch the training loop."""

    name: ClassVar[str]
    title: ClassVar[str]
    summary: ClassVar[str]
    memory: ClassVar[MemoryProfile] = MemoryProfile()

    def check(self, *, device: str) -> None:
        """Raise TechniqueUnavailable with an actionable message when this machine can't run it."""

    def load_kwargs(self, *, dtype: torch.dtype, device: str) -> dict[str, Any]:
        """Extra keyword arguments for `from_pretrained` (e.g. a quantization config)."""
        return {}

    def prepare(self, model: Any, cfg: TrainConfig) -> Any:
        """Return the model ready to train: adapters attached or parameters frozen."""
        raise NotImplementedError

    def trainable_params(self, model: Any, cfg: TrainConfig) -> int:
        """Number of parameters this technique would train on `model` (used by the estimator)."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "summary": self.summary}
