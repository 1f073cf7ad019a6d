"""From a TrainConfig to a ready Trainer: the model with its technique, the encoded splits, and
the TrainingArguments with the CPU policy (engine.py's module docstring).

Shared by the engine (a run) and the LR range test (lr_finder.py), which builds the same Trainer
in a scratch directory; the classifier and preference paths take `training_args` from here too.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..config import TrainConfig
from ..errors import ConfigError
from ..rundir import RunDir
from .result import SplitData
from .tracking import report_to_integrations

log = logging.getLogger(__name__)


def build_sft(
    cfg: TrainConfig, rd: RunDir, splits: Any, checkpoint: Path | None
) -> tuple[Any, Any, dict[str, Any]]:
    """Model, technique, encoded data and the Trainer, ready to run."""
    from transformers import PrinterCallback, ProgressCallback, set_seed

    from ..malloc import apply_cpu_low_memory
    from ..models import choose_device, load_model, quiet_loading
    from ..techniques import get_technique
    from .batching import Collator, EncodedDataset, encode_dataset, pack
    from .trainer import WorkbenchTrainer, param_counts

    set_seed(cfg.seed)
    tech = get_technique(cfg.technique)
    apply_cpu_low_memory(cfg.cpu_low_memory, choose_device(cfg.device))
    with quiet_loading():  # tqdm.auto would leave a progress widget in papermill outputs
        model, tokenizer = load_model(
            cfg.model, technique=cfg.technique, dtype=cfg.dtype, device=cfg.device
        )
    model = tech.prepare(model, cfg)
    trainable, total = param_counts(model)
    encoded, data = {}, {}
    for name, ds in (("train", splits.train), ("eval", splits.eval)):
        items, report = encode_dataset(
            tokenizer,
            ds.conversations,
            max_length=cfg.max_length,
            assistant_only=cfg.assistant_only_loss,
            kl_rows=replay_flags(ds, splits) if name == "train" and cfg.kl_on == "replay" else None,
        )
        if cfg.packing and name == "train":
            items = pack(items, max_length=cfg.max_length, seed=cfg.seed)
            report.packed_rows = len(items)
        encoded[name], data[name] = (
            EncodedDataset(items),
            SplitData(**report.to_dict(), source=splits.sources[name]),
        )
        if name == "train" and splits.replay_rows:
            data[name].replay_rows, data[name].replay = splits.replay_rows, splits.replay
    if not len(encoded["train"]):
        raise ConfigError(
            "No training rows left after tokenisation: every row lost its labels (check max_length)."
        )
    trainer = WorkbenchTrainer(
        model=model,
        args=training_args(cfg, rd, model, resuming=checkpoint is not None),
        train_dataset=encoded["train"],
        eval_dataset=encoded["eval"] if len(encoded["eval"]) else None,
        data_collator=Collator(pad_token_id=tokenizer.pad_token_id),
        processing_class=tokenizer,
        group_by_length=cfg.group_by_length and not cfg.packing,
        kl_to_base=cfg.kl_to_base,
    )
    for noisy in (PrinterCallback, ProgressCallback):  # events replace Trainer's prints and tqdm
        trainer.remove_callback(noisy)
    return (
        trainer,
        tech,
        {
            "data": data,
            "trainable": trainable,
            "total": total,
            "tokenizer": tokenizer,
            "splits": splits,
        },
    )


def training_args(
    cfg: TrainConfig,
    rd: RunDir,
    model: Any,
    *,
    resuming: bool,
    args_class: Any = None,
    **extra: Any,
) -> Any:
    """TrainingArguments (or `args_class`, e.g. TRL's DPOConfig) with the CPU policy; `extra` on top."""
    import torch
    from transformers import TrainingArguments

    from ..estimation.estimator import micro_batch_size

    device = str(next(model.parameters()).device)
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    on_gpu = device.startswith("cuda")
    if not on_gpu and dtype in (torch.bfloat16, torch.float16):
        log.warning(
            "Training in %s on a CPU: expect it to be very slow (use dtype=float32).", dtype
        )
    micro = micro_batch_size(cfg, device=device)  # the batch as micro-batches that fit
    base = dict(
        output_dir=str(rd.checkpoints_dir),
        per_device_train_batch_size=micro,
        per_device_eval_batch_size=micro,  # evaluation keeps no activations, but its peak follows
        gradient_accumulation_steps=cfg.grad_accum * (cfg.batch_size // micro),
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=cfg.warmup_ratio,  # < 1 means a fraction of the steps
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm,
        seed=cfg.seed,
        logging_strategy="steps",
        logging_steps=cfg.log_every,
        logging_nan_inf_filter=False,  # let a NaN reach the log, where NanGuard sees it
        eval_strategy="steps" if cfg.eval_every else "no",
        eval_steps=cfg.eval_every or None,
        eval_on_start=cfg.eval_at_start and not resuming,  # the baseline is already in the log
        save_strategy="steps" if cfg.save_every else "no",
        save_steps=cfg.save_every or None,
        include_num_input_tokens_seen="non_padding",
        prediction_loss_only=True,  # evaluation needs the loss only: no logits kept
        report_to=report_to_integrations(cfg.report_to),  # the tracker run: training/tracking.py
        disable_tqdm=True,
        dataloader_num_workers=0,
        dataloader_pin_memory=on_gpu,
        remove_unused_columns=False,
        use_cpu=not on_gpu,
        bf16=on_gpu and dtype == torch.bfloat16,
        fp16=on_gpu and dtype == torch.float16,
        ddp_find_unused_parameters=False,
        label_names=["labels"],
        log_level="warning",
    )
    return (args_class or TrainingArguments)(**{**base, **extra})


def replay_flags(train: Any, splits: Any) -> list[bool]:
    """One flag per training conversation: True for the replay rows, which `mix_replay` appends."""
    n = splits.replay_rows
    return [False] * (len(train.conversations) - n) + [True] * n


__all__ = ["build_sft", "training_args"]
