"""Compare a finished run: find its held-out data, ask base and tuned, write comparison.json/.html and figures.

The one call notebook 04 (headless and interactive) and `workbench compare RUN_DIR` share.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..rundir import RunDir
from .comparison import Comparison, ConstrainedComparison, by_template, compare
from .generation import GenerationSettings, ModelPair, load_run

log = logging.getLogger(__name__)


def held_out(run_dir: str | Path, *, eval_dataset: str | None = None) -> Any:
    """The prompts to compare on: `eval_dataset` when given (a name or file), else the ChatDataset of the
    same split training evaluated on (the config's eval_dataset, the sample's eval split, or the
    seeded slice of the training data), without the training-time `max_eval_rows` cap."""
    return _held_out(run_dir, eval_dataset, run_splits(run_dir) if not eval_dataset else None)


def run_splits(run_dir: str | Path) -> Any:
    """The run's train and eval `Splits` by the one split policy (eval without the training-time
    `max_eval_rows` cap), or None without a saved train_config.yaml."""
    from ..config import TrainConfig
    from ..training.batching import load_splits

    cfg = TrainConfig.load_optional(run_dir)
    return None if cfg is None else load_splits(cfg.replace(max_eval_rows=None))


def _held_out(run_dir: str | Path, eval_dataset: str | None, splits: Any) -> Any:
    if eval_dataset:
        return eval_dataset  # compare() loads it (a sample's eval split, or the file)
    if splits is None:
        raise ConfigError(
            f"{RunDir(run_dir).train_config_yaml}: not found, so the held-out data is unknown. "
            "Pass eval_dataset=... (a sample name or a file)."
        )
    return splits.eval


def compare_run(
    run_dir: str | Path,
    *,
    pair: ModelPair | None = None,
    eval_dataset: str | None = None,
    probe_dataset: str | None = "general-probe",
    max_eval_prompts: int | None = None,
    max_probe_prompts: int | None = None,
    max_new_tokens: int = 256,
    batch_size: int = 8,
    do_sample: bool = False,
    constrain: bool = False,
    schema: dict[str, Any] | None = None,
    forgetting_margin: float = 0.05,
    perplexity_margin: float = 0.25,
    save: bool = True,
) -> Comparison:
    """compare() on the run's held-out data and the probe set; with `save`, write the artifacts.

    constrain: decode both models against the task's JSON schema and write
    constrained_comparison.json instead (ConstrainedComparison; no probe: it is free text).
    schema: the JSON schema for the metrics and the constraint; default: the trained sample's.
    """
    pair = pair or load_run(run_dir)
    splits = run_splits(run_dir)  # once: by_template below needs the training rows too
    prompts = _held_out(run_dir, eval_dataset, splits)
    probe = probe_dataset if probe_dataset and str(probe_dataset).lower() != "none" else None
    sample_schema, style = _task_checks(run_dir)
    schema = schema if schema is not None else sample_schema
    if constrain:
        probe = None
    result = compare(
        tuned=pair,
        prompts=prompts,
        probe=probe,
        schema=schema,
        style=style,
        max_prompts=max_eval_prompts,
        max_probe_prompts=max_probe_prompts,
        generation=GenerationSettings(
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            do_sample=do_sample,
            constrain=constrain,
        ),
        forgetting_margin=forgetting_margin,
        perplexity_margin=perplexity_margin,
    )
    if splits is not None and "interrupted_after" not in result.seconds:
        result.by_template = by_template(result, splits.train)
    if save:
        write_comparison(result, run_dir)
    return result


def _task_checks(run_dir: str | Path) -> tuple[Any, Any]:
    """The JSON schema and style checks of the sample the run trained on, so that other eval data
    (e.g. orders-json's hand-written orders, as a file) is scored by the same task checks."""
    from ..config import TrainConfig
    from ..data.dataset import sample_schema
    from .comparison import _is_sample, _sample_style

    cfg = TrainConfig.load_optional(run_dir)
    name = str(cfg.dataset) if cfg is not None else ""
    return (sample_schema(name), _sample_style(name)) if _is_sample(name) else (None, None)


def write_comparison(result: Comparison, run_dir: str | Path) -> dict[str, Path]:
    """comparison.json, comparison.html and figures/comparison.html (self-contained, plotly inside)."""
    from ..plots import comparison_figures, write_figures_html

    paths = result.save(run_dir)
    if isinstance(result, ConstrainedComparison):  # the figures stay those of free decoding
        return paths
    paths["figures"] = write_figures_html(
        comparison_figures(result), RunDir(run_dir).comparison_figures_html, title="Base vs tuned"
    )
    return paths
