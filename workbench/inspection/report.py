"""Dataset inspection: one report of what is wrong with a training set, and a cleaner that fixes a copy.

    report = inspect_dataset("messy-support", tokenizer_or_model="smollm2-135m-instruct",
                             max_length=512, eval_ds=load_dataset("messy-support", split="eval"))
    report.findings        # Finding(row, field, kind, severity, message) for every problem
    result = clean(ds, report=report)        # a new dataset + a log; the source is never touched
    result.save("train.clean.jsonl")

The checks live in `inspect_checks.py` (severity policy there), duplicates and leakage in
`inspect_dedup.py`, the loss-mask rule in `templating.py`, the HTML in `inspect_html.py`.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..data.dataset import ChatDataset, load_dataset
from ..data.labelled import LabelledDataset, is_labelled
from ..errors import DataError
from ..io import write_json_atomic, write_text_atomic
from ..models import DEFAULT_MODEL
from ..rundir import NOT_SAVED, OPTIONAL, Artifact, to_plain
from . import checks as checks
from .checks import Finding
from .dedup import DEFAULT_THRESHOLD, build_index
from .diversity import diversity_summary
from .labels import LabelSummary, check_labelled

log = logging.getLogger(__name__)

__all__ = [
    "DatasetReport",
    "Finding",
    "CleanResult",
    "inspect_dataset",
    "clean",
    "load_splits",
    "load_tokenizer",
]


@dataclass
class DatasetReport(Artifact):
    """What `inspect_dataset` found. `findings` lists every problem; the rest are the numbers.

    In a run directory it lives at inspect/report.json: `save(RunDir(run).inspect_dir)`,
    `DatasetReport.load(run)` (a loaded report has no dataset or tokenizer attached).
    """

    FILE = "inspect_report_json"
    MADE_BY = "notebook 01_inspect_data"

    provenance: dict[str, Any]
    format: str
    fingerprint: str
    model: str | None
    counts: dict[str, Any]
    lengths: dict[str, Any] | None  # None when no tokenizer was given
    duplicates: dict[str, Any]
    pii: dict[str, Any]
    leakage: dict[str, Any] | None  # None when no eval split was given
    preview: dict[str, Any] | None  # one example rendered with its loss mask
    findings: list[Finding] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    # templates, coverage and distinct-n of the prompts (diversity.py); None in reports saved
    # before it was measured, which still load
    diversity: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)
    # class balance, label noise and text lengths of labelled data (labels.py); None for chat data
    labels: LabelSummary | None = field(default=None, metadata=OPTIONAL)
    # kept for the browser widget and `render_example`; not serialised
    dataset: ChatDataset | None = field(default=None, repr=False, compare=False, metadata=NOT_SAVED)
    tokenizer: Any = field(default=None, repr=False, compare=False, metadata=NOT_SAVED)

    # -- questions a user asks ---------------------------------------------------------------

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    def severity_counts(self) -> dict[str, int]:
        c = Counter(f.severity for f in self.findings)
        return {s: c.get(s, 0) for s in checks.SEVERITIES}

    def kind_counts(self) -> dict[str, int]:
        return dict(Counter(f.kind for f in self.findings))

    @property
    def rows(self) -> int | None:
        return self.counts.get("rows")

    @property
    def share_truncated(self) -> float | None:
        """Share of conversations (or labelled texts) longer than max_length; None when no
        tokenizer measured them."""
        labels = self.labels
        if self.lengths is None and labels is not None and labels.length_unit == "tokens":
            rows = sum(labels.counts.values())
            return labels.truncated_rows / rows if rows and labels.max_length else None
        return None if self.lengths is None else self.lengths.get("share_truncated")

    @property
    def pii_findings(self) -> list[Finding]:
        return self.findings_for(kind="pii")

    @property
    def pii_counts(self) -> dict[str, int]:
        """Matches per PII kind (email, phone, ...)."""
        return dict(self.pii.get("counts") or {})

    @property
    def rows_with_pii(self) -> int | None:
        return self.pii.get("rows_with_pii")

    @property
    def pii_not_detected(self) -> str | None:
        """What the offline scan cannot find (names, postal addresses), in words."""
        return self.pii.get("not_detected")

    @property
    def pii_error_count(self) -> int:
        return len(self.findings_for(kind="pii", severity="error"))

    def findings_for(
        self, *, kind: str | None = None, row: int | None = None, severity: str | None = None
    ) -> list[Finding]:
        return [
            f
            for f in self.findings
            if (kind is None or f.kind == kind)
            and (row is None or f.row == row)
            and (severity is None or f.severity == severity)
        ]

    def render_example(self, index: int):
        """Example `index` (0-based) rendered with the chat template and loss mask (an EncodedChat)."""
        from ..templating import encode_chat

        if self.dataset is None or self.tokenizer is None:
            raise DataError(
                "This report has no dataset/tokenizer attached (was it loaded from JSON?)."
            )
        return encode_chat(
            self.tokenizer, self.dataset[index], max_length=self.lengths["max_length"]
        )

    def summary_lines(self) -> list[str]:
        """A few lines for a terminal."""
        sev = self.severity_counts()
        src = self.provenance.get("sample") or self.provenance.get("source")
        lines = [
            f"{src}: {self.counts['rows']} rows ({self.format}), "
            f"{sev['error']} error / {sev['warning']} warning / {sev['info']} info finding(s)"
        ]
        if self.lengths:
            lg = self.lengths
            lines.append(
                f"tokens p50 {lg['tokens']['p50']}, p95 {lg['tokens']['p95']}, max "
                f"{lg['tokens']['max']} vs max_length {lg['max_length']}: "
                f"{lg['share_truncated']:.1%} rows truncated, "
                f"{lg['share_answer_tokens_lost']:.1%} answer tokens lost"
            )
        if self.diversity:
            dv = self.diversity
            lines.append(
                f"prompts: {dv['templates']} templates in {dv['clusters']} clusters, top-10 "
                f"clusters cover {dv['top10_cluster_share']:.0%}, distinct-2 {dv['distinct_2']}"
                + (" (template-like)" if dv["template_like"] else "")
            )
        if self.labels:
            lb = self.labels
            lines.append(
                f"labels: {len(lb.label_names)} classes, largest/smallest {lb.imbalance_ratio}x, "
                f"rare {', '.join(lb.rare) or 'none'}; {lb.noise_rows} label-noise candidate(s); "
                f"{lb.length_unit} p50 {lb.lengths['p50']}, p95 {lb.lengths['p95']}"
            )
        for kind, n in sorted(self.kind_counts().items()):
            sev_of = next(f.severity for f in self.findings if f.kind == kind)
            lines.append(f"  {sev_of:<7} {kind:<20} {n}")
        return lines

    # -- output ---------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The saved fields, plus severity and kind counts for readers of the JSON (not read back)."""
        return {
            **to_plain(self),
            "severity_counts": self.severity_counts(),
            "kind_counts": self.kind_counts(),
        }

    def _repr_html_(self) -> str:
        from .html import report_html

        return report_html(self)

    def save(self, folder: str | Path) -> tuple[Path, Path]:  # type: ignore[override]
        """Write report.json and report.html into `folder` (atomically); return both paths.

        `folder` is any folder; in a run directory, `RunDir(run).inspect_dir`, where `load` reads it.
        """
        from .html import report_page

        folder = Path(folder)
        return (
            write_json_atomic(folder / "report.json", self.to_dict()),
            write_text_atomic(folder / "report.html", report_page(self)),
        )


