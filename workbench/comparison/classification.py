"""Compare a tuned classifier with its prompt-only baselines on the run's held-out rows.

Arms: the tuned head; the base chat model asked zero-shot for one label; the same with k worked
examples (the k training rows most like the text, BM25). Prompted arms answer by likelihood over
the label set (label_prompting.py), so every answer is a label. Each arm gets accuracy and
macro-F1 with 95% bootstrap intervals, a confusion matrix and per-class F1; the tuned head's lead
over the best prompted arm is a paired difference on the same rows, and the rows that changed
between the two (wrong -> right, right -> wrong) are kept to read. The forgetting probe of chat
runs does not apply: the head is new and answers nothing but labels.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..io import write_json_atomic, write_text_atomic
from ..rundir import Artifact, RunDir
from .label_metrics import METRICS, TITLES, confusion, paired_intervals, per_class, points

log = logging.getLogger(__name__)

TUNED = "tuned head"
NO_FORGETTING_PROBE = (
    "The forgetting probe does not apply: the classifier is a new head on the backbone that "
    "answers only with labels, and the base chat model is untouched (an adapter switched off, "
    "or a separate copy for full and freeze)."
)


@dataclass
class LabelArm:
    """One way of labelling the eval rows, and how well it did."""

    name: str
    kind: str  # "tuned" or "prompt"
    predictions: list[int]
    scores: dict[str, float]  # accuracy, macro_f1
    intervals: dict[str, list[float]]  # metric -> [low, high], 95% bootstrap
    confusion: list[list[int]]  # [true][predicted]
    f1_per_class: list[float]
    seconds: float
    shots: int = 0


@dataclass
class ClassificationComparison(Artifact):
    """What `compare_classifier` returns; saved as classification.json (+ classification.html)."""

    FILE = "classification_json"
    MADE_BY = "notebook 04_compare (or `workbench compare`) on a classification run"

    dataset: str
    label_names: list[str]
    texts: list[str]
    truth: list[int]
    arms: list[LabelArm]
    best_prompt: str  # the prompted arm with the highest macro-F1
    lead: dict[str, dict[str, Any]]  # metric -> {"delta", "interval"}: tuned minus best_prompt
    wrong_to_right: list[int]  # eval rows the best prompt got wrong and the tuned head right
    right_to_wrong: list[int]
    models: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def arm(self, name: str) -> LabelArm:
        return next(a for a in self.arms if a.name == name)

    @property
    def tuned(self) -> LabelArm:
        return next(a for a in self.arms if a.kind == "tuned")

    def tuned_score(self, metric: str) -> float | None:
        return self.tuned.scores.get(metric)

    def summary_lines(self) -> list[str]:
        lines = [
            f"{self.dataset}: {len(self.truth)} held-out texts, {len(self.label_names)} labels"
        ]
        for a in self.arms:
            parts = [
                f"{TITLES[m]} {a.scores[m]:.1%} [{a.intervals[m][0]:.1%}, {a.intervals[m][1]:.1%}]"
                for m in METRICS
            ]
            lines.append(f"  {a.name:<18} " + ", ".join(parts))
        for metric, lead in self.lead.items():
            lo, hi = lead["interval"]
            lines.append(
                f"  tuned - {self.best_prompt}: {TITLES[metric]} {points(lead['delta'])} "
                f"[{points(lo)}, {points(hi)}]"
            )
        lines.append(
            f"  changed vs {self.best_prompt}: {len(self.wrong_to_right)} wrong -> right, "
            f"{len(self.right_to_wrong)} right -> wrong"
        )
        return lines

    def beats_prompting(self, metric: str = "macro_f1") -> bool:
        """True when the tuned head's paired lead over the best prompted arm excludes zero."""
        return self.lead[metric]["interval"][0] > 0

    def _repr_html_(self) -> str:
        from .classification_html import classification_fragment

        return classification_fragment(self)

    def to_html(self) -> str:
        from .classification_html import classification_page

        return classification_page(self)

    def save(self, run_dir: str | Path) -> dict[str, Path]:  # type: ignore[override]
        rd = RunDir(run_dir)
        return {
            "json": write_json_atomic(rd.classification_json, self.to_dict()),
            "html": write_text_atomic(rd.classification_html, self.to_html()),
        }


