"""Labelled texts for classification: one text and one label per row, from any supported source.

Sources are those of `load_dataset` (a path: CSV, TSV, JSONL, JSON, Parquet; a shipped sample name;
a pandas DataFrame; a datasets.Dataset; a list of dicts). Columns are found by name unless given:
text from `text`, `sentence`, `content`, `input`, `prompt` or `message`; the label from `label`,
`labels`, `intent`, `category`, `class` or `target`.

The label set is `labels=` when given (a list, or "a,b,c"), else a shipped sample's labels.json,
else every label seen, sorted. An integer label with `labels=` given is an index into it; without,
it is its own name ("3"). A row with an empty text or label, or a label outside the set, is a
LoadProblem (file, line, field), not a crash; only DataError escapes, when no row is usable or
fewer than two classes remain.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import DataError
from .dataset import SAMPLES_DIR, LoadProblem, Provenance, _open, save_records
from .sources import BadRow, Source

log = logging.getLogger(__name__)

TEXT_FIELDS = ("text", "sentence", "content", "input", "prompt", "message")
LABEL_FIELDS = ("label", "labels", "intent", "category", "class", "target")
# a row holding one of these is a chat, completion or preference example, not a labelled text
NOT_LABELLED = ("messages", "conversations", "chosen", "rejected", "completion", "output")
DETECT_ROWS = 20  # columns are found in this many first readable rows
FORMAT = "labelled"  # Provenance.format of every LabelledDataset

__all__ = ["LabelledDataset", "load_labelled", "is_labelled", "TEXT_FIELDS", "LABEL_FIELDS"]


@dataclass
class LabelledDataset:
    """Texts with one label each. `row_ids[i]` is the source line/row of row i."""

    texts: list[str]
    labels: list[str]  # the label NAME of each row
    label_names: list[str]  # the label set, fixed order: the given list, else sorted()
    provenance: Provenance
    problems: list[LoadProblem] = field(default_factory=list)
    row_ids: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.row_ids:
            self.row_ids = list(range(1, len(self.texts) + 1))
        if not len(self.texts) == len(self.labels) == len(self.row_ids):
            raise ValueError("texts, labels and row_ids must have the same length")
        unknown = sorted(set(self.labels) - set(self.label_names))
        if unknown:
            raise ValueError(f"labels {unknown} are not in label_names {self.label_names}")

    def __len__(self) -> int:
        return len(self.texts)

    def label_ids(self) -> list[int]:
        """The index of each row's label in `label_names` (what a classifier head predicts)."""
        index = {name: i for i, name in enumerate(self.label_names)}
        return [index[label] for label in self.labels]

    def label_counts(self) -> dict[str, int]:
        """Rows per label, in `label_names` order (0 for a label the rows never use)."""
        counts = Counter(self.labels)
        return {name: counts[name] for name in self.label_names}

    def select(self, indices: Sequence[int]) -> LabelledDataset:
        """A new dataset holding only `indices` (positions, not row ids); label set kept."""
        indices = list(indices)
        prov = Provenance(**{**asdict(self.provenance), "rows_loaded": len(indices)})
        return LabelledDataset(
            texts=[self.texts[i] for i in indices],
            labels=[self.labels[i] for i in indices],
            label_names=list(self.label_names),
            provenance=prov,
            problems=list(self.problems),
            row_ids=[self.row_ids[i] for i in indices],
        )

    def head(self, n: int | None) -> LabelledDataset:
        return self if n is None or n >= len(self) else self.select(range(n))

    def fingerprint(self) -> str:
        """sha256 of the label set and the rows: equal content gives an equal fingerprint."""
        h = hashlib.sha256(json.dumps(self.label_names, ensure_ascii=False).encode("utf-8"))
        for record in self.to_records():
            h.update(b"\n" + json.dumps(record, sort_keys=True, ensure_ascii=False).encode("utf-8"))
        return h.hexdigest()

    def to_records(self) -> list[dict[str, str]]:
        return [
            {"text": t, "label": label} for t, label in zip(self.texts, self.labels, strict=True)
        ]

    def save(self, path: Any, *, overwrite: bool = False) -> Any:
        """Write text/label JSONL atomically to a new file; never over the source."""
        return save_records(
            self.to_records(), path, source=self.provenance.source, overwrite=overwrite
        )

    def _repr_html_(self) -> str:
        import html

        p = self.provenance
        return (
            f"<div><b>LabelledDataset</b> {html.escape(p.sample or p.source)}"
            f" &middot; {len(self)} texts &middot; {len(self.label_names)} labels"
            f" &middot; {len(self.problems)} problem(s)</div>"
        )


# -- loading -------------------------------------------------------------------------------------


