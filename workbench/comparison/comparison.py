"""Is the tuned model better, and what did it forget? Paired base-vs-tuned answers, metrics and a forgetting probe.

`compare(tuned=..., prompts=...)` asks both models every prompt, scores each answer against the
reference, and summarises each metric with a paired bootstrap confidence interval and
win/loss/tie counts. The optional probe repeats the exercise on a broad set (general knowledge by
default) and measures perplexity there: a tuned model that drops more than `forgetting_margin`
raises `Comparison.forgetting_flag`.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..io import write_json_atomic, write_text_atomic
from ..rundir import OPTIONAL, Artifact, RunDir
from . import metrics as M
from .generation import (
    SIDES,
    GenerationSettings,
    ModelPair,
    generate_pair,
    load_run,
    perplexity_pair,
)
from .stats import MetricSummary, summarise, summarise_metric

log = logging.getLogger(__name__)

Conversation = list[dict[str, str]]
NAMED_METRICS: dict[str, M.MetricFn] = {
    "exact_match": M.exact_match,
    "contains_reference": M.contains_reference,
    "chrf": M.chrf,
    "json_parses": M.json_parses,
    "field_accuracy": M.field_accuracy,
}
PROBE_METRICS = ("contains_reference", "chrf")
# the metric `Forgetting.net` scores over the known and the unknown questions together
NET_METRIC = "contains_reference"
PROBE_UNKNOWN_SPLIT = "unknown"  # a probe sample's questions its base model got wrong
# The probe's questions want a word or a number, and general-probe kept the ones the base model
# answered in the first sentence of at most 48 new tokens (scripts/sample_probe.py): longer
# answers only cost time and give a rambling model more chances to mention the reference somewhere.
PROBE_MAX_NEW_TOKENS = 48


@dataclass
class Example:
    """One prompt: the conversation up to the last assistant turn, and that turn as the reference."""

    prompt: Conversation
    reference: str
    row_id: int

    @property
    def question(self) -> str:
        """The last user message: what a reader of the table wants to see."""
        users = [m["content"] for m in self.prompt if m["role"] == "user"]
        return users[-1] if users else self.prompt[-1]["content"]


@dataclass
class Row:
    """One prompt's answers and scores on both sides."""

    row_id: int
    prompt: Conversation
    reference: str
    base: str
    tuned: str
    base_scores: dict[str, float | None]
    tuned_scores: dict[str, float | None]

    @property
    def question(self) -> str:
        return Example(self.prompt, self.reference, self.row_id).question

    def delta(self, metric: str) -> float | None:
        b, t = self.base_scores.get(metric), self.tuned_scores.get(metric)
        return None if b is None or t is None else t - b


@dataclass
class Forgetting:
    """The probe: same questions to base and tuned on a broad set, perplexity, and the verdict."""

    dataset: str
    rows: list[Row]
    summary: dict[str, MetricSummary]
    perplexity: dict[str, float | None]
    margin: float
    perplexity_margin: float
    flag: bool
    reasons: list[str]
    # Questions the base model got wrong (general-probe's `unknown` split), asked the same way. The
    # probe keeps only questions the base answered right, so any change of a fragile answer shows
    # as a loss there; these show the gains such changes bring, and `net` scores both sets together
    # (rows + unknown_rows, reference contained): the change of general accuracy, not selected on
    # the base model's answers. Empty / None for a probe without them.
    unknown_rows: list[Row] = field(default_factory=list, metadata=OPTIONAL)
    net: MetricSummary | None = field(default=None, metadata=OPTIONAL)

    @property
    def flips(self) -> dict[str, int]:
        """Questions whose reference-contained score changed: `lost` of the probe's `known` rows,
        `gained` of the `unknown` rows (and the other way round, `lost_unknown` / `gained_known`)."""
        known = _flips(self.rows)
        unknown = _flips(self.unknown_rows)
        return {
            "known": len(self.rows),
            "lost": known["lost"],
            "gained_known": known["gained"],
            "unknown": len(self.unknown_rows),
            "gained": unknown["gained"],
            "lost_unknown": unknown["lost"],
        }

    @property
    def net_drop(self) -> float | None:
        """base - tuned over the known and unknown questions together (negative: it rose)."""
        n = self.net
        if n is None or n.base_mean is None or n.tuned_mean is None:
            return None
        return n.base_mean - n.tuned_mean

    def flips_line(self) -> str | None:
        """One sentence: the answers lost and gained, and the net change with its interval."""
        n = self.net
        if n is None or n.base_mean is None or n.tuned_mean is None:
            return None
        f = self.flips
        ci = "" if n.delta_ci is None else f", 95% CI [{n.delta_ci[0]:+.1%}, {n.delta_ci[1]:+.1%}]"
        return (
            f"lost {f['lost']} of the {f['known']} questions the base answered right, gained "
            f"{f['gained']} of the {f['unknown']} it got wrong: over all {n.n}, "
            f"{n.base_mean:.1%} -> {n.tuned_mean:.1%} ({n.tuned_mean - n.base_mean:+.1%}{ci})"
        )

    @property
    def largest_drop(self) -> float | None:
        """The largest fall of a probe metric's mean from base to tuned (negative: all rose)."""
        drops = [
            s.base_mean - s.tuned_mean
            for s in self.summary.values()
            if s.base_mean is not None and s.tuned_mean is not None
        ]
        return max(drops) if drops else None