def compare_classifier(
    run_dir: str | Path,
    *,
    few_shot_k: Sequence[int] = (0, 4),
    train_data: Any = None,
    eval_data: Any = None,
    max_eval_rows: int | None = None,
    device: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    save: bool = True,
) -> ClassificationComparison:
    """Tuned head vs the base model prompted with 0..k examples, on the run's held-out rows.

    few_shot_k: the prompted arms (0 = zero-shot). train_data / eval_data: the rows the run trained
    on and is scored on, when they were passed to train() in memory (dataset "given"); else the
    run's config says where they are. max_eval_rows: compare on a stratified subset.
    """
    from ..config import TrainConfig
    from ..data.splits import stratified_cap
    from ..errors import ConfigError, DataError
    from ..models import load_model
    from ..training.classifier import load_label_splits

    rd = RunDir(run_dir)
    cfg = TrainConfig.load(rd.root)
    if cfg.task != "classification":
        raise ConfigError(
            f"{rd.root} trained task={cfg.task!r}: compare it with `compare_run`, not "
            "`compare_classifier`."
        )
    names = load_label_names_of(rd)
    try:
        splits = load_label_splits(
            cfg.replace(labels=",".join(names), max_eval_rows=None),
            train_data=train_data,
            eval_data=eval_data,
        )
    except DataError as exc:
        if train_data is not None:
            raise
        raise DataError(
            f"{exc} (the run's dataset {cfg.dataset!r} could not be read again; if train() was given "
            "its rows in memory, pass the same train_data= and eval_data= to compare_classifier)"
        ) from exc
    evals = stratified_cap(splits.eval, max_eval_rows, cfg.seed)
    if not len(evals):
        raise ConfigError(
            f"{rd.root}: the run has no held-out rows to compare on (eval_dataset={cfg.eval_dataset!r}). "
            "Name an eval_dataset, or let the run hold out eval_fraction of its rows."
        )
    truth = evals.label_ids()
    arms = [_tuned_arm(rd, cfg, names, evals, device)]
    base = load_model(cfg.model, technique="full", device=device) if few_shot_k else None
    for k in few_shot_k:  # one base model for every prompted arm
        arms.append(_prompt_arm(base, names, evals, splits.train, k))
    arms = [_scored(arm, truth, len(names), n_boot=n_boot, seed=seed) for arm in arms]
    prompted = [a for a in arms if a.kind == "prompt"]
    best = max(prompted, key=lambda a: a.scores["macro_f1"]) if prompted else arms[0]
    result = ClassificationComparison(
        dataset=str(cfg.dataset),
        label_names=names,
        texts=list(evals.texts),
        truth=truth,
        arms=arms,
        best_prompt=best.name,
        lead=_lead(arms[0], best, truth, len(names), n_boot=n_boot, seed=seed),
        wrong_to_right=_changed(best.predictions, arms[0].predictions, truth),
        right_to_wrong=_changed(arms[0].predictions, best.predictions, truth),
        models={"model": cfg.model, "technique": cfg.technique, "run_dir": str(rd.root)},
        notes=[NO_FORGETTING_PROBE],
    )
    if save:
        result.save(rd.root)
    return result


def load_label_names_of(rd: RunDir) -> list[str]:
    from ..training.classifier import load_label_names

    return load_label_names(rd.root)


# -- the arms ------------------------------------------------------------------------------------


def _tuned_arm(rd: RunDir, cfg: Any, names: list[str], evals: Any, device: str | None) -> LabelArm:
    started = time.monotonic()
    model, tokenizer = load_classifier(rd.root, device=device)
    predictions = predict_labels(model, tokenizer, evals.texts, max_length=cfg.max_length)
    arm = _arm(TUNED, "tuned", predictions, time.monotonic() - started)
    log.info("%s: %d texts labelled in %.0f s", TUNED, len(predictions), arm.seconds)
    return arm


