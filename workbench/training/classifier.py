"""Classification: a sequence-classification head on the chosen backbone, trained by the same engine.

    config -> backbone + new head (+ adapter) -> texts and label ids -> WorkbenchTrainer -> the engine's artifacts

The head (transformers' *ForSequenceClassification) reads the hidden state of each text's last
real token, so the backbone must know its padding id (models.load_model sets it). The head is
new and random: LoRA and QLoRA train it in full beside their adapters (peft's SEQ_CLS task type),
freeze trains it with the top layers, full trains everything. Texts go in as they are, without a
chat template: the head sees the ticket, not a conversation. Evaluation adds accuracy and
macro-F1 to the loss (metrics.jsonl, the history, the result); the label names are
written to `labels.json` in the run directory (and in the model's config as id2label).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import TrainConfig
from ..data.splits import LabelSplits, resolve_labelled_splits
from ..errors import ConfigError, DataError
from ..io import write_json_atomic
from ..rundir import RunDir
from .result import SplitData
from .trainer import EventBridge, WorkbenchTrainer, param_counts

log = logging.getLogger(__name__)

EVAL_KEYS = ("eval_loss", "eval_accuracy", "eval_macro_f1")


def load_label_splits(
    cfg: TrainConfig, train_data: Any = None, eval_data: Any = None
) -> LabelSplits:
    """The run's labelled splits by the one split rule (data/splits.py), carving a stratified
    `eval_fraction` when no eval data is named; `eval` is an empty dataset when there is none."""
    splits = resolve_labelled_splits(
        train_data if train_data is not None else cfg.dataset,
        eval_data if eval_data is not None else cfg.eval_dataset,
        carve=True,
        eval_fraction=cfg.eval_fraction,
        seed=cfg.seed,
        labels=cfg.label_set(),
        text_field=cfg.text_field,
        label_field=cfg.label_field,
        max_train_rows=cfg.max_train_rows,
        max_eval_rows=cfg.max_eval_rows,
    )
    if splits.eval is None:
        splits.eval = splits.train.select([])
    classes = len(set(splits.train.labels))
    if classes < 2:
        raise DataError(
            f"{splits.sources['train']}: the training split has {classes} label(s); a "
            "classifier needs rows of at least two. Add rows of the other labels, or raise "
            "max_train_rows."
        )
    return splits


# -- encoding ------------------------------------------------------------------------------------


class EncodedTexts:
    """Token ids and a label id per row, as a torch-style map dataset."""

    def __init__(self, ids: list[list[int]], labels: list[int]):
        self.ids, self.labels = ids, labels

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"input_ids": self.ids[i], "labels": self.labels[i]}

    def lengths(self) -> list[int]:
        return [len(row) for row in self.ids]


def encode_texts(
    tokenizer: Any, ds: Any, *, max_length: int, source: str
) -> tuple[EncodedTexts, SplitData]:
    """Tokenise each text (cut at max_length: the start of a ticket usually says what it is about)."""
    ids = tokenizer(list(ds.texts), add_special_tokens=True)["input_ids"] if len(ds) else []
    truncated = sum(len(row) > max_length for row in ids)
    ids = [row[:max_length] for row in ids]
    data = SplitData(
        rows=len(ids),
        tokens=sum(len(row) for row in ids),
        truncated=truncated,
        source=source,
    )
    return EncodedTexts(ids, ds.label_ids()), data


@dataclass
class ClassCollator:
    """Right-pads token ids into a batch; one label id per row; `real_tokens` as the engine counts."""

    pad_token_id: int

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        length = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), length), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), length), dtype=torch.long)
        for b, row in enumerate(rows):
            ids[b, : len(row["input_ids"])] = torch.tensor(row["input_ids"])
            mask[b, : len(row["input_ids"])] = 1
        return {
            "input_ids": ids,
            "attention_mask": mask,
            "labels": torch.tensor([r["labels"] for r in rows], dtype=torch.long),
            "real_tokens": mask.sum(),
        }


# -- events and metrics --------------------------------------------------------------------------


class ClassifierBridge(EventBridge):
    """EventBridge that forwards accuracy and macro-F1 from each evaluation beside the loss."""

    eval_keys = EVAL_KEYS


def eval_metrics(prediction: Any) -> dict[str, float]:
    """Trainer's compute_metrics: accuracy and macro-F1 of the argmax label."""
    from ..comparison.label_metrics import accuracy, macro_f1

    logits, truth = prediction.predictions, prediction.label_ids
    if isinstance(logits, tuple):
        logits = logits[0]
    predicted = logits.argmax(axis=-1)
    classes = logits.shape[-1]
    return {"accuracy": accuracy(truth, predicted), "macro_f1": macro_f1(truth, predicted, classes)}


