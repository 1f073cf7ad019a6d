"""Technique registry: techniques are looked up by name from the config, never branched on."""

from __future__ import annotations

from ..errors import ConfigError
from .base import MemoryProfile, Technique

_REGISTRY: dict[str, type[Technique]] = {}


def register(cls: type[Technique]) -> type[Technique]:
    """Class decorator: make a technique available under `cls.name`."""
    _REGISTRY[cls.name] = cls
    return cls


def get_technique(name: str) -> Technique:
    _load_builtins()
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise ConfigError(
            f"Unknown technique {name!r}. Available: {', '.join(available_techniques())}."
        ) from None


def available_techniques() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def _load_builtins() -> None:
    # Importing each module runs its @register; imports stay lazy so `import workbench` is light.
    from . import full, lora  # noqa: F401

    try:
        from . import dora, freeze, qlora  # noqa: F401
    except ImportError:  # modules not written yet
        pass


__all__ = ["MemoryProfile", "Technique", "available_techniques", "get_technique", "register"]
