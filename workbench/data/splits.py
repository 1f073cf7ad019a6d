"""The one rule for which rows are trained on and which are held out, shared by every stage.

In order: evaluation data given explicitly (a dataset, a file, conversations) is the eval split,
used whole; `eval_dataset="none"` means no eval split; otherwise a shipped sample or a folder that
holds `eval.jsonl` brings its own eval split; otherwise, when `carve` is set (training and the
comparison of a run), a seeded `eval_fraction` of the training rows is held out. Inspection does
not carve (it reports on the whole file); training, the comparison and the bias probe do, with the
run's seed, so they hold out exactly the same rows.

Labelled data (one text and one label per row, for classification) follows the same order in
`resolve_labelled_splits`; there the carved share is stratified, so every class keeps its share
in both splits, and a capped split is drawn the same way.

Replay (`mix_replay`) adds general conversations to the training split only, after the split is
made: the eval split stays the task's, so eval loss and scores measure the task alone.

`split="by_template"` asks for a generalisation split: the held-out rows are whole template
clusters of the training data (rows whose prompts collapse to one shape once names, numbers, codes
and dates are masked; inspection/diversity.py), so no eval row shares a template with a training
row. It carves from the training data even when a sample brings its own eval split (a shipped eval
split shares the templates of its train split); explicit evaluation data still wins.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError
from .dataset import ChatDataset, Provenance, list_samples, load_dataset

SPLITS = ("random", "by_template", "by_field")  # how rows are held out when no eval data is given
MAX_REPLAY_SHARE = 0.9  # at least a tenth of every training split is the task itself

log = logging.getLogger(__name__)


@dataclass
class Splits:
    """The conversations to train and evaluate on, and where each came from."""

    train: ChatDataset
    eval: ChatDataset | None  # None: no eval split
    sources: dict[str, str]
    replay_rows: int = 0  # rows of `replay` mixed into `train` (training only; mix_replay)
    replay: str = ""  # where they came from


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
    split_field: str | None = None,
) -> Splits:
    """Train and eval data by the rule above. `dataset`/`eval_dataset`: a sample name, a path, a
    ChatDataset or a list of conversations; `eval_dataset` None means "decide by the rule"."""
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {', '.join(SPLITS)}, got {split!r}.")
    train = as_dataset(dataset, "train")
    if split == "by_template" and eval_dataset is None and carve:
        train, evals = _carve_templates(train, eval_fraction, seed)
        source = f"whole templates, {len(evals)} rows of the training data (split by_template)"
    elif split == "by_field" and eval_dataset is None and carve:
        if not split_field:
            raise ConfigError(
                "split='by_field' needs split_field: the column naming each row's group."
            )
        train, evals, groups = _carve_groups(train, split_field, eval_fraction, seed)
        source = (
            f"whole {split_field} groups, {len(evals)} rows of the training data in {groups} "
            f"group(s) (split by_field)"
        )
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


@dataclass
class LabelSplits:
    """The labelled texts to train and evaluate on, one label set for both, and their sources."""

    train: Any  # LabelledDataset
    eval: Any  # LabelledDataset, or None: no eval split
    label_names: list[str]
    sources: dict[str, str]


def resolve_labelled_splits(
    dataset: Any,
    eval_dataset: Any = None,
    *,
    carve: bool,
    eval_fraction: float = 0.1,
    seed: int = 42,
    labels: Any = None,
    text_field: str | None = None,
    label_field: str | None = None,
    max_train_rows: int | None = None,
    max_eval_rows: int | None = None,
) -> LabelSplits:
    """Train and eval LabelledDatasets by the rule above; the eval split uses the train's labels."""
    from .labelled import load_labelled

    columns = {"text_field": text_field, "label_field": label_field}
    named = isinstance(dataset, (str, Path))
    train = load_labelled(dataset, split="train" if named else None, labels=labels, **columns)
    names = list(train.label_names)
    if _no_eval(eval_dataset):
        evals, source = None, "none"
    elif eval_dataset is not None:
        evals = load_labelled(eval_dataset, labels=names, **columns)
        source = _describe(eval_dataset)
    elif has_eval_split(dataset):
        evals = load_labelled(dataset, split="eval", labels=names, **columns)
        source = f"{_name(dataset)} (eval split)"
    elif carve:
        held = stratified_indices(train.label_ids(), eval_fraction, seed=seed)
        kept = sorted(set(range(len(train))) - set(held))
        evals, train = train.select(held), train.select(kept)
        source = f"{eval_fraction:.0%} of the training data, stratified by label"
    else:
        evals, source = None, "none"
    train = stratified_cap(train, max_train_rows, seed)
    evals = stratified_cap(evals, max_eval_rows, seed) if evals is not None else None
    train_source = train.provenance.sample or train.provenance.source
    return LabelSplits(train, evals, names, {"train": train_source, "eval": source})


