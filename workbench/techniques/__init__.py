"""Technique registry: techniques are looked up by name from the config, never branched on.

Built in: full, lora, dora, qlora, freeze. Instruction tuning is not a technique but a data mode
(chat template, loss on assistant turns only: `TrainConfig.assistant_only_loss`) that combines
with any of them. A new technique is one file with a `@register`-ed `Technique` subclass.
"""

from __future__ import annotations

from ..errors import ConfigError
from .base import MemoryProfile, Technique
from .registry import REGISTRY as _REGISTRY
from .registry import register


def get_technique(name: str) -> Technique:
    _load_builtins()
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise ConfigError(
            f"Unknown technique {name!r}. Available: {', '.join(available_techniques())}."
        ) from None


def all_techniques() -> list[Technique]:
    """One instance of every registered technique, in teaching order (`Technique.teaching_order`)."""
    _load_builtins()
    names = sorted(_REGISTRY, key=lambda n: (_REGISTRY[n].teaching_order, n))
    return [_REGISTRY[n]() for n in names]


def available_techniques() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def _load_builtins() -> None:
    # Importing each module runs its @register; imports stay lazy so `import workbench` is light.
    from . import dora, freeze, full, lora, qlora  # noqa: F401


__all__ = [
    "MemoryProfile",
    "Technique",
    "all_techniques",
    "available_techniques",
    "get_technique",
    "register",
]
