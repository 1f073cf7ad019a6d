"""TechniqueChoice: what notebook 02 decided (config, estimate, advice), saved as technique.json for notebook 03."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import TrainConfig
from ..errors import ArtifactError, ConfigError
from ..rundir import OPTIONAL, Artifact, decode
from .advisor import Advice
from .estimator import Estimate


@dataclass
class TechniqueChoice(Artifact):
    """The config notebook 03 trains, with the estimate and the advice it was chosen by.

    Only `train_config` is required: a choice written by hand or by a script may have no estimate,
    advice or probe. `probe` is the calibration probe's measurements as written (no later stage
    reads them; they are kept for the record).
    """

    FILE = "technique_json"
    MADE_BY = "notebook 02_choose_technique"

    train_config: TrainConfig
    estimate: Estimate | None = field(default=None, metadata=OPTIONAL)
    advice: Advice | None = field(default=None, metadata=OPTIONAL)
    probe: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)

    @property
    def technique(self) -> str:
        return self.train_config.technique

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, file: str | Path = "<dict>") -> TechniqueChoice:
        if not isinstance(data, Mapping):
            raise ArtifactError(f"{file}: expected an object, got {type(data).__name__}.")
        if not isinstance(data.get("train_config"), Mapping):
            raise ArtifactError(
                f"{file}: required field 'train_config' is missing or not an object "
                "(the TrainConfig notebook 03 trains)."
            )
        try:  # a config: unknown keys (a newer version's fields) are ignored, values validated
            config = TrainConfig.from_dict(dict(data["train_config"]), strict=False)
        except ConfigError as exc:
            raise ArtifactError(f"{file}: field 'train_config': {exc}") from exc
        return cls(config, **_parts(data, file))


def _parts(data: Mapping[str, Any], file: str | Path) -> dict[str, Any]:
    """estimate and advice as their dataclasses, probe as written; each None when absent."""
    out: dict[str, Any] = {}
    for name, kind in (("estimate", Estimate), ("advice", Advice)):
        if data.get(name) is not None:
            out[name] = decode(kind, data[name], file=file, field=name)
    probe = data.get("probe")
    if probe is not None and not isinstance(probe, Mapping):
        raise ArtifactError(f"{file}: field 'probe': expected an object or null, got {probe!r}.")
    out["probe"] = dict(probe) if probe is not None else None
    return out


__all__ = ["TechniqueChoice"]
