"""What a fine-tuning technique is: how the base is loaded, what is trained, what it needs, how it is saved."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from packaging.version import Version

from ..errors import TechniqueUnavailable

if TYPE_CHECKING:
    import torch

    from ..config import TrainConfig
    from ..estimation.presets import Architecture, Hardware


@dataclass(frozen=True)
class MemoryProfile:
    """How the estimator should count this technique's memory (formulas and sources: estimate.py).

    weight_bits: bits per parameter of the decoder layers' Linear weights; None means the training
        dtype (fp32 on CPU, bf16 on GPU). QLoRA: 4-bit NF4 + double-quantised constants.
    trains_base: base weights get gradients and optimizer state (full, freeze).
    adapter: small LoRA-style matrices are added next to frozen weights.
    """

    weight_bits: float | None = None
    trains_base: bool = False
    adapter: bool = False


class Technique:
    """A registered strategy. Subclasses live one per file and never touch the training loop.

    The engine calls, in order: `check(device=)`, `load_kwargs(dtype=, device=)` (inside
    `load_model`), `prepare(model, cfg)`; after training it saves an adapter folder when
    `saves_adapter` is true, else the full model. The estimator reads `memory`,
    `step_time_factor` and `estimate_notes`; listings sort by `teaching_order`.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    summary: ClassVar[str]
    memory: ClassVar[MemoryProfile] = MemoryProfile()
    saves_adapter: ClassVar[bool] = False
    # Where the technique comes when they are taught or listed side by side (lowest first).
    teaching_order: ClassVar[int] = 100
    # Time per step relative to LoRA at the same shape: the extra work each step does.
    step_time_factor: ClassVar[float] = 1.0
    # (import name, distribution name, minimum version) this technique needs beyond the core.
    requires: ClassVar[tuple[tuple[str, str, str], ...]] = ()
    devices: ClassVar[tuple[str, ...]] = ("cpu", "cuda", "mps")

    # -- requirements ----------------------------------------------------------------------------
    def check(self, *, device: str) -> None:
        """Raise TechniqueUnavailable with an actionable message when this machine can't run it."""
        kind = device.split(":")[0]
        if kind not in self.devices:
            raise TechniqueUnavailable(
                f"{self.title} does not run on device {device!r} (supported: {', '.join(self.devices)}). "
                "Pick another technique or device."
            )
        for module, dist, minimum in self.requires:
            _require(self.title, module, dist, minimum)

    def available(self, *, device: str = "cpu") -> tuple[bool, str]:
        """(True, "") when `check` passes, else (False, the reason). Never raises."""
        try:
            self.check(device=device)
        except TechniqueUnavailable as exc:
            return False, str(exc)
        return True, ""

    # -- the three steps the engine runs -----------------------------------------------------------
    def load_kwargs(self, *, dtype: torch.dtype, device: str) -> dict[str, Any]:
        """Extra keyword arguments for `from_pretrained` (e.g. a quantization config)."""
        return {}

    def prepare(self, model: Any, cfg: TrainConfig) -> Any:
        """Return the model ready to train: adapters attached or parameters frozen."""
        raise NotImplementedError

    # -- what it trains (used by the estimator; no model needed) -----------------------------------
    def count_trainable(self, arch: Architecture, cfg: TrainConfig) -> int:
        """Parameters this technique trains on a model of shape `arch`."""
        raise NotImplementedError

    def grad_layers(self, arch: Architecture, cfg: TrainConfig) -> int:
        """How many decoder layers keep activations for backward (all, unless the bottom is frozen)."""
        return arch.layers

    def trainable_params(self, model: Any, cfg: TrainConfig) -> int:
        """Number of parameters this technique would train on a loaded `model`."""
        from ..estimation.presets import Architecture

        return self.count_trainable(Architecture.from_config(model.config), cfg)

    def estimate_notes(self, hardware: Hardware, arch: Architecture) -> list[str]:
        """Caveats the estimator adds for this technique on `hardware` (none by default)."""
        return []

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "summary": self.summary,
            "saves": "adapter" if self.saves_adapter else "full model",
            "requires": [f"{dist}>={minimum}" for _, dist, minimum in self.requires],
            "devices": list(self.devices),
        }


def _require(title: str, module: str, dist: str, minimum: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise TechniqueUnavailable(
            f"{title} needs {dist}>={minimum}, which is not installed. "
            f"Install it with `pip install '{dist}>={minimum}'` (or `pip install 'workbench[quant]'`), "
            "or choose the 'lora' technique."
        )
    version = importlib.metadata.version(dist)
    if Version(version) < Version(minimum):
        raise TechniqueUnavailable(
            f"{title} needs {dist}>={minimum}; version {version} is installed. "
            f"Upgrade with `pip install -U '{dist}>={minimum}'`."
        )
