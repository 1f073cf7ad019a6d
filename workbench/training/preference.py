"""Preference tuning (DPO) through TRL's DPOTrainer, with the workbench's checkpoints, events and guards.

    config -> model + adapter -> pairs -> DPOTrainer (+ WorkbenchTrainer's safety) -> the engine's artifacts

The reference model is the same model with its adapter switched off (no second copy in memory), so
DPO needs an adapter technique (lora, qlora, dora). Started from an SFT run's adapter
(`init_adapter`), TRL keeps a frozen copy of that adapter as the reference ("ref", adapter-sized):
the reference is then the SFT model, as in the DPO paper. CPU policy as for SFT: fp32, no
gradient checkpointing unless asked, no bf16, no telemetry, no model card from TRL.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import TrainConfig
from ..errors import ConfigError, DataError
from ..rundir import RunDir
from .result import SplitData
from .trainer import EventBridge, WorkbenchTrainer

log = logging.getLogger(__name__)

# TRL's metric names -> the workbench's history keys (train; eval adds the eval_ prefix)
METRICS = {
    "rewards/margins": "reward_margin",
    "rewards/accuracies": "preference_accuracy",
    "rewards/chosen": "reward_chosen",
    "rewards/rejected": "reward_rejected",
}


def _trl_dpo() -> Any:
    try:
        from trl import DPOConfig, DPOTrainer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConfigError(
            "Preference tuning needs TRL: pip install 'workbench[preference]' (or pip install trl)."
        ) from exc
    return DPOConfig, DPOTrainer


@dataclass
class PairSplits:
    """Train and eval preference pairs and where each came from."""

    train: Any
    eval: Any
    sources: dict[str, str] = field(default_factory=dict)


def load_pair_splits(cfg: TrainConfig, train_data: Any = None, eval_data: Any = None) -> PairSplits:
    """Explicit data wins, then `cfg.eval_dataset`, then the sample's eval split, else a seeded slice."""
    from ..data.dataset import sample_path
    from ..data.preferences import load_preferences

    train = load_preferences(train_data if train_data is not None else cfg.dataset, split="train")
    sources = {"train": train.provenance.source}
    if eval_data is not None or cfg.eval_dataset:
        evals = load_preferences(eval_data if eval_data is not None else cfg.eval_dataset)
        sources["eval"] = "given" if eval_data is not None else evals.provenance.source
    elif train_data is None and _has_eval_split(cfg.dataset, sample_path):
        evals = load_preferences(cfg.dataset, split="eval")
        sources["eval"] = evals.provenance.source
    else:
        order = list(range(len(train)))
        random.Random(cfg.seed).shuffle(order)
        cut = max(1, round(len(order) * cfg.eval_fraction)) if len(order) > 1 else 0
        evals, train = train.select(sorted(order[:cut])), train.select(sorted(order[cut:]))
        sources["eval"] = f"{cfg.eval_fraction:.0%} of train (seed {cfg.seed})"
    return PairSplits(train.head(cfg.max_train_rows), evals.head(cfg.max_eval_rows), sources)


def _has_eval_split(name: Any, sample_path: Any) -> bool:
    if not isinstance(name, str):
        return False
    try:
        return sample_path(name, "eval").is_file()
    except DataError:
        return False


# -- the trainer --------------------------------------------------------------------------------


def preference_trainer_class() -> type:
    """WorkbenchTrainer's checkpoints and guards on top of TRL's DPOTrainer (built lazily: TRL is optional)."""
    _, dpo_trainer = _trl_dpo()

    class PreferenceTrainer(WorkbenchTrainer, dpo_trainer):
        """Atomic checkpoints and the finite-weight check (WorkbenchTrainer), DPO's loss (TRL)."""

        event_bridge = PreferenceBridge

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            return dpo_trainer.compute_loss(self, model, inputs, return_outputs, num_items_in_batch)

        def _track_num_input_tokens(self, inputs: dict[str, Any]) -> None:
            import torch

            real = inputs["attention_mask"].sum().to(self.args.device, dtype=torch.int64)
            self.state.num_input_tokens_seen += int(self.accelerator.gather(real).sum().item())

        def _send_telemetry(self) -> None:  # offline by default: no pings to the hub
            return None

        def create_model_card(self, *args: Any, **kwargs: Any) -> None:
            return None  # the workbench writes its own card (saving.py, documents/)

    return PreferenceTrainer


class PreferenceBridge(EventBridge):
    """EventBridge that also forwards DPO's reward margin and preference accuracy (train and eval)."""

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> Any:
        logs = logs or {}
        if "loss" in logs:
            self._sync(state)
            keep = {k: float(logs[k]) for k in ("loss", "grad_norm", "learning_rate") if k in logs}
            keep.update({new: float(logs[old]) for old, new in METRICS.items() if old in logs})
            self._emit("on_log", keep)
        return self._obey(control)

    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: Any = None, **kw: Any
    ) -> Any:
        self._sync(state)
        metrics = metrics or {}
        out = {"eval_loss": float(metrics["eval_loss"])} if "eval_loss" in metrics else {}
        out.update(
            {
                f"eval_{new}": float(metrics[f"eval_{old}"])
                for old, new in METRICS.items()
                if f"eval_{old}" in metrics
            }  # fmt: skip
        )
        self._emit("on_evaluate", out)
        return self._obey(control)