def stratified_indices(label_ids: list[int], fraction: float, *, seed: int) -> list[int]:
    """A seeded `fraction` of the rows of every class (at least one where a class has two or more)."""
    by_class: dict[int, list[int]] = {}
    for i, label in enumerate(label_ids):
        by_class.setdefault(label, []).append(i)
    rng = random.Random(seed)
    chosen: list[int] = []
    for label in sorted(by_class):
        rows = by_class[label]
        rng.shuffle(rows)
        take = min(len(rows) - 1, max(1, round(len(rows) * fraction))) if len(rows) > 1 else 0
        chosen += rows[:take]
    return sorted(chosen)


def stratified_cap(ds: Any, limit: int | None, seed: int) -> Any:
    """At most `limit` rows of a LabelledDataset, drawn stratified so the class shares stay."""
    if limit is None or len(ds) <= limit:
        return ds
    return ds.select(stratified_indices(ds.label_ids(), limit / len(ds), seed=seed)[:limit])


def replay_rows(task_rows: int, share: float) -> int:
    """How many replay rows make them `share` of the mixed split: n / (task + n) = share."""
    if share <= 0 or task_rows <= 0:
        return 0
    return round(task_rows * share / (1.0 - share))


def mix_replay(
    train: ChatDataset, replay: Any, *, share: float, seed: int
) -> tuple[ChatDataset, int]:
    """`train` with replay conversations appended so they are `share` of the rows; (mixed, n added).

    The rows are drawn in a seeded order (same seed, same rows); a replay set smaller than needed
    is used whole, then again in a new order (logged). The task's provenance is kept: the result
    describes the task data, and `SplitData.replay_rows` says how much was mixed in.
    """
    if not 0.0 <= share <= MAX_REPLAY_SHARE:
        raise ConfigError(f"replay_share must be in [0, {MAX_REPLAY_SHARE}], got {share!r}.")
    n = replay_rows(len(train), share)
    if n == 0:
        return train, 0
    pool = as_dataset(replay, "train")
    if not len(pool):
        raise DataError(f"replay={replay!r}: no conversations loaded; name a dataset with rows.")
    rng = random.Random(f"replay:{seed}")
    picked: list[int] = []
    while len(picked) < n:
        order = list(range(len(pool)))
        rng.shuffle(order)
        picked += order[: n - len(picked)]
    if n > len(pool):
        log.warning(
            "replay_share=%s asks for %d replay rows; %s has %d, so rows repeat (%.1f times each).",
            share,
            n,
            _describe(replay, pool),
            len(pool),
            n / len(pool),
        )
    extra = pool.select(picked)
    mixed = ChatDataset(
        conversations=train.conversations + extra.conversations,
        provenance=train.provenance,
        problems=list(train.problems),
        row_ids=train.row_ids + extra.row_ids,
    )
    return mixed, n


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


def field_values(ds: ChatDataset, name: str) -> list[str]:
    """The value of column `name` for each row of `ds`, read from its source file by row number
    (the loader keeps conversations only). Every row needs a non-empty value."""
    from .sources import BadRow, open_file

    source = Path(ds.provenance.source)
    if not source.is_file():
        raise DataError(
            f"split_field={name!r}: the rows come from {ds.provenance.source}, not a data file, so "
            "there is no column to read. Save the data as JSONL/CSV/Parquet with that column."
        )
    rows = {n: r for n, r in open_file(source).rows if not isinstance(r, BadRow)}
    values = []
    for line in ds.row_ids:
        row = rows.get(line)
        value = row.get(name) if isinstance(row, dict) else None
        if value is None or not str(value).strip():
            found = ", ".join(sorted(map(str, row))) if isinstance(row, dict) else "none"
            raise DataError(
                f"{source}, line {line}: no value in field {name!r} (split_field), which names "
                f"the row's group. Fields in this row: {found}. Give every row a {name!r}, or "
                "use split='random'."
            )
        values.append(str(value).strip())
    return values


def _carve_groups(
    ds: ChatDataset, name: str, fraction: float, seed: int
) -> tuple[ChatDataset, ChatDataset, int]:
    """Whole groups of column `name`, in a seeded order, go to eval until they hold `fraction`
    of the rows (at least one group stays in training); also returns how many groups were held."""
    groups = field_values(ds, name)
    size = Counter(groups)
    if len(size) < 2:
        raise DataError(
            f"split_field={name!r}: all {len(ds)} rows belong to one group "
            f"({next(iter(size), '-')!r}), so no whole group can be held out. Give an "
            "eval_dataset, or split='random'."
        )
    order = sorted(size)
    random.Random(seed).shuffle(order)
    target, held, rows = max(1, round(len(ds) * fraction)), set(), 0
    for g in order[:-1]:
        if rows >= target:
            break
        held.add(g)
        rows += size[g]
    train = ds.select([i for i, g in enumerate(groups) if g not in held])
    return train, ds.select([i for i, g in enumerate(groups) if g in held]), len(held)


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
