"""Scores of predicted labels against true ones: accuracy, macro-F1, the confusion matrix, and paired intervals.

Labels are integer ids into one label list. Macro-F1 averages the per-class F1 over the classes
that occur in the truth or the predictions (a class nobody has and nobody predicts is left out,
as scikit-learn does with `labels=None`), so a rare class weighs as much as a common one: the
number that shows whether the small queues are handled at all. Intervals resample rows and
recompute the score (F1 is not a mean of per-row scores); two predictors are compared on the
same resampled rows (paired), so the interval of their difference is narrow when they agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

ScoreFn = Callable[[Any, Any, int], float]  # (true ids, predicted ids, number of classes) -> score


def confusion(truth: Sequence[int], predicted: Sequence[int], n_classes: int) -> list[list[int]]:
    """counts[t][p]: rows of true class t predicted as p."""
    import numpy as np

    flat = np.asarray(truth, dtype=int) * n_classes + np.asarray(predicted, dtype=int)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, -1).tolist()


def accuracy(truth: Any, predicted: Any, n_classes: int = 0) -> float:
    import numpy as np

    truth, predicted = np.asarray(truth), np.asarray(predicted)
    return float((truth == predicted).mean()) if len(truth) else 0.0


def per_class(truth: Any, predicted: Any, n_classes: int) -> dict[str, Any]:
    """Precision, recall, F1 and support (true rows) per class id, as lists indexed by class."""
    import numpy as np

    counts = np.asarray(confusion(truth, predicted, n_classes), dtype=float)
    hits = np.diag(counts)
    support, claimed = counts.sum(axis=1), counts.sum(axis=0)
    precision = np.divide(hits, claimed, out=np.zeros_like(hits), where=claimed > 0)
    recall = np.divide(hits, support, out=np.zeros_like(hits), where=support > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(hits), where=both > 0)
    return {
        "precision": precision.tolist(),
        "recall": recall.tolist(),
        "f1": f1.tolist(),
        "support": support.astype(int).tolist(),
        "present": ((support + claimed) > 0).tolist(),
    }


def macro_f1(truth: Any, predicted: Any, n_classes: int) -> float:
    import numpy as np

    scores = per_class(truth, predicted, n_classes)
    present = np.asarray(scores["present"])
    return float(np.asarray(scores["f1"])[present].mean()) if present.any() else 0.0


METRICS: dict[str, ScoreFn] = {"accuracy": accuracy, "macro_f1": macro_f1}
TITLES = {"accuracy": "accuracy", "macro_f1": "macro-F1"}  # how pages and summaries name them


def paired_intervals(
    truth: Sequence[int],
    predictions: Mapping[str, Sequence[int]],
    n_classes: int,
    *,
    score: ScoreFn,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap interval of `score` for each predictor, all on the same resampled rows.

    The returned dict also holds "<a> - <b>" for every ordered pair of predictors: the interval
    of the paired difference.
    """
    import numpy as np

    truth = np.asarray(truth, dtype=int)
    preds = {name: np.asarray(p, dtype=int) for name, p in predictions.items()}
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(truth), size=(n_boot, len(truth)))
    draws = {
        name: np.array([score(truth[i], p[i], n_classes) for i in idx]) for name, p in preds.items()
    }
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    out = {
        name: (float(np.percentile(d, lo)), float(np.percentile(d, hi)))
        for name, d in draws.items()
    }
    for a in draws:
        for b in draws:
            if a != b:
                diff = draws[a] - draws[b]
                out[f"{a} - {b}"] = (float(np.percentile(diff, lo)), float(np.percentile(diff, hi)))
    return out


def points(delta: float) -> str:
    """A difference of two shares in percentage points: 0.487 -> '+48.7 pts'."""
    return f"{delta * 100:+.1f} pts"