# -- building ------------------------------------------------------------------------------------


def build_classifier(
    cfg: TrainConfig,
    rd: RunDir,
    train_data: Any,
    eval_data: Any,
    checkpoint: Path | None,
    *,
    training_args: Any,
) -> tuple[Any, Any, dict[str, Any]]:
    """Backbone with a new head (and the technique's adapter), encoded texts and the Trainer.

    training_args: build.py's `training_args` (passed in, so this module does not import the
    engine that imports it); evaluation here keeps the logits, for accuracy and macro-F1.
    """
    from transformers import PrinterCallback, ProgressCallback, set_seed

    from ..malloc import apply_cpu_low_memory
    from ..models import choose_device, load_model, quiet_loading
    from ..techniques import get_technique

    set_seed(cfg.seed)
    tech = get_technique(cfg.technique)
    splits = load_label_splits(cfg, train_data, eval_data)
    apply_cpu_low_memory(cfg.cpu_low_memory, choose_device(cfg.device))
    with quiet_loading():
        model, tokenizer = load_model(
            cfg.model,
            technique=cfg.technique,
            dtype=cfg.dtype,
            device=cfg.device,
            labels=splits.label_names,
        )
    model = tech.prepare(model, cfg)
    write_json_atomic(rd.labels_json, {"labels": splits.label_names})
    encoded, data = {}, {}
    for name, ds in (("train", splits.train), ("eval", splits.eval)):
        encoded[name], data[name] = encode_texts(
            tokenizer, ds, max_length=cfg.max_length, source=splits.sources[name]
        )
    if not len(encoded["train"]):
        raise ConfigError(
            "No training rows: every labelled row was rejected (see the load problems)."
        )
    args = training_args(
        cfg,
        rd,
        model,
        resuming=checkpoint is not None,
        prediction_loss_only=False,  # keep the logits: accuracy and macro-F1 need them
    )
    trainer = WorkbenchTrainer(
        model=model,
        args=args,
        train_dataset=encoded["train"],
        eval_dataset=encoded["eval"] if len(encoded["eval"]) else None,
        data_collator=ClassCollator(pad_token_id=tokenizer.pad_token_id),
        processing_class=tokenizer,
        group_by_length=cfg.group_by_length,
        compute_metrics=eval_metrics,
        compute_loss_func=class_loss,
    )
    trainer.event_bridge = ClassifierBridge
    for noisy in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(noisy)
    trainable, total = param_counts(model)
    info = {"data": data, "trainable": trainable, "total": total, "splits": splits}
    return trainer, tech, info


def class_loss(outputs: Any, labels: Any, num_items_in_batch: Any = None) -> Any:
    """Cross-entropy over the labels, summed and divided by the rows of the whole optimizer batch.

    The head's own loss is a mean per micro-batch, and the Trainer, seeing a model that takes
    loss kwargs, does not divide it by the accumulation steps: on a CPU, where a batch of 16 runs
    as micro-batches, the loss and its gradient came out that many times too large."""
    import torch.nn.functional as F

    logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
    total = F.cross_entropy(logits.float(), labels.to(logits.device), reduction="sum")
    rows = labels.numel() if num_items_in_batch is None else num_items_in_batch
    return total / rows


def load_label_names(run_dir: str | Path) -> list[str]:
    """The label list a classification run trained with (its labels.json)."""
    import json

    path = RunDir(run_dir).labels_json
    if not path.is_file():
        raise ConfigError(
            f"{path} is missing: {run_dir} is not a classification run, or its training has not "
            "started. Train it with task='classification' first."
        )
    return list(json.loads(path.read_text(encoding="utf-8"))["labels"])