def load_labelled(
    source: Any,
    *,
    split: str | None = None,
    text_field: str | None = None,
    label_field: str | None = None,
    labels: list[str] | str | None = None,
) -> LabelledDataset:
    """Load texts and labels from `source` (see the module docs); the source is only read.

    text_field / label_field: the column names, when they are not among the usual ones.
    labels: the label set in its fixed order (a list or "a,b,c"); rows outside it are problems.
    A LabelledDataset is returned as is, or re-checked against `labels` when they are given.
    """
    names = _label_set(labels)
    if isinstance(source, LabelledDataset):
        return source if names is None else _relabel(source, names)
    src = _open(source, split=split)
    if names is None and src.sample is not None:
        names = _sample_labels(src.sample)
    rows = list(src.rows)
    if not rows:
        raise DataError(f"{src.label}: no rows found (the source is empty).")
    text_col, label_col = _columns(src, rows, text_field, label_field)
    texts, row_labels, row_ids, problems = [], [], [], []
    for line, row in rows:
        try:
            text, label = _row(row, text_col, label_col, names)
        except _Bad as bad:
            problems.append(LoadProblem(src.label, line, bad.field, bad.message, bad.hint))
            continue
        texts.append(text)
        row_labels.append(label)
        row_ids.append(line)
    prov = Provenance(
        source=src.label,
        format=FORMAT,
        sha256=src.sha256,
        rows_read=len(rows),
        rows_loaded=len(texts),
        sample=src.sample,
        split=src.split,
    )
    return _finish(
        src.label, texts, row_labels, row_ids, problems, names, prov, (text_col, label_col)
    )


def is_labelled(source: Any, *, split: str | None = None) -> bool:
    """Cheap check: do the first rows have a text and a label column (and nothing chat-like)?"""
    if isinstance(source, LabelledDataset):
        return True
    try:
        src = _open(source, split=split)
        first = []
        for _, row in src.rows:
            if isinstance(row, Mapping):
                first.append(row)
            if len(first) >= 5:
                break
    except DataError:
        return False
    if not first or any(key in row for row in first for key in NOT_LABELLED):
        return False
    keys = _keys(first)
    return _pick(keys, TEXT_FIELDS) is not None and _pick(keys, LABEL_FIELDS) is not None


def _label_set(labels: list[str] | str | None) -> list[str] | None:
    if labels is None:
        return None
    names = labels.split(",") if isinstance(labels, str) else list(labels)
    names = [str(name).strip() for name in names]
    duplicates = sorted(name for name, n in Counter(names).items() if n > 1)
    if "" in names or duplicates:
        raise DataError(
            f"labels= must name each label once, without empty names; got {names!r}"
            + (f" (repeated: {', '.join(duplicates)})." if duplicates else ".")
        )
    if len(names) < 2:
        raise DataError(f"labels= names {len(names)} label(s); a classifier needs at least two.")
    return names