def _flips(rows: Sequence[Row], metric: str = NET_METRIC) -> dict[str, int]:
    lost = gained = 0
    for r in rows:
        b, t = r.base_scores.get(metric), r.tuned_scores.get(metric)
        if b is not None and t is not None:
            lost += t < b
            gained += t > b
    return {"lost": lost, "gained": gained}


@dataclass
class Comparison(Artifact):
    """What `compare` returns: per-prompt rows, per-metric summaries, the forgetting probe, settings.

    Saved as comparison.json (+ comparison.html); `Comparison.load(run_dir)` reads it back typed.
    """

    FILE = "comparison_json"
    HTML = "comparison_html"  # the page save() writes beside FILE (a RunDir property too)
    MADE_BY = "notebook 04_compare (or `workbench compare`)"

    dataset: str
    rows: list[Row]
    summary: dict[str, MetricSummary]
    forgetting: Forgetting | None
    generation: dict[str, Any]
    models: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)
    # the task metrics again on eval rows whose prompt template also occurs in the training data
    # ("in_template") and on the rest ("out_of_template"), each group only when it has rows (one
    # group alone says every row is on that side); None when the training rows are unknown
    by_template: dict[str, dict[str, MetricSummary]] | None = field(default=None, metadata=OPTIONAL)
    # why answers fail the task's JSON Schema: {"base"|"tuned": {"items[].sku: pattern": answers}},
    # most frequent first (metrics.schema_errors); None when the task has no schema
    schema_failures: dict[str, dict[str, int]] | None = field(default=None, metadata=OPTIONAL)
    # which reference fields the answers get wrong: {"base"|"tuned": {"items: 1 element fewer":
    # answers}}, most frequent first (metrics.field_misses); None without field_accuracy
    field_misses: dict[str, dict[str, int]] | None = field(default=None, metadata=OPTIONAL)

    @property
    def forgetting_flag(self) -> bool:
        return bool(self.forgetting and self.forgetting.flag)

    @property
    def metric_names(self) -> list[str]:
        return list(self.summary)

    def tuned_mean(self, metric: str) -> float | None:
        """The tuned model's mean score on a task metric; None when the metric was not measured."""
        s = self.summary.get(metric)
        return None if s is None else s.tuned_mean

    def summary_lines(self) -> list[str]:
        """Plain text for a terminal or a log: one line per metric, then the forgetting verdict."""
        lines = [
            f"{self.dataset}: {len(self.rows)} prompts, base -> tuned (95% CI of the difference)"
        ]
        if self.generation.get("constrain"):
            lines.append(CONSTRAINED_NOTE)
        lines += [_summary_line(s) for s in self.summary.values()]
        groups = self.by_template or {}
        if len(groups) == 1:  # every row on one side: the summary above is that group's score
            group = next(iter(groups))
            meaning = (
                "no training row has their masked shape: the scores above measure generalisation"
                if group == "out_of_template"
                else "each has the masked shape of a training row: the scores above can be memorised"
            )
            lines.append(f"all {len(self.rows)} eval rows are {group.replace('_', '-')}: {meaning}")
        else:
            for group, summary in groups.items():
                n = next(iter(summary.values())).n if summary else 0
                lines.append(f"{group.replace('_', '-')} rows ({n}): base -> tuned")
                lines += [_summary_line(s) for s in summary.values()]
        breakdowns = (
            ("failing the schema", self.schema_failures, "schema_valid"),
            ("with a field wrong", self.field_misses, "field_accuracy"),
        )
        for what, by_side, metric in breakdowns:
            for side, counts in (by_side or {}).items():
                if not counts:
                    continue
                scores = [(getattr(r, f"{side}_scores") or {}).get(metric) for r in self.rows]
                short = sum(score is not None and score < 1 for score in scores)
                top = ", ".join(f"{label} {n}" for label, n in list(counts.items())[:5])
                lines.append(f"{side} answers {what}: {short} of {len(self.rows)} ({top})")
        f = self.forgetting
        if f is not None:
            lines.append(f"forgetting probe {f.dataset}: {len(f.rows)} prompts")
            lines += [_summary_line(s) for s in f.summary.values()]
            ppl = f.perplexity
            if ppl.get("base") and ppl.get("tuned"):
                lines.append(f"  perplexity  {ppl['base']:.2f} -> {ppl['tuned']:.2f}")
            flips = f.flips_line()
            if flips:
                lines.append(f"  {flips}")
            lines.append(
                "  FORGETTING: " + "; ".join(f.reasons)
                if f.flag
                else "  no forgetting beyond the margins"
            )
        return lines

    def unseen_mean(self, metric: str) -> float | None:
        """The tuned mean of `metric` on out-of-template eval rows (None: none, or not split)."""
        summary = (self.by_template or {}).get("out_of_template", {}).get(metric)
        return None if summary is None else summary.tuned_mean

    def to_dict(self) -> dict[str, Any]:
        """The saved fields, plus the forgetting flag for readers of the JSON (not read back)."""
        return {**super().to_dict(), "forgetting_flag": self.forgetting_flag}

    def _repr_html_(self) -> str:
        from .html import comparison_fragment

        return comparison_fragment(self)

    def to_html(self) -> str:
        """A self-contained page (sortable, filterable table; no network)."""
        from .html import comparison_page

        return comparison_page(self)

    def save(self, run_dir: str | Path) -> dict[str, Path]:  # type: ignore[override]
        """Write the JSON file (FILE) and its page (HTML) into the run directory, atomically."""
        rd = RunDir(run_dir)
        return {
            "json": write_json_atomic(getattr(rd, self.FILE), self.to_dict()),
            "html": write_text_atomic(getattr(rd, self.HTML), self.to_html()),
        }


