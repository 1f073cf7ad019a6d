"""Deciding from a lever trial's scores: fine-tuning's paired lead, the learning curve, the recommendation.

Pure functions of the measured scores (no model): fine-tuning is recommended only when its lead
over the best prompt-only arm, paired on the same rows, is above the margin and its 95% bootstrap
interval above zero; otherwise the cheaper lever is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ..errors import ConfigError
from .learning_curve import fit_curve
from .lever_result import Arm, LeverTrial, _ci, _pct, _pts


def decide(trial: LeverTrial, *, n_boot: int = 1000, seed: int = 0) -> LeverTrial:
    """Fill in fine-tuning's paired lead, the learning curve and the recommendation from the scores."""
    metric = trial.metric
    prompt_only, tuned = trial.best("prompt", "rag"), trial.best("finetune")
    fine_tunes = [  # the learning curve: free decoding only, one point per slice
        a
        for a in trial.arms
        if a.lever == "finetune"
        and a.mean(metric) is not None
        and not (a.detail or {}).get("constrained")
    ]
    curve = None
    if len({a.train_rows for a in fine_tunes}) >= 2:
        ordered = sorted(fine_tunes, key=lambda a: a.train_rows or 0)
        curve = fit_curve(
            metric, [a.train_rows or 0 for a in ordered], [a.mean(metric) for a in ordered]
        )  # type: ignore[misc]
    lead = ci = None
    if prompt_only is not None and tuned is not None:
        lead, ci = _paired_lead(
            tuned.scores[metric], prompt_only.scores[metric], n_boot=n_boot, seed=seed
        )
    recommendation, reasons = _recommend(trial, prompt_only, tuned, lead, ci)
    if curve is not None:
        reasons.append(curve.verdict())
    if trial.advisor:
        agrees = trial.advisor.lower().startswith(
            {"prompt": "prompt", "rag": "retrieval", "finetune": "fine"}[recommendation]
        )
        reasons.append(
            f"The advisor's answer from your questions was: {trial.advisor}"
            + ("" if agrees else " (the measurement disagrees)")
            + "."
        )
    return replace(
        trial,
        recommendation=recommendation,
        reasons=reasons,
        finetune_lead=lead,
        finetune_lead_ci=ci,
        curve=curve,
    )


def _recommend(
    trial: LeverTrial,
    prompt_only: Arm | None,
    tuned: Arm | None,
    lead: float | None,
    ci: list[float] | None,
) -> tuple[str, list[str]]:
    m = trial.metric
    if tuned is None and prompt_only is None:
        raise ConfigError(f"No arm has a {m} score to decide on.")
    if tuned is None:
        return prompt_only.lever, [
            f"Only prompt-only arms ran; the best is {prompt_only.name} ({m} {_pct(prompt_only.mean(m))})."
        ]  # type: ignore[union-attr]
    if prompt_only is None or lead is None:
        return "finetune", [
            f"Only fine-tunes ran; the best is {tuned.name} ({m} {_pct(tuned.mean(m))})."
        ]
    said = (
        f"{tuned.name} scores {_pct(tuned.mean(m))} on {m}, the best prompt-only arm ({prompt_only.name}) "
        f"{_pct(prompt_only.mean(m))}: fine-tuning leads by {_pts(lead)} points {_ci(ci, points=True)} on the same rows."
    )
    if lead >= trial.margin and ci is not None and ci[0] > 0:
        return "finetune", [
            said,
            f"That is more than the {100 * trial.margin:.0f}-point margin, and the interval is above zero: fine-tuning is worth its cost here.",
        ]
    if lead >= trial.margin:
        return prompt_only.lever, [
            said,
            f"The lead is above the margin but its interval reaches zero on {len(trial.row_ids)} rows: not clearly better. Prefer the cheaper lever, or measure on more eval rows.",
        ]
    return prompt_only.lever, [
        said,
        f"That is less than the {100 * trial.margin:.0f}-point margin: {prompt_only.name} is the cheaper way to this score (no training, nothing to host).",
    ]


def _paired_lead(
    tuned: list[float | None], other: list[float | None], *, n_boot: int, seed: int
) -> tuple[float | None, list[float] | None]:
    from ..comparison.stats import bootstrap_cis

    diffs = [t - o for t, o in zip(tuned, other, strict=True) if t is not None and o is not None]
    if not diffs:
        return None, None
    lo, hi = bootstrap_cis({"d": diffs}, n_boot=n_boot, seed=seed)["d"]
    return sum(diffs) / len(diffs), [lo, hi]


def means_and_intervals(
    scores: Mapping[str, list[float | None]], *, n_boot: int, seed: int
) -> tuple[dict[str, float | None], dict[str, list[float] | None]]:
    from ..comparison.stats import bootstrap_cis

    means: dict[str, float | None] = {}
    intervals: dict[str, list[float] | None] = {}
    for metric, values in scores.items():
        kept = [v for v in values if v is not None]
        means[metric] = sum(kept) / len(kept) if kept else None
        intervals[metric] = (
            list(bootstrap_cis({"m": kept}, n_boot=n_boot, seed=seed)["m"]) if kept else None
        )
    return means, intervals


__all__ = ["decide", "means_and_intervals"]