# -- building -----------------------------------------------------------------------------------


def build_preference(
    cfg: TrainConfig,
    rd: RunDir,
    train_data: Any,
    eval_data: Any,
    checkpoint: Path | None,
    *,
    training_args: Any,
) -> tuple[Any, Any, dict[str, Any]]:
    """Model with its adapter, the pairs as TRL rows, and the PreferenceTrainer, ready to run.

    training_args: build.py's `training_args` (passed in, so this module does not import the
    engine that imports it), called with DPOConfig as the class and DPO's settings on top.
    """
    from transformers import PrinterCallback, ProgressCallback, set_seed

    from ..models import load_model, quiet_loading
    from ..techniques import get_technique

    dpo_config, _ = _trl_dpo()
    set_seed(cfg.seed)
    tech = get_technique(cfg.technique)
    if not tech.saves_adapter:
        raise ConfigError(
            f"objective={cfg.objective!r} needs an adapter technique (lora, qlora or dora), got "
            f"{cfg.technique!r}: the reference model is the base with the adapter switched off."
        )
    splits = load_pair_splits(cfg, train_data, eval_data)
    with quiet_loading():
        model, tokenizer = load_model(
            cfg.model, technique=cfg.technique, dtype=cfg.dtype, device=cfg.device
        )
    model = _with_adapter(model, tech, cfg)
    args = training_args(
        cfg, rd, model, resuming=checkpoint is not None, args_class=dpo_config, **_dpo_args(cfg)
    )
    from datasets.utils import logging as ds_logging

    ds_logging.disable_progress_bar()  # TRL tokenises with datasets.map: no bars in outputs
    try:
        trainer = preference_trainer_class()(
            model=model,
            args=args,
            train_dataset=_hf_dataset(splits.train),
            eval_dataset=_hf_dataset(splits.eval) if len(splits.eval) else None,
            processing_class=tokenizer,
        )
    finally:
        ds_logging.enable_progress_bar()
    if cfg.init_adapter is None and "ref" in trainer.model.peft_config:
        trainer.model.delete_adapter("ref")  # a fresh adapter: its reference is the bare base
    for noisy in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(noisy)
    trainable, total = (int(n) for n in trainer.model.get_nb_trainable_parameters())
    data = {
        "train": _split_data(trainer.train_dataset, splits.sources["train"], cfg.max_length),
        "eval": _split_data(trainer.eval_dataset, splits.sources["eval"], cfg.max_length),
    }
    info = {"data": data, "trainable": trainable, "total": total, "splits": splits}
    return trainer, tech, info


def _dpo_args(cfg: TrainConfig) -> dict[str, Any]:
    return {
        "beta": cfg.beta,
        "max_length": cfg.max_length,
        "loss_type": ["sigmoid"],
        "gradient_checkpointing": cfg.gradient_checkpointing,
        "disable_dropout": True,
        "dataset_num_proc": None,
        "include_num_input_tokens_seen": "non_padding",
        "label_names": [],
    }


def _with_adapter(model: Any, tech: Any, cfg: TrainConfig) -> Any:
    """A fresh adapter from the technique, or the SFT run's adapter, trainable."""
    if cfg.init_adapter is None:
        return tech.prepare(model, cfg)
    from peft import PeftModel

    folder = _adapter_folder(cfg.init_adapter)
    log.info("Starting DPO from the adapter in %s", folder)
    return PeftModel.from_pretrained(model, str(folder), is_trainable=True)


def _adapter_folder(path: str) -> Path:
    """An adapter folder, or a run directory holding one."""
    given = Path(path).expanduser()
    for folder in (given, RunDir(given).adapter_dir):
        if (folder / "adapter_config.json").is_file():
            return folder
    raise ConfigError(
        f"TrainConfig.init_adapter={path!r}: no adapter_config.json there or in its adapter/ "
        "folder. Point it at an SFT run directory (or its adapter/ folder) trained with LoRA."
    )


def _hf_dataset(pairs: Any) -> Any:
    from datasets import Dataset

    return Dataset.from_list(pairs.to_trl_records())


def _split_data(dataset: Any, source: str, max_length: int) -> SplitData:
    """Rows, tokens (both sides with their prompt), completion tokens, pairs cut by max_length."""
    if dataset is None:
        return SplitData(source=source)
    prompt, chosen, rejected = (dataset[c] for c in ("prompt_ids", "chosen_ids", "rejected_ids"))
    lengths = [(len(p), len(c), len(r)) for p, c, r in zip(prompt, chosen, rejected, strict=True)]
    return SplitData(
        rows=len(lengths),
        tokens=sum(2 * p + c + r for p, c, r in lengths),
        label_tokens=sum(c + r for _, c, r in lengths),
        truncated=sum(p + max(c, r) > max_length for p, c, r in lengths),
        source=source,
    )
