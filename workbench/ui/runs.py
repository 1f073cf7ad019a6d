"""Many runs, interactively: the overlaid loss curves against the axis you pick (step, tokens, time)."""

from __future__ import annotations

import json
from typing import Any

import ipywidgets as w

from ..comparison.runs import AXES, RunsComparison, runs_loss_figure


class RunsView:
    """An axis toggle over the runs' loss curves; `widget` is what the notebook displays."""

    def __init__(self, runs: RunsComparison, *, axis: str = "step"):
        self.runs = runs
        self.axis = w.ToggleButtons(
            options=[(label, key) for key, label in AXES.items()], value=axis, description="x axis"
        )
        self.out = w.Output()
        self.axis.observe(lambda change: self.redraw(), names="value")
        self.widget = w.VBox([self.axis, self.out])
        self.redraw()

    def figure(self) -> Any:
        return runs_loss_figure(self.runs.runs, x=self.axis.value)

    def redraw(self) -> None:
        """Replace the Output's content with the figure's bundle (works from any thread, no kernel)."""
        try:
            bundle = {"application/vnd.plotly.v1+json": json.loads(self.figure().to_json())}
        except Exception as exc:  # shown under the toggle, not lost in a callback
            bundle = {"text/plain": f"{type(exc).__name__}: {exc}"}
        bundle.setdefault("text/plain", f"loss by {self.axis.value}")
        self.out.outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)