CONSTRAINED_NOTE = (
    "both sides decoded against the task's JSON schema: schema-valid is near 100% by construction "
    "(an answer cut at max_new_tokens still fails); the field scores say what each model read right"
)


@dataclass
class ConstrainedComparison(Comparison):
    """The same comparison with both models decoded against the task's JSON schema (constrained.py).

    Its own file (constrained_comparison.json + .html) beside the free comparison.json, so the two
    are read side by side: free decoding measures what the model learned, constrained decoding what
    a deployment that enforces the schema would return. It has no forgetting probe (the probe is
    free text either way).
    """

    FILE = "constrained_comparison_json"
    HTML = "constrained_comparison_html"
    MADE_BY = "notebook 04_compare with constrained_decoding (or `workbench compare --constrain`)"


def _summary_line(s: MetricSummary) -> str:
    if s.n == 0:
        return f"  {s.name:<20} n/a"
    ci = f" [{s.delta_ci[0]:+.1%}, {s.delta_ci[1]:+.1%}]" if s.delta_ci else ""
    return (
        f"  {s.name:<20} {s.base_mean:6.1%} -> {s.tuned_mean:6.1%}  ({s.delta:+.1%}{ci}; "
        f"wins {s.wins}, losses {s.losses}, ties {s.ties})"
    )