def load_tokenizer(tokenizer_or_model: Any):
    """A tokenizer from a model name/path, a tokenizer (returned as is) or a loaded model."""
    if tokenizer_or_model is None or hasattr(tokenizer_or_model, "apply_chat_template"):
        return tokenizer_or_model
    name = tokenizer_or_model
    if not isinstance(name, str | Path):  # a loaded model: its folder or hub id
        name = getattr(getattr(tokenizer_or_model, "config", None), "_name_or_path", None)
        if not name:
            raise DataError(
                "Pass a tokenizer or a model name: this model does not say where it came from."
            )
    from transformers import AutoTokenizer

    from ..errors import ModelError
    from ..models import _hub_offline, resolve_model

    source = resolve_model(str(name))
    offline = isinstance(source, str) and _hub_offline()  # a hub id: only the local cache
    try:
        return AutoTokenizer.from_pretrained(
            source, trust_remote_code=False, local_files_only=offline
        )
    except OSError as exc:
        raise ModelError(
            f"Could not load the tokenizer of {name!r}: {exc}. Use a local folder, "
            "'smollm2-135m-instruct', or a hub id that is cached (HF_HUB_OFFLINE=1 blocks downloads)."
        ) from exc


def _as_dataset(ds: Any, split: str | None = None) -> ChatDataset:
    """ds as a ChatDataset; `split` picks the file of a shipped sample or a folder."""
    return ds if isinstance(ds, ChatDataset) else load_dataset(ds, split=split)


