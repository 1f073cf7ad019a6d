"""What more data would buy: a power law fitted to scores measured on nested slices of the training data.

The error (1 - score, for a score in [0, 1]) of a model trained on n rows is fitted as
`error = a * n ** -b`, a straight line in log-log space (least squares), the usual shape of
learning curves. From two or three points it is a rough guide, not a forecast: it says whether
the curve is still falling and about how fast, and `predict` clips to [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

FLOOR = 1e-3  # an error of 0 on a handful of rows is "at least as good as 1 in 1000"


@dataclass
class LearningCurve:
    """Measured (rows, score) points and the fitted power law; `slope` None when it cannot be fitted."""

    metric: str
    rows: list[int]
    scores: list[float]
    scale: float | None = None  # a
    slope: float | None = None  # b: how fast the error falls with more rows (0: not at all)
    forecast: dict[str, float] = field(default_factory=dict)  # "2x", "4x" -> predicted score

    def predict(self, rows: float) -> float | None:
        if self.scale is None or self.slope is None:
            return None
        return min(1.0, max(0.0, 1.0 - self.scale * rows**-self.slope))

    def verdict(self) -> str:
        """One sentence on what more data of this kind would buy."""
        if self.slope is None:
            return f"Too few points to fit a learning curve for {self.metric}."
        last = self.scores[-1]
        if self.slope <= 0.05:
            return (
                f"The learning curve of {self.metric} is flat ({_pct(last)} at {self.rows[-1]} rows): "
                "more rows like these are not predicted to help; better or more varied rows might."
            )
        two = self.forecast.get("2x")
        return (
            f"{self.metric} rose from {_pct(self.scores[0])} ({self.rows[0]} rows) to {_pct(last)} "
            f"({self.rows[-1]} rows); a fitted power law predicts {_pct(two)} with twice the rows "
            f"(a rough guide from {len(self.rows)} points)."
        )


def fit_curve(metric: str, rows: Sequence[int], scores: Sequence[float]) -> LearningCurve:
    """Fit error = a * n^-b to the (rows, score) points with score in [0, 1]; needs two distinct row counts."""
    rows, scores = [int(r) for r in rows], [float(s) for s in scores]
    curve = LearningCurve(metric, rows, scores)
    if len(set(rows)) < 2 or min(rows) < 1:
        return curve
    xs = [math.log(r) for r in rows]
    ys = [math.log(max(FLOOR, 1.0 - s)) for s in scores]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    slope = -sxy / sxx
    curve.slope, curve.scale = slope, math.exp(mean_y + slope * mean_x)
    n = max(rows)
    curve.forecast = {f"{k}x": curve.predict(k * n) for k in (2, 4)}  # type: ignore[misc]
    return curve


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


__all__ = ["LearningCurve", "fit_curve"]