def _sample_labels(name: str) -> list[str] | None:
    """A shipped sample's label set (its labels.json), so every split has the same class ids."""
    path = SAMPLES_DIR / name / "labels.json"
    return _label_set(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else None


def _keys(rows: list[Mapping]) -> list[str]:
    """Column names in first-seen order."""
    return list(dict.fromkeys(str(k) for row in rows for k in row))


def _pick(keys: list[str], candidates: tuple[str, ...]) -> str | None:
    lowered = {k.lower(): k for k in keys}
    return next((lowered[c] for c in candidates if c in lowered), None)


def _columns(
    src: Source, rows: list, text_field: str | None, label_field: str | None
) -> tuple[str, str]:
    """The text and label column: the given names (checked) or the first usual name present."""
    first = [row for _, row in rows if isinstance(row, Mapping)][:DETECT_ROWS]
    if not first:
        line, bad = rows[0]
        why = (
            bad.message if isinstance(bad, BadRow) else f"expected a row, got {type(bad).__name__}"
        )
        raise DataError(f"{src.label}: no readable rows (line {line}: {why})")
    keys = _keys(first)
    found = ", ".join(keys[:20]) or "(none)"
    picked = []
    for given, candidates, what, arg in (
        (text_field, TEXT_FIELDS, "text", "text_field"),
        (label_field, LABEL_FIELDS, "label", "label_field"),
    ):
        column = given if given is not None else _pick(keys, candidates)
        if column is None or column not in keys:
            looked = (
                f"the column {given!r}" if given else f"a {what} column ({', '.join(candidates)})"
            )
            raise DataError(
                f"{src.label}: no {what} column found: looked for {looked}; the columns are "
                f"{found}. Pass {arg}='<your column>', or rename the column."
            )
        picked.append(column)
    if picked[0] == picked[1]:
        raise DataError(f"{src.label}: the text and the label are the same column {picked[0]!r}.")
    return picked[0], picked[1]


class _Bad(Exception):
    def __init__(self, field: str | None, message: str, hint: str = ""):
        self.field, self.message, self.hint = field, message, hint


def _row(row: Any, text_col: str, label_col: str, names: list[str] | None) -> tuple[str, str]:
    """One raw row as (text, label name), or _Bad naming the field."""
    if isinstance(row, BadRow):
        raise _Bad(None, row.message, row.hint)
    if not isinstance(row, Mapping):
        raise _Bad(None, f"expected a row with fields, got {type(row).__name__}.")
    text = row.get(text_col)
    if not isinstance(text, str) or not text.strip():
        what = (
            "is empty" if _missing(text) or isinstance(text, str) else f"is a {type(text).__name__}"
        )
        raise _Bad(text_col, f"the text {what}.", "Give every row a non-empty text, or drop it.")
    return text, _label(row.get(label_col), label_col, names)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _label(value: Any, column: str, names: list[str] | None) -> str:
    """The label name of a raw value: a name, or an integer index into `names` when they are given."""
    if _missing(value) or (isinstance(value, str) and not value.strip()):
        raise _Bad(column, "the label is empty.", "Give every row a label, or drop it.")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _Bad(
            column, f"expected a label name or number, got {type(value).__name__} {value!r}."
        )
    name = str(value).strip()
    index = _as_index(value)
    if index is not None and names is None:
        return str(index)  # 3, 3.0 and "3" are one class
    if names is None or name in names:
        return name
    if index is not None and not all(n.lstrip("-").isdigit() for n in names):
        if 0 <= index < len(names):
            return names[index]
        raise _Bad(
            column,
            f"label index {index} is out of range: labels= has {len(names)} names (0..{len(names) - 1}).",
            "Integer labels index into labels=; check the list matches the data.",
        )
    raise _Bad(
        column,
        f"label {name!r} is not in the label set ({', '.join(names)}).",
        "Fix the row, or add the label to labels=.",
    )


def _as_index(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = value.strip()
    return int(text) if text.lstrip("-").isdigit() else None


def _sorted_names(labels: list[str]) -> list[str]:
    """sorted(), numerically when every label is an integer ("2" before "10")."""
    unique = set(labels)
    if all(name.lstrip("-").isdigit() for name in unique):
        return sorted(unique, key=int)
    return sorted(unique)


def _finish(
    label: str,
    texts: list[str],
    row_labels: list[str],
    row_ids: list[int],
    problems: list[LoadProblem],
    names: list[str] | None,
    prov: Provenance,
    columns: tuple[str, str],
) -> LabelledDataset:
    """Check there is something to learn, then build the dataset."""
    if not texts:
        first = "; ".join(str(p) for p in problems[:3])
        raise DataError(
            f"{label}: none of the {len(problems)} row(s) has a usable text and label (text column "
            f"{columns[0]!r}, label column {columns[1]!r}). First problems: {first}. Fix the rows, "
            "or pass text_field=/label_field=/labels= to match the data."
        )
    seen = sorted(set(row_labels))
    if names is not None and len(names) < 2:
        raise DataError(
            f"{label}: the label set {names} has one label; a classifier needs at least two "
            "classes. Name them all in labels=."
        )
    # with the label set given, rows of one class are a valid held-out set (training checks its
    # own split); without it, one class is all the classifier would ever know
    if names is None and len(seen) < 2:
        raise DataError(
            f"{label}: every usable row has the label {seen[0]!r} ({len(texts)} row(s)); a "
            f"classifier needs at least two classes. Check the label column {columns[1]!r}."
        )
    if problems:
        log.warning(
            "%s: loaded %d of %d rows; %d problem(s), first: %s",
            label,
            len(texts),
            len(texts) + len(problems),
            len(problems),
            problems[0],
        )
    return LabelledDataset(
        texts=texts,
        labels=row_labels,
        label_names=names if names is not None else _sorted_names(row_labels),
        provenance=prov,
        problems=problems,
        row_ids=row_ids,
    )


def _relabel(ds: LabelledDataset, names: list[str]) -> LabelledDataset:
    """`ds` checked against a new label set: rows outside it become problems."""
    keep, problems = [], list(ds.problems)
    for i, label in enumerate(ds.labels):
        try:
            _label(label, "label", names)
            keep.append(i)
        except _Bad as bad:
            problems.append(
                LoadProblem(ds.provenance.source, ds.row_ids[i], bad.field, bad.message, bad.hint)
            )
    sub = ds.select(keep)
    prov = Provenance(**{**asdict(sub.provenance), "rows_loaded": len(keep)})
    return _finish(
        ds.provenance.source,
        sub.texts,
        [_label(label, "label", names) for label in sub.labels],
        sub.row_ids,
        problems,
        names,
        prov,
        ("text", "label"),
    )