def load_splits(dataset: Any, eval_dataset: Any = None) -> tuple[Any, Any]:
    """(train, eval) for inspection by the one split policy (data/splits.py), without carving a
    slice off: eval_dataset None means the eval split of a sample or folder when there is one;
    "none" or False: no eval split. Text + label data (`is_labelled`) comes back as
    LabelledDatasets, so `inspect_dataset` gives it the classification checks."""
    from ..data.splits import resolve_labelled_splits, resolve_splits

    if is_labelled(dataset, split="train" if isinstance(dataset, str) else None):
        labelled = resolve_labelled_splits(dataset, eval_dataset, carve=False)
        return labelled.train, labelled.eval
    splits = resolve_splits(dataset, eval_dataset, carve=False)
    return splits.train, splits.eval


def inspect_dataset(
    ds: Any,
    *,
    tokenizer_or_model: Any = DEFAULT_MODEL,
    max_length: int = 512,
    eval_ds: Any = None,
    near_threshold: float = DEFAULT_THRESHOLD,
    pii_severity: str = "error",
) -> DatasetReport:
    """Check a dataset before training on it. Reads only; never changes `ds`.

    ds / eval_ds: a ChatDataset or anything `load_dataset` accepts (path, sample name, ...); data
        with one text and one label per row (`is_labelled`: a LabelledDataset, `support-intent`)
        gets the classification checks instead (labels.py: balance, label noise, lengths).
    tokenizer_or_model: the model you will train (name, path, tokenizer or model): lengths and the
        loss-mask preview use its real tokenizer and chat template. None skips token lengths.
    max_length: the training cutoff; longer examples are reported as truncated.
    near_threshold: Jaccard of word 3-grams at or above which two rows count as near copies.
    pii_severity: "error" (default: fails the CLI gate) or "warning"/"info" once you have decided.
    """
    if pii_severity not in checks.SEVERITIES:
        raise DataError(f"pii_severity must be one of {checks.SEVERITIES}, got {pii_severity!r}.")
    if is_labelled(ds):  # one text and one label per row: the classification checks (labels.py)
        return _inspect_labelled(
            ds,
            tokenizer_or_model=tokenizer_or_model,
            max_length=max_length,
            eval_ds=eval_ds,
            near_threshold=near_threshold,
            pii_severity=pii_severity,
        )
    ds = _as_dataset(ds, split="train")
    tokenizer = load_tokenizer(tokenizer_or_model)
    seconds: dict[str, float] = {}
    findings = checks.load_findings(ds) + _timed(
        seconds, "structure", checks.structure_findings, ds
    )
    pii_f, pii = _timed(seconds, "pii", checks.pii_findings, ds, severity=pii_severity)
    index = _timed(
        seconds, "minhash_index", build_index, ds.conversations, threshold=near_threshold
    )
    dup_f, dups = _timed(
        seconds, "duplicates", checks.duplicate_findings, ds, threshold=near_threshold, index=index
    )
    diversity = _timed(seconds, "diversity", diversity_summary, ds)
    findings += pii_f + dup_f + _template_findings(diversity)
    leakage = None
    if eval_ds is not None:
        eval_ds = _as_dataset(eval_ds, split="eval")
        leak_f, leakage = _timed(
            seconds,
            "leakage",
            checks.leak_findings,
            ds,
            eval_ds,
            threshold=near_threshold,
            index=index,
        )
        findings += leak_f
    lengths = None
    if tokenizer is not None:
        len_f, lengths = _timed(
            seconds, "lengths", checks.length_findings, ds, tokenizer, max_length=max_length
        )
        findings += len_f
    else:
        findings.append(
            Finding(
                None,
                None,
                "no_tokenizer",
                "info",
                "No model given: token lengths and truncation were not measured.",
            )
        )
    findings.sort(key=lambda f: (f.row is None, f.row or 0, checks.SEVERITIES.index(f.severity)))
    report = DatasetReport(
        provenance=asdict(ds.provenance),
        format=ds.provenance.format,
        fingerprint=ds.fingerprint(),
        model=_model_name(tokenizer_or_model, tokenizer),
        counts=checks.conversation_counts(ds),
        lengths=lengths,
        duplicates=dups,
        pii=pii,
        leakage=leakage,
        preview=None,
        findings=findings,
        seconds=seconds,
        diversity=diversity,
        dataset=ds,
        tokenizer=tokenizer,
    )
    if tokenizer is not None and len(ds):
        report.preview = _preview(report)
    log.info("inspected %d rows in %.1f s", len(ds), sum(seconds.values()))
    return report


