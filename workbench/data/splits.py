"""The one rule for which rows are trained on and which are held out, shared by every stage.

In order: evaluation data given explicitly (a dataset, a file, conversations) is the eval split,
used whole; `eval_dataset="none"` means no eval split; otherwise a shipped sample or a folder that
holds `eval.jsonl` brings its own eval split; otherwise, when `carve` is set (training and the
comparison of a run), a seeded `eval_fraction` of the training rows is held out. Inspection does
not carve (it reports on the whole file); training, the comparison and the bias probe do, with the
run's seed, so they hold out exactly the same rows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .dataset import ChatDataset, Provenance, list_samples, load_dataset


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
) -> Splits:
    """Train and eval data by the rule above. `dataset`/`eval_dataset`: a sample name, a path, a
    ChatDataset or a list of conversations; `eval_dataset` None means "decide by the rule"."""
    train = as_dataset(dataset, "train")
    if _no_eval(eval_dataset):
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
