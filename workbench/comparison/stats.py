"""Paired statistics of base-vs-tuned scores: means, percentile bootstrap intervals, wins / losses / ties.

The same prompts are asked of both models, so the comparison is paired: intervals resample
prompts (not scores) and the difference is taken per prompt before averaging.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class MetricSummary:
    """Means on both sides, the paired difference with 95% bootstrap intervals, and who won per prompt."""

    name: str
    n: int
    base_mean: float | None
    tuned_mean: float | None
    delta: float | None
    base_ci: tuple[float, float] | None
    tuned_ci: tuple[float, float] | None
    delta_ci: tuple[float, float] | None
    wins: int
    losses: int
    ties: int


def summarise(
    rows: Sequence[Any], names: list[str], *, n_boot: int = 1000, seed: int = 0
) -> dict[str, MetricSummary]:
    return {name: summarise_metric(rows, name, n_boot=n_boot, seed=seed) for name in names}


def summarise_metric(
    rows: Sequence[Any], name: str, *, n_boot: int = 1000, seed: int = 0
) -> MetricSummary:
    """Paired summary over the rows (with `base_scores` / `tuned_scores` dicts) where both sides
    have a score for `name`; None scores are left out."""
    import numpy as np

    pairs = [(r.base_scores[name], r.tuned_scores[name]) for r in rows]
    pairs = [(b, t) for b, t in pairs if b is not None and t is not None]
    if not pairs:
        return MetricSummary(name, 0, None, None, None, None, None, None, 0, 0, 0)
    base, tuned = np.array(pairs, dtype=float).T
    diff = tuned - base
    ci = bootstrap_cis({"base": base, "tuned": tuned, "delta": diff}, n_boot=n_boot, seed=seed)
    eps = 1e-9
    return MetricSummary(
        name,
        len(pairs),
        float(base.mean()),
        float(tuned.mean()),
        float(diff.mean()),
        ci["base"],
        ci["tuned"],
        ci["delta"],
        int((diff > eps).sum()),
        int((diff < -eps).sum()),
        int((abs(diff) <= eps).sum()),
    )


def bootstrap_cis(
    series: Mapping[str, Any], *, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of the mean; the same resampled prompts for every series (paired)."""
    import numpy as np

    first = next(iter(series.values()))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(first), size=(n_boot, len(first)))
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    out = {}
    for key, values in series.items():
        means = np.asarray(values, dtype=float)[idx].mean(axis=1)
        out[key] = (float(np.percentile(means, lo)), float(np.percentile(means, hi)))
    return out
