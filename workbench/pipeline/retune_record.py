"""retune.json: the record `workbench retune` leaves in the run it makes (pipeline/retune.py).

Its own module, below the documents that quote it and the retune flow that writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..rundir import Artifact


@dataclass
class RetuneRecord(Artifact):
    """retune.json: which run this one repeats on which new base, and what each training cost."""

    FILE = "retune_json"
    MADE_BY = "`workbench retune` (pipeline/retune.py)"

    previous_run: str
    previous_model: str
    model: str
    parameters_from: str  # the previous run's file the parameters came from
    started: str
    previous_train_seconds: float | None = None
    previous_flops: float | None = None
    status: str = "running"  # running | ok | failed
    train_seconds: float | None = None
    flops: float | None = None
    pipeline_seconds: float | None = None

    def recurring_line(self) -> str:
        """The model card's sentence: what this re-tune repeats and what the repeat costs."""
        before = _cost(self.previous_train_seconds, self.previous_flops)
        now = _cost(self.train_seconds, self.flops)
        line = (
            f"This run re-tunes `{Path(self.previous_run).name}` (base `{self.previous_model}`) on "
            f"`{self.model}` with the same parameters (`workbench retune`). The previous training "
            f"took {before}"
        )
        line += f"; this one {now}." if self.train_seconds is not None else "."
        return line + (
            " Budget a re-tune like this each time the base model gets a new version: it is a "
            "recurring cost, not a one-off."
        )


def _cost(seconds: float | None, flops: float | None) -> str:
    if seconds is None:
        return "an unrecorded time"
    return f"{seconds:.0f} s" + (f" ({flops:.2e} FLOP)" if flops else "")


__all__ = ["RetuneRecord"]
