"""The registry itself: technique modules register here, the package looks them up by name."""

from __future__ import annotations

from .base import Technique

REGISTRY: dict[str, type[Technique]] = {}


def register(cls: type[Technique]) -> type[Technique]:
    """Class decorator: make a technique available under `cls.name`."""
    REGISTRY[cls.name] = cls
    return cls