def predict_labels(
    model: Any, tokenizer: Any, texts: Sequence[str], *, max_length: int, batch_size: int = 16
) -> list[int]:
    """The head's label index for each text (cut at max_length, as training cut it)."""
    import torch

    predictions: list[int] = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                list(texts[start : start + batch_size]),
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            ).to(next(model.parameters()).device)
            predictions += model(**batch).logits.argmax(dim=-1).tolist()
    return predictions


def _prompt_arm(
    base: tuple[Any, Any], names: list[str], evals: Any, train: Any, k: int
) -> LabelArm:
    from .label_prompting import label_log_likelihoods, label_prompt, nearest_shots

    started = time.monotonic()
    model, tokenizer = base
    shots = nearest_shots(evals.texts, train.texts, train.labels, k)
    prompts = [label_prompt(text, names, s) for text, s in zip(evals.texts, shots, strict=True)]
    scores = label_log_likelihoods(model, tokenizer, prompts, names)
    predictions = [max(range(len(names)), key=row.__getitem__) for row in scores]
    name = "zero-shot" if k == 0 else f"few-shot k={k}"
    arm = _arm(name, "prompt", predictions, time.monotonic() - started)
    log.info("%s: %d texts scored in %.0f s", name, len(predictions), arm.seconds)
    arm.shots = k
    return arm


def load_classifier(run_dir: str | Path, *, device: str | None = None) -> tuple[Any, Any]:
    """The trained classifier of a run (base + adapter with its head, or the saved full model)."""
    from ..comparison.generation import _weights_dir
    from ..config import TrainConfig
    from ..models import load_model
    from ..training.result import TrainResult

    rd = RunDir(run_dir)
    cfg = TrainConfig.load(rd.root)
    names = load_label_names_of(rd)
    weights = _weights_dir(rd, TrainResult.load_optional(rd.root))
    if (weights / "adapter_config.json").is_file():
        from peft import PeftModel

        base, tokenizer = load_model(
            cfg.model, technique=cfg.technique, device=device, labels=names
        )
        model = PeftModel.from_pretrained(base, str(weights), is_trainable=False)
    else:
        model, tokenizer = load_model(str(weights), technique="full", device=device, labels=names)
    model.eval()
    return model, tokenizer


def _arm(name: str, kind: str, predictions: list[int], seconds: float) -> LabelArm:
    return LabelArm(name, kind, predictions, {}, {}, [], [], round(seconds, 2))


def _scored(arm: LabelArm, truth: list[int], n: int, *, n_boot: int, seed: int) -> LabelArm:
    for metric, fn in METRICS.items():
        arm.scores[metric] = fn(truth, arm.predictions, n)
        ci = paired_intervals(truth, {"a": arm.predictions}, n, score=fn, n_boot=n_boot, seed=seed)
        arm.intervals[metric] = list(ci["a"])
    arm.confusion = confusion(truth, arm.predictions, n)
    arm.f1_per_class = per_class(truth, arm.predictions, n)["f1"]
    return arm


def _lead(
    tuned: LabelArm, best: LabelArm, truth: list[int], n: int, *, n_boot: int, seed: int
) -> dict[str, dict[str, Any]]:
    out = {}
    for metric, fn in METRICS.items():
        preds = {"tuned": tuned.predictions, "best": best.predictions}
        ci = paired_intervals(truth, preds, n, score=fn, n_boot=n_boot, seed=seed)
        out[metric] = {
            "delta": tuned.scores[metric] - best.scores[metric],
            "interval": list(ci["tuned - best"]),
        }
    return out


def _changed(before: list[int], after: list[int], truth: list[int]) -> list[int]:
    """Rows `before` got wrong and `after` got right."""
    return [
        i for i, (b, a, t) in enumerate(zip(before, after, truth, strict=True)) if b != t and a == t
    ]
