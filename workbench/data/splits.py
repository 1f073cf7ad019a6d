"""The one rule for which rows are trained on and which are held out, shared by every stage.

In order: evaluation data given explicitly (a dataset, a file, conversations) is the eval split,
used whole; `eval_dataset="none"` means no eval split; otherwise a shipped sample or a folder that
holds `eval.jsonl` brings its own eval split; otherwise, when `carve` is set (training and the
comparison of a run), a seeded `eval_fraction` of the training rows is held out. Inspection does
not carve (it reports on the whole file); training, the comparison and the bias probe do, with the
run's seed, so they hold out exactly the same rows.

`split="by_template"` asks for a generalisation split: the held-out rows are whole template
clusters of the training data (rows whose prompts collapse to one shape once names, numbers, codes
and dates are masked; inspection/diversity.py), so no eval row shares a template with a training
row. It carves from the training data even when a sample brings its own eval split (a shipped eval
split shares the templates of its train split); explicit evaluation data still wins.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError
from .dataset import ChatDataset, Provenance, list_samples, load_dataset

SPLITS = ("random", "by_template")  # how rows are held out when no eval data is given


@dataclass
class Splits:
    """The conversations to train and evaluate on, and where each came from."""

    train: ChatDataset
    eval: ChatDataset | None  # None: no eval split
    sources: dict[str, str]


def resolve_splits(
    dataset: Any,
    eval_dataset: Any = None,
    *,
    carve: bool,
    eval_fraction: float = 0.1,
    seed: int = 42,
    max_train_rows: int | None = None,
    max_eval_rows: int | None = None,
    split: str = "random",
) -> Splits:
    """Train and eval data by the rule above. `dataset`/`eval_dataset`: a sample name, a path, a
    ChatDataset or a list of conversations; `eval_dataset` None means "decide by the rule"."""
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {', '.join(SPLITS)}, got {split!r}.")
    train = as_dataset(dataset, "train")
    if split == "by_template" and eval_dataset is None and carve:
        train, evals = _carve_templates(train, eval_fraction, seed)
        source = f"whole templates, {len(evals)} rows of the training data (split by_template)"
    elif _no_eval(eval_dataset):
        evals, source = None, "none"
    elif eval_dataset is not None:
        evals, source = as_dataset(eval_dataset, "eval"), _describe(eval_dataset)
    elif has_eval_split(dataset):
        evals, source = load_dataset(_name(dataset), split="eval"), f"{_name(dataset)} (eval split)"
    elif carve:
        train, evals = _carve(train, eval_fraction, seed)
        source = f"{eval_fraction:.0%} of the training data"
    else:
        evals, source = None, "none"
    train = train.head(max_train_rows)
    evals = evals.head(max_eval_rows) if evals is not None else None
    return Splits(train, evals, {"train": _describe(None, train), "eval": source})


def eval_rows(source: Any) -> ChatDataset:
    """The rows to evaluate on when `source` is named as evaluation data: a sample's (or a
    folder's) eval split, any other file or dataset whole."""
    return (
        load_dataset(_name(source), split="eval")
        if has_eval_split(source)
        else as_dataset(source, "eval")
    )


def has_eval_split(source: Any) -> bool:
    """A shipped sample, or a folder holding eval.jsonl."""
    if not isinstance(source, (str, Path)):
        return False
    if str(source) in list_samples():
        return True
    return Path(source).is_dir() and (Path(source) / "eval.jsonl").is_file()


def as_dataset(source: Any, split: str) -> ChatDataset:
    if isinstance(source, ChatDataset):
        return source
    if isinstance(source, list) and all(isinstance(c, list) for c in source):
        return ChatDataset(
            conversations=source, provenance=Provenance(source="<conversations>", format="chat")
        )
    if isinstance(source, (str, Path)) and (str(source) in list_samples() or Path(source).is_dir()):
        return load_dataset(_name(source), split=split)
    return load_dataset(source)


def _carve(ds: ChatDataset, fraction: float, seed: int) -> tuple[ChatDataset, ChatDataset]:
    order = list(range(len(ds)))
    random.Random(seed).shuffle(order)
    n_eval = max(1, round(len(ds) * fraction)) if len(ds) > 1 else 0
    return ds.select(sorted(order[n_eval:])), ds.select(sorted(order[:n_eval]))


def _carve_templates(
    ds: ChatDataset, fraction: float, seed: int
) -> tuple[ChatDataset, ChatDataset]:
    """Whole template clusters, in a seeded order, go to eval until they hold `fraction` of the
    rows; a dataset that is one single template cannot be split this way and says so."""
    from ..inspection.diversity import template_ids  # a leaf module: plain Python, no data import

    ids = template_ids(ds)
    size = Counter(ids)
    clusters = sorted(size)
    if len(clusters) < 2:
        raise DataError(
            f"split='by_template': all {len(ds)} training rows share one template, so no whole "
            "template can be held out. Add varied examples, or give an eval_dataset."
        )
    random.Random(seed).shuffle(clusters)
    target, held, rows = max(1, round(len(ds) * fraction)), set(), 0
    for c in clusters[:-1]:  # at least one template stays in training
        if rows >= target:
            break
        held.add(c)
        rows += size[c]
    eval_idx = [i for i, c in enumerate(ids) if c in held]
    return ds.select([i for i, c in enumerate(ids) if c not in held]), ds.select(eval_idx)


def _no_eval(eval_dataset: Any) -> bool:
    return eval_dataset is False or (
        isinstance(eval_dataset, str) and eval_dataset.strip().lower() in ("none", "no", "false")
    )


def _name(source: Any) -> str:
    return str(source)


def _describe(source: Any, ds: ChatDataset | None = None) -> str:
    """How a split is named in results and documents: what the user wrote, else its provenance."""
    if isinstance(source, (str, Path)):
        return str(source)
    if ds is not None and (ds.provenance.sample or ds.provenance.source):
        return ds.provenance.sample or ds.provenance.source
    return "given"
