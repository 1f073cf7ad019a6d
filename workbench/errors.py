"""The package's own error types: every message says what went wrong and what to do."""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class for every error the workbench raises on purpose."""


class DataError(WorkbenchError):
    """A dataset could not be read or does not have the expected shape."""


class ModelError(WorkbenchError):
    """A model could not be resolved, fetched or loaded."""


class ConfigError(WorkbenchError, ValueError):
    """A configuration value is missing, of the wrong type or out of range."""


class TechniqueUnavailable(WorkbenchError):
    """A fine-tuning technique's requirements are not met on this machine."""


class ArtifactError(WorkbenchError, ValueError):
    """A file in a run directory is unreadable or does not match the type that owns it."""


class ArtifactMissing(ArtifactError, FileNotFoundError):
    """A run-directory file is absent: the step that writes it did not run."""