def by_template(
    result: Comparison, train: Any, *, n_boot: int = 1000, seed: int = 0
) -> dict[str, dict[str, MetricSummary]] | None:
    """Split the comparison's rows by whether their prompt's template (names, numbers, codes and
    dates masked, then clustered: inspection/diversity.py) also occurs among `train`'s rows. A score
    on in-template rows can be a memorised template; the out-of-template score is the one that
    says whether the model generalises. A group without rows is left out: `{"out_of_template":
    ...}` alone says no eval row shares a template with training (the summary is then a
    generalisation score). None when there are no rows."""
    from ..data.dataset import ChatDataset, Provenance
    from ..inspection.diversity import template_ids

    train_convs = list(train.conversations if hasattr(train, "conversations") else train)
    both = ChatDataset(
        conversations=train_convs + [r.prompt for r in result.rows],
        provenance=Provenance(source="<train + eval prompts>", format="chat"),
    )
    ids = template_ids(both)
    seen = set(ids[: len(train_convs)])
    groups: dict[bool, list[Row]] = {True: [], False: []}
    for row, i in zip(result.rows, ids[len(train_convs) :], strict=True):
        groups[i in seen].append(row)
    names = list(result.summary)
    named = {"in_template": groups[True], "out_of_template": groups[False]}
    out = {
        group: summarise(rows, names, n_boot=n_boot, seed=seed)
        for group, rows in named.items()
        if rows
    }
    return out or None


# -- the entry point ------------------------------------------------------------------------------


def compare(
    *,
    tuned: Any,
    prompts: Any,
    base: Any = None,
    tokenizer: Any = None,
    metrics: Any = None,
    probe: Any = None,
    probe_metrics: Any = PROBE_METRICS,
    perplexity_texts: Any = None,
    generation: GenerationSettings | Mapping[str, Any] | None = None,
    max_prompts: int | None = None,
    max_probe_prompts: int | None = None,
    schema: Mapping[str, Any] | None = None,
    style: Mapping[str, Any] | None = None,
    forgetting_margin: float = 0.05,
    perplexity_margin: float = 0.25,
    n_boot: int = 1000,
    seed: int = 0,
) -> Comparison:
    """Ask base and tuned every prompt and score both; optionally run the forgetting probe.

    tuned: a run directory, a `ModelPair` (from `load_run`), a PeftModel, or a model (then pass `base`).
    base: None (the tuned PeftModel with its adapter off), a model, or a model name/folder.
    prompts / probe: a ChatDataset, a sample name or file, or a list of conversations.
    metrics: None (chosen from the data: JSON suite + schema, style checks, exact match, chrF),
        a list of metric names, or {name: fn(output, reference) -> float | None}.
    probe_metrics: metrics for the probe (default: reference contained in the answer, chrF).
    perplexity_texts: conversations to measure perplexity on; default: the probe itself.
    forgetting_margin: largest acceptable drop of a probe metric's mean (absolute, 0..1).
    perplexity_margin: largest acceptable relative rise of probe perplexity (0.25 = +25%).
    """
    if not 0.0 <= forgetting_margin <= 1.0:
        raise ConfigError(f"forgetting_margin must be in [0, 1], got {forgetting_margin!r}.")
    settings = _settings(generation)
    pair = as_pair(tuned=tuned, base=base, tokenizer=tokenizer)
    dataset_name = _name_of(prompts)
    examples = examples_from(prompts, max_rows=max_prompts)
    schema = task_schema(schema, dataset_name)  # once: metrics and the failure breakdown share it
    chosen = resolve_metrics(
        metrics, examples=examples, dataset=dataset_name, schema=schema, style=style
    )
    t0 = time.perf_counter()
    if settings.constrain and schema is None:
        raise ConfigError(
            f"Constrained decoding needs a JSON schema, and {dataset_name} has none: pass "
            "schema=... or compare without constrain."
        )
    rows, seconds = _answer_and_score(pair, examples, chosen, settings, schema)
    summary = summarise(rows, list(chosen), n_boot=n_boot, seed=seed)
    forgetting = None
    if probe is not None and "interrupted_after" not in seconds:  # an interrupt skips the probe
        t_probe = time.perf_counter()
        forgetting = _interruptible(probe_forgetting)(
            pair,
            probe,
            metrics=probe_metrics,
            settings=settings,
            max_rows=max_probe_prompts,
            perplexity_texts=perplexity_texts,
            margin=forgetting_margin,
            perplexity_margin=perplexity_margin,
            n_boot=n_boot,
            seed=seed,
        )
        seconds["probe"] = round(time.perf_counter() - t_probe, 2)
    seconds["total"] = round(time.perf_counter() - t0, 2)
    models = {
        **pair.info,
        "base_path": "adapter disabled" if pair.shares_weights else "separate model",
    }
    kind = ConstrainedComparison if settings.constrain else Comparison
    result = kind(dataset_name, rows, summary, forgetting, settings.to_dict(), models, seconds)
    if schema is not None and "schema_valid" in chosen:
        result.schema_failures = schema_failures(rows, schema)
    if "field_accuracy" in chosen:
        result.field_misses = field_misses(rows)
    return result