def _inspect_labelled(
    ds: Any, *, tokenizer_or_model: Any, eval_ds: Any, **options
) -> DatasetReport:
    """The report of labelled data: its `labels` section filled in, the chat-only parts empty
    (token lengths under a chat template, the loss-mask preview); `dataset` is the texts as chat
    rows, so the browser widget can show them."""
    tokenizer = load_tokenizer(tokenizer_or_model)
    found = check_labelled(ds, eval_ds=eval_ds, tokenizer=tokenizer, **options)
    findings = found.findings + _template_findings(found.diversity)
    findings.sort(key=lambda f: (f.row is None, f.row or 0, checks.SEVERITIES.index(f.severity)))
    train = found.train
    return DatasetReport(
        provenance=asdict(train.provenance),
        format=train.provenance.format,
        fingerprint=train.fingerprint(),
        model=_model_name(tokenizer_or_model, tokenizer),
        counts={
            "rows": len(train),
            "labels": len(train.label_names),
            "load_problems": len(train.problems),
        },
        lengths=None,
        duplicates=found.duplicates,
        pii=found.pii,
        leakage=found.leakage,
        preview=None,
        findings=findings,
        seconds=found.seconds,
        diversity=found.diversity,
        labels=found.summary,
        dataset=found.view,
        tokenizer=tokenizer,
    )


def _template_findings(diversity: dict[str, Any]) -> list[Finding]:
    """One warning about the whole dataset when its prompts come from a few templates."""
    if not diversity["template_like"]:
        return []
    return [
        Finding(
            None,
            None,
            "template_like",
            "warning",
            f"The user prompts follow few templates: {diversity['clusters']} template clusters "
            f"in {diversity['rows']} rows, the 10 largest cover "
            f"{diversity['top10_cluster_share']:.0%} (distinct-2 {diversity['distinct_2']}). "
            "A held-out score can then measure a memorised template, not the task. Add varied "
            "real examples, and evaluate with a split that keeps whole templates out of "
            "training (diversity.template_ids gives each row's template).",
            detail={
                k: diversity[k] for k in ("templates", "clusters", "top10_cluster_share", "rule")
            },
        )
    ]


