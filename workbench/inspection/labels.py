"""Checks for labelled (classification) data: class balance, rare classes, label noise, lengths, leakage, PII.

The texts are read through the chat machinery as one user turn each (`as_chat`), so duplicates,
leakage, PII and diversity use the very code the chat report uses. What is new here is about the
labels: how the classes are balanced, which are too rare to learn or to measure, and which rows
are label-noise candidates (identical or near-identical texts that carry different labels).

Severity follows checks.py: an eval text that is also a train text, an eval label the training
set does not have, and personal data are errors; what skews training or the metrics (rare or
empty classes, conflicting labels, truncation, strong imbalance) is a warning.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from ..data.dataset import ChatDataset, Provenance
from ..data.labelled import LabelledDataset, load_labelled
from . import checks
from .checks import Finding, lengths_summary
from .dedup import build_index, find_duplicates
from .diversity import diversity_summary

RARE_SHARE = 0.05  # a class with a smaller share of the rows is rare ...
RARE_ROWS = 10  # ... and so is one with fewer rows than this
IMBALANCE_INFO = 3.0  # largest / smallest class at or above this: say so
IMBALANCE_WARN = 10.0  # ... at or above this: a warning
NOISE_SHOWN = 20  # conflicting clusters listed in the summary


@dataclass
class LabelSummary:
    """The label section of a DatasetReport: balance, lengths and label-noise numbers."""

    label_names: list[str]
    counts: dict[str, int]  # rows per label, label_names order
    shares: dict[str, float]
    imbalance_ratio: float | None  # largest / smallest class with rows; None with one class
    rare: list[str]  # share < RARE_SHARE or rows < RARE_ROWS
    empty: list[str]  # in the label set, without a row
    length_unit: str  # "tokens" (a tokenizer was given) or "words"
    lengths: dict[str, float]  # min, p50, p95, max, mean, total
    lengths_by_label: dict[str, float]  # median length per label (a length shortcut shows here)
    max_length: int | None
    truncated_rows: int
    noise_clusters: int  # clusters of (near) copies whose labels disagree
    noise_rows: int  # rows whose label disagrees with their cluster's
    noise_examples: list[dict[str, Any]] = field(default_factory=list)
    eval_counts: dict[str, int] | None = None  # rows per label in the eval split, when given


def as_chat(ds: LabelledDataset) -> ChatDataset:
    """The texts as one user turn each, row ids kept: what dedup, PII and diversity read."""
    return ChatDataset(
        conversations=[[{"role": "user", "content": text}] for text in ds.texts],
        provenance=Provenance(**asdict(ds.provenance)),
        problems=list(ds.problems),
        row_ids=list(ds.row_ids),
    )


def balance(ds: LabelledDataset) -> dict[str, Any]:
    """Counts, shares, the imbalance ratio, and the rare and empty classes."""
    counts = ds.label_counts()
    shares = {name: round(n / len(ds), 4) for name, n in counts.items()}
    present = [n for n in counts.values() if n]
    rare = [name for name, n in counts.items() if n and (n / len(ds) < RARE_SHARE or n < RARE_ROWS)]
    return {
        "counts": counts,
        "shares": shares,
        "imbalance_ratio": round(max(present) / min(present), 2) if len(present) > 1 else None,
        "rare": rare,
        "empty": [name for name, n in counts.items() if not n],
    }


def balance_findings(ds: LabelledDataset, numbers: dict[str, Any]) -> list[Finding]:
    """Rare and empty classes (one finding each), and the imbalance as a whole."""
    out = []
    for name in numbers["rare"]:
        n = numbers["counts"][name]
        out.append(
            Finding(
                None,
                "label",
                "rare_class",
                "warning",
                f"Class {name!r} has {n} row(s) ({n / len(ds):.1%}): too few to learn it well "
                "or to measure it (its F1 on eval swings with a handful of rows). Add examples "
                f"(at least {RARE_ROWS * 5} is a start), merge it into a related class, or "
                "weight the classes in training.",
                detail={"label": name, "rows": n, "share": numbers["shares"][name]},
            )
        )
    for name in numbers["empty"]:
        out.append(
            Finding(
                None,
                "label",
                "empty_class",
                "warning",
                f"Class {name!r} is in the label set but has no rows: the model can never "
                "predict it correctly. Add examples or drop it from labels=.",
                detail={"label": name},
            )
        )
    ratio = numbers["imbalance_ratio"]
    if ratio is not None and ratio >= IMBALANCE_INFO:
        counts = {k: v for k, v in numbers["counts"].items() if v}
        largest, smallest = max(counts, key=counts.get), min(counts, key=counts.get)
        out.append(
            Finding(
                None,
                "label",
                "class_imbalance",
                "warning" if ratio >= IMBALANCE_WARN else "info",
                f"The classes are imbalanced: {largest!r} has {ratio:g}x the rows of "
                f"{smallest!r}. Accuracy then rewards the large classes; judge the model by "
                "macro-F1 and per-class recall, and consider class weights or more examples of "
                "the small classes.",
                detail={"ratio": ratio, "largest": largest, "smallest": smallest},
            )
        )
    return out


def noise_findings(
    ds: LabelledDataset, view: ChatDataset, *, threshold: float, index=None
) -> tuple[list[Finding], dict[str, Any]]:
    """Label-noise candidates: rows in a cluster of (near) copies whose label is not the cluster's.

    The cluster's label is its most common one (ties: its first row's); every other row is flagged,
    pointing at a row that carries the cluster's label.
    """
    index = index or build_index(view.conversations, threshold=threshold)
    out, examples, conflicting = [], [], 0
    for cluster in find_duplicates(view.conversations, threshold=threshold, index=index):
        # near and sibling clusters list one row per exact group: bring the group's copies back
        members = sorted({m for i in cluster.members for m in index.groups.get(i, [i])})
        labels = [ds.labels[i] for i in members]
        if len(set(labels)) < 2:
            continue
        conflicting += 1
        counts = Counter(labels)
        main = next(label for label in labels if counts[label] == max(counts.values()))
        anchor = ds.row_ids[next(i for i in members if ds.labels[i] == main)]
        how = "the same text as" if cluster.exact else "a near copy of"
        out += [
            Finding(
                ds.row_ids[i],
                "label",
                "label_conflict",
                "warning",
                f"Labelled {ds.labels[i]!r}, but it is {how} row {anchor}, labelled {main!r} "
                f"(similarity {cluster.similarity:.2f}): one of the labels is probably wrong. "
                "Check both rows and fix the label, or drop the row.",
                index=i,
                detail={"other_row": anchor, "other_label": main, "exact": cluster.exact},
            )
            for i in members
            if ds.labels[i] != main
        ]
        if len(examples) < NOISE_SHOWN:
            examples.append({"rows": [ds.row_ids[i] for i in members], "labels": labels})
    summary = {"clusters": conflicting, "rows": len(out), "examples": examples}
    return out, summary


def length_numbers(
    ds: LabelledDataset, tokenizer: Any, *, max_length: int
) -> tuple[list[Finding], dict[str, Any]]:
    """Text lengths in tokens (with a tokenizer; what the classifier reads) or words, per label too."""
    if tokenizer is not None:
        sizes = [len(ids) for ids in tokenizer(list(ds.texts))["input_ids"]]
    else:
        sizes = [len(text.split()) for text in ds.texts]
    by_label: dict[str, list[int]] = {name: [] for name in ds.label_names}
    for size, label in zip(sizes, ds.labels, strict=True):
        by_label[label].append(size)
    out = []
    if tokenizer is not None:
        for i, size in enumerate(sizes):
            if size > max_length:
                out.append(
                    Finding(
                        ds.row_ids[i],
                        "text",
                        "truncated",
                        "warning",
                        f"The text is {size} tokens, over max_length {max_length}: the end is "
                        "cut off, and with it whatever it says. Raise max_length or shorten it.",
                        index=i,
                        detail={"tokens": size, "max_length": max_length},
                    )
                )
    return out, {
        "length_unit": "tokens" if tokenizer is not None else "words",
        "lengths": lengths_summary(sizes),
        "lengths_by_label": {k: lengths_summary(v)["p50"] for k, v in by_label.items() if v},
        "max_length": max_length if tokenizer is not None else None,
        "truncated_rows": len(out),
    }


def eval_label_findings(train: LabelledDataset, eval_: LabelledDataset) -> list[Finding]:
    """Eval labels the training set lacks (they can never be predicted), and classes eval lacks."""
    known = set(train.label_names)
    out = [
        Finding(
            None,
            "label",
            "eval_unknown_label",
            "error",
            f"{n} eval row(s) are labelled {name!r}, which the training set does not have: the "
            "model cannot predict it. Add training rows of this class, or fix the eval labels.",
            detail={"label": name, "eval_rows": n},
        )
        for name, n in eval_.label_counts().items()
        if n and name not in known
    ]
    missing = [name for name in train.label_names if name not in set(eval_.labels)]
    if missing:
        out.append(
            Finding(
                None,
                "label",
                "eval_missing_class",
                "info",
                f"The eval split has no row of {', '.join(map(repr, missing))}: those classes "
                "are not measured. Add eval rows for them.",
                detail={"labels": missing},
            )
        )
    return out


def as_text_findings(findings: list[Finding], ds: LabelledDataset) -> list[Finding]:
    """Findings from the chat checks re-pointed at the `text` field (the one message is the text)."""
    for f in findings:
        if f.field and f.field.startswith("messages"):
            f.field = "text"
        if f.index is not None:
            f.detail = {**f.detail, "label": ds.labels[f.index]}
    return findings


# -- all checks at once -------------------------------------------------------------------------


@dataclass
class LabelChecks:
    """Everything the labelled checks found; report.py turns it into a DatasetReport."""

    train: LabelledDataset
    view: ChatDataset  # the texts as chat rows (`as_chat`): what the browser widget shows
    findings: list[Finding]
    summary: LabelSummary
    duplicates: dict[str, Any]
    pii: dict[str, Any]
    diversity: dict[str, Any]
    leakage: dict[str, Any] | None
    seconds: dict[str, float]


def check_labelled(
    ds: Any,
    *,
    eval_ds: Any,
    tokenizer: Any,
    max_length: int,
    near_threshold: float,
    pii_severity: str,
) -> LabelChecks:
    """Run every labelled check on `ds` (anything `load_labelled` takes) and, for leakage, `eval_ds`."""
    train = load_labelled(ds, split="train")
    view = as_chat(train)
    seconds: dict[str, float] = {}
    clock = _Clock(seconds)
    numbers = balance(train)
    findings = checks.load_findings(train) + balance_findings(train, numbers)
    pii_f, pii = clock("pii", checks.pii_findings, view, severity=pii_severity)
    index = clock("minhash_index", build_index, view.conversations, threshold=near_threshold)
    dup_f, dups = clock(
        "duplicates", checks.duplicate_findings, view, threshold=near_threshold, index=index
    )
    noise_f, noise = clock(
        "label_noise", noise_findings, train, view, threshold=near_threshold, index=index
    )
    len_f, lengths = clock("lengths", length_numbers, train, tokenizer, max_length=max_length)
    findings += as_text_findings(pii_f + dup_f, train) + noise_f + len_f
    leakage, eval_counts = None, None
    if eval_ds is not None:
        held_out = load_labelled(eval_ds, split="eval")
        eval_counts = held_out.label_counts()
        leak_f, leakage = clock(
            "leakage",
            checks.leak_findings,
            view,
            as_chat(held_out),
            threshold=near_threshold,
            index=index,
        )
        findings += as_text_findings(leak_f, train) + eval_label_findings(train, held_out)
    summary = LabelSummary(
        label_names=list(train.label_names),
        **numbers,
        **lengths,
        noise_clusters=noise["clusters"],
        noise_rows=noise["rows"],
        noise_examples=noise["examples"],
        eval_counts=eval_counts,
    )
    diversity = clock("diversity", diversity_summary, view)
    return LabelChecks(train, view, findings, summary, dups, pii, diversity, leakage, seconds)


class _Clock:
    """clock(name, fn, *args) runs fn and records its wall time in seconds[name]."""

    def __init__(self, seconds: dict[str, float]):
        self.seconds = seconds

    def __call__(self, name: str, fn, *args, **kwargs):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        self.seconds[name] = round(time.perf_counter() - t0, 3)
        return out