def schema_failures(rows: list[Row], schema: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """Per side, how many answers break each rule of `schema` (metrics.schema_errors), most first."""
    return _count_labels(rows, lambda answer, _: M.schema_errors(answer, schema=schema))


def field_misses(rows: list[Row]) -> dict[str, dict[str, int]]:
    """Per side, how many answers miss each field of their reference (metrics.field_misses), most first."""
    return _count_labels(rows, M.field_misses)


def _count_labels(
    rows: list[Row], labels_of: Callable[[str, str], list[str]]
) -> dict[str, dict[str, int]]:
    """{"base"|"tuned": {label: answers}}, most frequent first; labels_of(answer, reference)."""
    out = {}
    for side in SIDES:
        counts = Counter(label for r in rows for label in labels_of(getattr(r, side), r.reference))
        out[side] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return out


def task_schema(schema: Mapping[str, Any] | None, dataset: str) -> Mapping[str, Any] | None:
    """The schema given, else a shipped sample's own; None when neither exists."""
    from ..data.dataset import sample_schema

    return schema if schema is not None or not _is_sample(dataset) else sample_schema(dataset)


def _interruptible(fn: Any) -> Any:
    """`fn`, returning None instead of raising when the user interrupts it (the rest is kept)."""

    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KeyboardInterrupt:
            log.warning("Interrupted: the comparison is kept without the forgetting probe.")
            return None

    return run


def probe_forgetting(
    pair: ModelPair,
    probe: Any,
    *,
    metrics: Any = PROBE_METRICS,
    settings: GenerationSettings | None = None,
    max_rows: int | None = None,
    perplexity_texts: Any = None,
    margin: float = 0.05,
    perplexity_margin: float = 0.25,
    n_boot: int = 1000,
    seed: int = 0,
    unknown: Any = "auto",
) -> Forgetting:
    """Score both sides on a broad set and compare perplexities; flag drops beyond the margins.
    Answers are at most PROBE_MAX_NEW_TOKENS long, whatever the task's settings.

    unknown: questions the base model gets wrong, asked the same way, for `Forgetting.net` and the
    gains in `Forgetting.flips`: "auto" (a probe sample's `unknown` split when it ships one, as
    general-probe does), None (none), or a dataset like `probe`; capped at `max_rows` too."""
    examples = examples_from(probe, max_rows=max_rows)
    chosen = resolve_metrics(metrics, examples=examples, dataset=_name_of(probe))
    settings = settings or GenerationSettings()
    short = replace(  # free text: never decoded against the task's schema
        settings, max_new_tokens=min(settings.max_new_tokens, PROBE_MAX_NEW_TOKENS), constrain=False
    )
    rows, _ = _answer_and_score(pair, examples, chosen, short)
    summary = summarise(rows, list(chosen), n_boot=n_boot, seed=seed)
    unknown_rows: list[Row] = []
    net = None
    source = _unknown_source(probe) if isinstance(unknown, str) and unknown == "auto" else unknown
    if source is not None and NET_METRIC in chosen:
        unknown_rows, _ = _answer_and_score(
            pair, examples_from(source, max_rows=max_rows), chosen, short
        )
        net = summarise_metric(rows + unknown_rows, NET_METRIC, n_boot=n_boot, seed=seed)
    texts = examples_from(perplexity_texts) if perplexity_texts is not None else examples
    ppl = perplexity_pair(
        pair, [e.prompt + [{"role": "assistant", "content": e.reference}] for e in texts]
    )
    reasons = forgetting_reasons(summary, ppl, margin=margin, perplexity_margin=perplexity_margin)
    return Forgetting(
        _name_of(probe),
        rows,
        summary,
        ppl,
        margin,
        perplexity_margin,
        bool(reasons),
        reasons,
        unknown_rows,
        net,
    )


def _unknown_source(probe: Any) -> Path | None:
    """A probe sample's `unknown` split (the questions its base model got wrong), if it has one."""
    if not _is_sample(probe):
        return None
    from ..data.dataset import SAMPLES_DIR

    path = SAMPLES_DIR / probe / f"{PROBE_UNKNOWN_SPLIT}.jsonl"
    return path if path.is_file() else None


def forgetting_reasons(
    summary: Mapping[str, MetricSummary],
    ppl: Mapping[str, float | None],
    *,
    margin: float,
    perplexity_margin: float,
) -> list[str]:
    """Plain-language reasons for the forgetting flag; empty when the tuned model kept up."""
    reasons = []
    for s in summary.values():
        if s.delta is not None and -s.delta > margin:
            reasons.append(
                f"{s.name} fell from {s.base_mean:.1%} to {s.tuned_mean:.1%} "
                f"({s.delta:+.1%}; margin {margin:.0%})"
            )
    base, tuned = ppl.get("base"), ppl.get("tuned")
    if base and tuned and tuned / base - 1 > perplexity_margin:
        reasons.append(
            f"perplexity rose from {base:.2f} to {tuned:.2f} (+{tuned / base - 1:.0%}; margin +{perplexity_margin:.0%})"
        )
    return reasons


def _answer_and_score(
    pair: ModelPair,
    examples: list[Example],
    chosen: Mapping[str, M.MetricFn],
    settings: GenerationSettings,
    schema: Mapping[str, Any] | None = None,
) -> tuple[list[Row], dict[str, float]]:
    """Both sides answer one batch of prompts at a time, so an interrupt keeps the rows so far
    (`seconds["interrupted_after"]` then says how many) and each batch logs its progress."""
    rows: list[Row] = []
    seconds: dict[str, float] = {}
    try:
        for start in range(0, len(examples), settings.batch_size):
            batch = examples[start : start + settings.batch_size]
            answers = generate_pair(
                pair, [e.prompt for e in batch], settings=settings, schema=schema
            )
            rows += [
                Row(
                    e.row_id,
                    e.prompt,
                    e.reference,
                    b,
                    t,
                    M.score(chosen, b, e.reference),
                    M.score(chosen, t, e.reference),
                )
                for e, b, t in zip(batch, answers["base"], answers["tuned"], strict=True)
            ]
            for side, s in answers["seconds"].items():
                seconds[side] = round(seconds.get(side, 0.0) + s, 2)
            log.info("answered %d of %d prompts (base and tuned)", len(rows), len(examples))
    except KeyboardInterrupt:
        if not rows:
            raise
        log.warning(
            "Interrupted: kept the %d of %d prompts both models answered.", len(rows), len(examples)
        )
        seconds["interrupted_after"] = len(rows)
    return rows, seconds


# -- inputs ---------------------------------------------------------------------------------------


def as_pair(*, tuned: Any, base: Any = None, tokenizer: Any = None) -> ModelPair:
    """Normalise the `tuned`/`base` arguments of `compare` into a ModelPair."""
    if isinstance(tuned, ModelPair):
        return tuned
    if isinstance(tuned, (str, Path)):
        return load_run(tuned)
    if tokenizer is None:
        raise ConfigError("Pass tokenizer=... when tuned is a model object.")
    if isinstance(base, (str, Path)):
        from ..models import load_model

        base, _ = load_model(str(base), technique="full")
    info = {"model": getattr(getattr(tuned, "config", None), "name_or_path", None)}
    return ModelPair(tuned=tuned, tokenizer=tokenizer, base=base, info=info)


def examples_from(source: Any, *, max_rows: int | None = None) -> list[Example]:
    """Prompts and references from a dataset: prompt = messages before the last assistant turn."""
    conversations, row_ids = _conversations(source)
    examples = []
    for conv, row_id in zip(conversations, row_ids, strict=True):
        last = max((i for i, m in enumerate(conv) if m["role"] == "assistant"), default=None)
        if last is None:
            examples.append(Example(list(conv), "", row_id))
        elif last > 0:
            examples.append(Example(list(conv[:last]), conv[last]["content"], row_id))
    if not examples:
        raise ConfigError(
            f"No prompts to compare in {_name_of(source)}: every conversation was empty."
        )
    return examples[:max_rows] if max_rows else examples


def _conversations(source: Any) -> tuple[list[Conversation], list[int]]:
    from ..data.dataset import ChatDataset
    from ..data.splits import eval_rows

    if isinstance(source, (str, Path)):
        source = eval_rows(source)  # a sample's eval split, a file whole (data/splits.py)
    if isinstance(source, ChatDataset):
        return source.conversations, source.row_ids
    rows = list(source)
    convs = []
    for item in rows:
        if isinstance(item, str):
            item = [{"role": "user", "content": item}]
        elif isinstance(item, Mapping):
            item = item["messages"]
        convs.append(list(item))
    return convs, list(range(1, len(convs) + 1))


def _is_sample(source: Any) -> bool:
    from ..data.dataset import SAMPLES_DIR

    return isinstance(source, str) and (SAMPLES_DIR / source / "train.jsonl").is_file()


def _name_of(source: Any) -> str:
    if isinstance(source, (str, Path)):
        return str(source)
    prov = getattr(source, "provenance", None)
    if prov is not None:
        return prov.sample or Path(prov.source).name
    return f"<{len(source)} conversations>" if isinstance(source, Sequence) else "<prompts>"


def _settings(generation: Any) -> GenerationSettings:
    if generation is None:
        return GenerationSettings()
    if isinstance(generation, GenerationSettings):
        return generation
    return GenerationSettings(**dict(generation))


def resolve_metrics(
    metrics: Any,
    *,
    examples: list[Example],
    dataset: str = "",
    schema: Mapping[str, Any] | None = None,
    style: Mapping[str, Any] | None = None,
) -> dict[str, M.MetricFn]:
    """Turn `metrics` into {name: fn}; None picks them from the data (see `compare`)."""
    schema = task_schema(schema, dataset)
    if style is None and _is_sample(dataset):
        style = _sample_style(dataset)
    if metrics is None:
        chosen: dict[str, M.MetricFn] = {}
        if schema is not None or M.looks_like_json([e.reference for e in examples]):
            chosen.update(M.json_metrics(schema))
        if style:
            chosen.update(M.style_metrics(style))
        return {**chosen, "exact_match": M.exact_match, "chrf": M.chrf}
    if isinstance(metrics, Mapping):
        return dict(metrics)
    return dict(_named_metric(m, schema=schema, style=style) for m in metrics)


def _named_metric(spec: str | Callable, *, schema, style) -> tuple[str, M.MetricFn]:
    if callable(spec):
        return getattr(spec, "__name__", "metric"), spec
    if spec == "schema_valid":
        if schema is None:
            raise ConfigError(
                "Metric 'schema_valid' needs a JSON Schema: pass schema=... to compare()."
            )
        return spec, M.json_metrics(schema)["schema_valid"]
    if spec in NAMED_METRICS:
        return spec, NAMED_METRICS[spec]
    if style and spec in M.style_metrics(style):
        return spec, M.style_metrics(style)[spec]
    known = sorted({*NAMED_METRICS, "schema_valid", *M.style_metrics(style or {})})
    raise ConfigError(f"Unknown metric {spec!r}. Known: {', '.join(known)}; or pass a function.")


def _sample_style(name: str) -> dict[str, Any] | None:
    from ..data.dataset import SAMPLES_DIR

    path = SAMPLES_DIR / name / "style.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