def _timed(seconds: dict[str, float], name: str, fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    seconds[name] = round(time.perf_counter() - t0, 3)
    return out


def _model_name(given: Any, tokenizer: Any) -> str | None:
    if given is None:
        return None
    return str(given) if isinstance(given, str | Path) else getattr(tokenizer, "name_or_path", None)


def _preview(report: DatasetReport) -> dict[str, Any]:
    """The first row without findings (else row 0) rendered with its loss mask."""
    flagged = {f.index for f in report.findings}
    index = next((i for i in range(len(report.dataset)) if i not in flagged), 0)
    try:
        enc = report.render_example(index)
    except Exception as exc:  # a template error is itself worth showing
        return {
            "index": index,
            "row": report.dataset.row_ids[index],
            "error": str(exc),
            "segments": [],
            "truncated": False,
        }
    return {
        "index": index,
        "row": report.dataset.row_ids[index],
        "segments": enc.segments(),
        "n_tokens": enc.n_tokens,
        "trained_tokens": enc.n_trained,
        "truncated": enc.truncated,
    }


# -- cleaning -------------------------------------------------------------------------------------

DROP_RULES = {  # option name -> finding kinds it drops
    "drop_duplicates": ("exact_duplicate",),
    "drop_near_duplicates": ("near_duplicate",),
    "drop_empty": ("empty_turn",),
    "drop_bad_structure": ("role_order", "no_final_assistant", "template_error"),
    "drop_leaked": ("eval_leak_exact", "eval_leak_near"),
    "drop_truncated": ("truncated",),
}


@dataclass
class CleanAction:
    row: int  # 1-based source row
    action: str  # "dropped" | "redacted"
    reason: str


@dataclass
class CleanResult:
    """A cleaned copy of a dataset and the log of what changed (the source is untouched)."""

    dataset: Any  # a ChatDataset, or a LabelledDataset for text + label data
    log: list[CleanAction]
    options: dict[str, Any]
    rows_before: int

    def counts(self) -> dict[str, int]:
        return dict(Counter(f"{a.action}: {a.reason}" for a in self.log))

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_before": self.rows_before,
            "rows_after": len(self.dataset),
            "options": self.options,
            "counts": self.counts(),
            "log": [asdict(a) for a in self.log],
        }

    def _repr_html_(self) -> str:
        from .html import table

        rows = [
            ("rows before", self.rows_before),
            ("rows after", len(self.dataset)),
            *self.counts().items(),
        ]
        return f"<div><b>Cleaned copy</b>{table(rows)}</div>"

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the cleaned JSONL to a NEW file (never the source) and `<name>.clean_log.json` beside it."""
        path = self.dataset.save(path, overwrite=overwrite)
        write_json_atomic(path.with_name(path.stem + ".clean_log.json"), self.to_dict())
        return path


def clean(
    ds: Any,
    *,
    report: DatasetReport | None = None,
    eval_ds: Any = None,
    drop_duplicates: bool = True,
    drop_near_duplicates: bool = True,
    drop_empty: bool = True,
    drop_bad_structure: bool = True,
    drop_leaked: bool = True,
    drop_truncated: bool = False,
    redact_pii: bool = True,
    near_threshold: float = DEFAULT_THRESHOLD,
) -> CleanResult:
    """A new dataset with the chosen problems fixed, plus a log. `ds` itself is never changed.

    report: a report of this very dataset (saves re-checking; it must match its fingerprint).
    Without one, the checks that need no tokenizer run here (truncation then needs a report).
    """
    options = {k: v for k, v in locals().items() if k.startswith(("drop_", "redact_"))}
    ds = ds if isinstance(ds, LabelledDataset) else _as_dataset(ds)
    if report is None:
        report = inspect_dataset(
            ds, tokenizer_or_model=None, eval_ds=eval_ds, near_threshold=near_threshold
        )
    elif report.fingerprint != ds.fingerprint():
        raise DataError(
            "The report was made for a different dataset (fingerprints differ); "
            "inspect this dataset again or call clean() without report=."
        )
    if drop_truncated and report.lengths is None:
        raise DataError(
            "drop_truncated=True needs token lengths: pass report=inspect_dataset(ds, "
            "tokenizer_or_model=<your model>, max_length=...)."
        )
    dropping = {kind for opt, kinds in DROP_RULES.items() if options[opt] for kind in kinds}
    drop: dict[int, str] = {}
    pii_rows: dict[int, list[str]] = {}
    for f in report.findings:
        if f.index is None:
            continue
        if f.kind in dropping:
            drop.setdefault(f.index, f.kind)
        elif f.kind == "pii":
            pii_rows.setdefault(f.index, []).append(f.detail["pii_kind"])
    actions = [CleanAction(ds.row_ids[i], "dropped", kind) for i, kind in sorted(drop.items())]
    keep = [i for i in range(len(ds)) if i not in drop]
    out = ds.select(keep)
    if redact_pii:
        _redact_rows(out, ds, keep, pii_rows, actions)
    actions.sort(key=lambda a: a.row)
    if isinstance(out, LabelledDataset):  # a cleaned copy is a new dataset: provenance says so
        out.problems = []
    return CleanResult(dataset=out, log=actions, options=options, rows_before=len(ds))


def _redact_rows(out: Any, src: Any, keep: list[int], pii_rows, actions) -> None:
    from .pii import redact

    for pos, i in enumerate(keep):
        if i not in pii_rows:
            continue
        if isinstance(out, LabelledDataset):
            out.texts[pos] = redact(src.texts[i])
        else:
            out.conversations[pos] = [{**m, "content": redact(m["content"])} for m in src[i]]
        kinds = ", ".join(sorted(set(pii_rows[i])))
        actions.append(CleanAction(src.row_ids[i], "redacted", kinds))
