"""Flat, typed run configuration that round-trips with YAML and with notebook parameters."""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import types
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .io import write_text_atomic
from .models import DEFAULT_MODEL

SCHEDULES = ("linear", "cosine", "constant", "constant_with_warmup")
OBJECTIVES = ("sft", "dpo")
KL_ON = ("all", "replay")  # TrainConfig.kl_on: which labelled tokens the KL to base counts
TASKS = ("generation", "classification")  # TrainConfig.task: what the tuned model outputs
REPORTERS = ("mlflow", "tensorboard", "trackio", "none")  # TrainConfig.report_to
MAX_SAMPLE_PROMPTS = 16  # TrainConfig.sample_prompts: a few to watch, not an evaluation set


def default_report_to() -> str:
    """$WORKBENCH_REPORT_TO, else mlflow (local SQLite store beside the runs; training/tracking.py)."""
    return os.environ.get("WORKBENCH_REPORT_TO", "").strip().lower() or "mlflow"


@dataclass
class TrainConfig:
    """Everything one training run needs. Field names double as papermill parameter names."""

    # what to tune
    model: str = DEFAULT_MODEL
    # generation: a chat model that writes answers; classification: a label per text from a
    # sequence-classification head on the same backbone (training/classifier.py)
    task: str = "generation"
    technique: str = "lora"
    dtype: str = "auto"  # auto | float32 | bfloat16 | float16
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    # technique knobs (each technique reads the ones it needs)
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: str = "all-linear"  # "all-linear" or comma-separated module names
    freeze_keep_last: int = 2  # `freeze`: train only the last N decoder layers (+ final norm)
    # data
    dataset: str = "orders-json"
    eval_dataset: str | None = None  # None: the sample's eval split, or a slice of `dataset`;
    # "none" (lower case): no eval split at all (everything trains; no eval loss, nothing for 04)
    eval_fraction: float = 0.1  # used when there is no eval split
    split: str = "random"  # "by_template": hold out whole templates; "by_field": whole groups
    split_field: str | None = (
        None  # split="by_field": the column that names a row's group (customer)
    )
    # classification data: the text and label columns (None: detected) and the label set
    # (comma-separated; None: the labels found in the training data, sorted)
    text_field: str | None = None
    label_field: str | None = None
    labels: str | None = None
    max_train_rows: int | None = None
    # replay: general conversations mixed into the training split only (never eval), so the
    # model keeps rehearsing what it could do (a sample such as general-replay, or a file)
    replay: str | None = None
    replay_share: float = 0.0  # share of the training rows drawn from `replay`, in [0, 0.9]
    max_eval_rows: int | None = None
    # a field of the data file's rows naming the person a row is about (a customer id): indexed,
    # salted and hashed, beside the PII found in the rows (provenance/index.py)
    subject_field: str | None = None
    max_length: int = 512
    assistant_only_loss: bool = True  # instruction tuning: labels only on assistant turns
    packing: bool = False
    group_by_length: bool = True
    # schedule
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    batch_size: int = 8
    # rows per forward/backward inside one batch; None: chosen from memory (training/micro_batch.py)
    micro_batch_size: int | None = None
    grad_accum: int = 1
    learning_rate: float | str = (
        2e-4  # or "find": an LR range test picks it (training/lr_finder.py)
    )
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    gradient_checkpointing: bool = False
    # beta * KL(tuned || base) on the labelled tokens; the base is the model with its adapter
    # switched off (training/kl.py): adapter techniques only, one extra no-grad forward per step
    kl_to_base: float = 0.0
    # where the KL counts: "all" labelled tokens, or only the `replay` rows' ("replay"), which then
    # train on the KL alone while the task rows train on their own loss alone (training/kl.py)
    kl_on: str = "all"
    # CPU + glibc: freed blocks >= 1 MiB go back to the OS at once (workbench/malloc.py): lower
    # peak RSS, slower steps. Process-wide for the rest of the process.
    cpu_low_memory: bool = False
    seed: int = 42
    # cadence
    log_every: int = 5
    eval_every: int = 0  # 0: at the end of each epoch only
    save_every: int = 0  # 0: at the end only
    early_stopping_patience: int = 0  # 0: off
    eval_at_start: bool = True  # an eval before the first step: the baseline the curve falls from
    # answer the prompts of the first N eval rows greedily at each evaluation (samples.jsonl, the
    # live panel, the tracker; training/samples.py): 0 is off, as each answer costs generation time
    sample_prompts: int = 0
    # the length of those answers: each generated token costs a forward
    sample_max_new_tokens: int = 48
    # objective: sft (instruction tuning) or dpo (preference pairs, training/preference.py)
    objective: str = "sft"
    beta: float = 0.1  # dpo: how far the tuned model may move from the reference
    init_adapter: str | None = None  # dpo: start from this SFT run's adapter (run dir or folder)
    # output
    run_dir: str = "runs/latest"
    save_merged: bool = False
    report_to: str = dataclasses.field(default_factory=default_report_to)  # one of REPORTERS

    def __post_init__(self) -> None:
        _coerce_types(self)
        positive = ("lora_r", "lora_alpha", "max_length", "batch_size", "grad_accum", "log_every")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"TrainConfig.{name} must be > 0, got {getattr(self, name)!r}.")
        for name in (
            "eval_every",
            "save_every",
            "early_stopping_patience",
            "weight_decay",
            "freeze_keep_last",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"TrainConfig.{name} must be >= 0, got {getattr(self, name)!r}.")
        if self.micro_batch_size is not None and not 0 < self.micro_batch_size <= self.batch_size:
            raise ConfigError(
                f"TrainConfig.micro_batch_size must be between 1 and batch_size ({self.batch_size}), "
                f"got {self.micro_batch_size!r}; leave it None to let the workbench choose."
            )
        if self.max_grad_norm < 0:
            raise ConfigError(
                f"TrainConfig.max_grad_norm must be >= 0 (0 turns clipping off), got {self.max_grad_norm!r}."
            )
        if not str(self.run_dir).strip():
            raise ConfigError(
                "TrainConfig.run_dir is empty: name a folder for the run (e.g. runs/orders); "
                "the working directory itself is never used as a run directory."
            )
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ConfigError(
                f"TrainConfig.lora_dropout must be in [0, 1), got {self.lora_dropout!r}."
            )
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError(
                f"TrainConfig.warmup_ratio must be in [0, 1), got {self.warmup_ratio!r}."
            )
        if not 0.0 < self.eval_fraction < 1.0:
            raise ConfigError(
                f"TrainConfig.eval_fraction must be in (0, 1), got {self.eval_fraction!r}."
            )
        from .data.splits import SPLITS

        if self.split not in SPLITS:
            raise ConfigError(
                f"TrainConfig.split must be one of {', '.join(SPLITS)}, got {self.split!r}."
            )
        if (self.split == "by_field") != bool(self.split_field):
            raise ConfigError(
                "TrainConfig.split='by_field' and split_field go together: name the column that "
                "says which group a row belongs to (e.g. split_field: customer), or leave both out."
            )
        if self.learning_rate == "find":
            if self.objective != "sft" or self.task != "generation":
                raise ConfigError(
                    "TrainConfig.learning_rate='find' runs the LR range test of instruction tuning "
                    f"(objective sft, task generation); this run is objective {self.objective!r}, "
                    f"task {self.task!r}: give a number instead."
                )
        elif self.learning_rate <= 0:
            raise ConfigError(f"TrainConfig.learning_rate must be > 0, got {self.learning_rate!r}.")
        if self.max_steps <= 0 and self.epochs <= 0:
            raise ConfigError(
                "Set epochs > 0 or max_steps > 0: otherwise nothing would be trained."
            )
        if self.lr_scheduler not in SCHEDULES:
            raise ConfigError(
                f"TrainConfig.lr_scheduler must be one of {SCHEDULES}, got {self.lr_scheduler!r}."
            )
        self.report_to = self.report_to.strip().lower()
        if self.report_to not in REPORTERS:
            raise ConfigError(
                f"TrainConfig.report_to must be one of {', '.join(REPORTERS)}, got {self.report_to!r}."
            )
        if self.objective not in OBJECTIVES:
            raise ConfigError(
                f"TrainConfig.objective must be one of {OBJECTIVES}, got {self.objective!r}."
            )
        if self.beta <= 0:
            raise ConfigError(f"TrainConfig.beta must be > 0 (DPO uses 0.1), got {self.beta!r}.")
        self._check_forgetting_options()
        self._check_task()
        self._check_samples()
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise ConfigError(
                f"TrainConfig.dtype must be auto, float32, bfloat16 or float16, got {self.dtype!r}."
            )

    def _check_forgetting_options(self) -> None:
        """kl_to_base and replay: in range, and only where they mean something."""
        if self.kl_to_base < 0:
            raise ConfigError(
                f"TrainConfig.kl_to_base must be >= 0 (0 turns it off), got {self.kl_to_base!r}."
            )
        if self.kl_to_base > 0 and self.objective != "sft":
            raise ConfigError(
                f"TrainConfig.kl_to_base applies to objective='sft'; objective={self.objective!r} "
                "already keeps the model near its reference through `beta`. Set kl_to_base=0."
            )
        if self.kl_to_base > 0:
            from .techniques import get_technique

            tech = get_technique(self.technique)
            if not tech.saves_adapter:  # no adapter to switch off: the base would be a 2nd model
                raise ConfigError(
                    f"TrainConfig.kl_to_base={self.kl_to_base} needs the base model's "
                    f"predictions, which come from switching the adapter off; {tech.title} "
                    f"({self.technique!r}) trains the weights themselves and has no adapter. Use an "
                    "adapter technique (lora, qlora, dora), or set kl_to_base=0 and limit "
                    "forgetting with replay / replay_share."
                )
        if not 0.0 <= self.replay_share <= 0.9:
            raise ConfigError(
                f"TrainConfig.replay_share must be in [0, 0.9] (the share of training rows taken "
                f"from `replay`), got {self.replay_share!r}."
            )
        if self.replay is not None and not str(self.replay).strip():
            self.replay = None
        if self.replay_share > 0 and self.replay is None:
            raise ConfigError(
                f"TrainConfig.replay_share={self.replay_share} but no `replay` data is named: set "
                "replay to a sample (e.g. general-replay) or a file of general conversations."
            )
        if self.replay is not None and self.replay_share == 0:
            raise ConfigError(
                f"TrainConfig.replay={self.replay!r} is named but replay_share is 0, so none of it "
                "would be used: set replay_share (e.g. 0.2), or replay=None."
            )
        if self.replay is not None and self.objective != "sft":
            raise ConfigError(
                f"TrainConfig.replay mixes conversations into instruction tuning; objective="
                f"{self.objective!r} trains on preference pairs. Set replay=None."
            )
        if self.kl_on not in KL_ON:
            raise ConfigError(
                f"TrainConfig.kl_on must be one of {KL_ON} (where the KL to base counts), got "
                f"{self.kl_on!r}."
            )
        if self.kl_on == "replay" and (self.kl_to_base == 0 or self.replay is None):
            raise ConfigError(
                "TrainConfig.kl_on='replay' counts the KL to base on the replay rows only, so it "
                f"needs kl_to_base > 0 (got {self.kl_to_base}) and `replay` data with a "
                f"replay_share (got replay={self.replay!r}). Set both, or kl_on='all'."
            )

    def _check_task(self) -> None:
        """classification: one label per text, so options that shape generated answers do not apply."""
        if self.task not in TASKS:
            raise ConfigError(f"TrainConfig.task must be one of {TASKS}, got {self.task!r}.")
        if self.task != "classification":
            return
        clashes = {
            "objective": self.objective != "sft",
            "kl_to_base": self.kl_to_base > 0,
            "replay": self.replay is not None,
            "packing": self.packing,
            "split": self.split != "random",
        }
        bad = [name for name, clash in clashes.items() if clash]
        if bad:
            raise ConfigError(
                f"TrainConfig.task='classification' trains a label head; {', '.join(bad)} "
                "shape(s) generated answers and do not apply. Leave objective='sft', "
                "kl_to_base=0, replay=None, packing=False, split='random'."
            )

    def _check_samples(self) -> None:
        """sample_prompts: a few prompts, answered by a model that writes answers."""
        if not 0 <= self.sample_prompts <= MAX_SAMPLE_PROMPTS:
            raise ConfigError(
                f"TrainConfig.sample_prompts must be in 0..{MAX_SAMPLE_PROMPTS} (how many eval "
                f"prompts to answer at each evaluation; 0 is off), got {self.sample_prompts!r}. "
                "Each one adds generation time to every evaluation: notebook 04 answers them all."
            )
        if not 1 <= self.sample_max_new_tokens <= 4096:
            raise ConfigError(
                "TrainConfig.sample_max_new_tokens must be in 1..4096, got "
                f"{self.sample_max_new_tokens!r}."
            )
        if self.sample_prompts and self.task == "classification":
            raise ConfigError(
                f"TrainConfig.sample_prompts={self.sample_prompts} answers prompts, but "
                "task='classification' trains a label head that writes no answers (its evaluations "
                "report accuracy and macro-F1 instead). Set sample_prompts=0."
            )

    def label_set(self) -> list[str] | None:
        """`labels` as a list of names, or None when the data decides."""
        if not self.labels:
            return None
        return [name.strip() for name in str(self.labels).split(",") if name.strip()]

    # -- round trips ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, strict: bool = True) -> TrainConfig:
        """Build from a dict; unknown keys are an error when `strict`, else ignored."""
        known = _field_names(cls)
        unknown = sorted(set(data) - known)
        if unknown and strict:
            raise ConfigError(unknown_keys_message(unknown, known, what="TrainConfig field"))
        return cls(**{k: v for k, v in data.items() if k in known})

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_yaml(self, path: str | Path | None = None) -> str:
        text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        if path is not None:
            write_text_atomic(path, text)
        return text

    @classmethod
    def from_yaml(cls, source: str | Path, *, strict: bool = True) -> TrainConfig:
        """Read a YAML file (or YAML text). A top-level `train:` section is used when present."""
        text = Path(source).read_text(encoding="utf-8") if _looks_like_path(source) else str(source)
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source}: not valid YAML ({exc}).") from exc
        if not isinstance(data, dict):
            raise ConfigError(
                f"{source}: expected a mapping of field: value, got {type(data).__name__}."
            )
        if isinstance(data.get("train"), dict):
            data = data["train"]
        return cls.from_dict(data, strict=strict)

    # -- the run directory's train_config.yaml (workbench/rundir.py) ----------------------------
    def save(self, run_dir: str | Path) -> Path:
        from .rundir import RunDir

        path = RunDir(run_dir).train_config_yaml
        self.to_yaml(path)
        return path

    @classmethod
    def load(cls, run_dir: str | Path) -> TrainConfig:
        """ArtifactMissing when absent; ArtifactError naming the file when it does not parse or validate."""
        from .errors import ArtifactError, ArtifactMissing
        from .rundir import RunDir

        path = RunDir(run_dir).train_config_yaml
        if not path.is_file():
            raise ArtifactMissing(
                f"{path}: not found; notebook 03_train (or `workbench train`) writes it."
            )
        try:  # keys of a newer version are ignored; a missing key takes its default
            return cls.from_yaml(path, strict=False)
        except ConfigError as exc:
            raise ArtifactError(str(exc) if str(path) in str(exc) else f"{path}: {exc}") from exc

    @classmethod
    def load_optional(cls, run_dir: str | Path) -> TrainConfig | None:
        from .errors import ArtifactMissing

        try:
            return cls.load(run_dir)
        except ArtifactMissing:
            return None

    @classmethod
    def from_parameters(cls, namespace: dict[str, Any]) -> TrainConfig:
        """Pick this config's fields out of a notebook's globals (papermill parameters)."""
        return cls.from_dict(
            {k: v for k, v in namespace.items() if k in _field_names(cls)}, strict=False
        )


def _field_names(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}


def unknown_keys_message(unknown: list[str], known: set[str], *, what: str) -> str:
    """'Unknown X: learning_rat (did you mean learning_rate?)' for each key, then the known ones."""
    parts = []
    for key in unknown:
        close = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.6)
        parts.append(f"{key} (did you mean {close[0]}?)" if close else str(key))
    return f"Unknown {what}(s): {', '.join(parts)}. Known: {', '.join(sorted(known))}."


def _looks_like_path(source: str | Path) -> bool:
    if isinstance(source, Path):
        return True
    if "\n" in source or len(source) > 1024:
        return False
    return source.endswith((".yaml", ".yml")) or Path(source).is_file()


# "none" in lower case, as notebook 01 and data/splits.py spell it; Python's "None" (a papermill or
# CLI string) stays None
_NO_EVAL = re.compile(r"^\s*(none|no|false)\s*$")


def _coerce_types(obj: Any) -> None:
    """Coerce values that arrive as strings or ints (papermill, YAML, CLI) to the declared type."""
    hints = typing.get_type_hints(type(obj))
    for f in fields(obj):
        value = getattr(obj, f.name)
        setattr(obj, f.name, _coerce(f.name, value, hints[f.name]))


def _coerce(name: str, value: Any, hint: Any) -> Any:
    args = typing.get_args(hint)
    optional = (typing.get_origin(hint) in (typing.Union, types.UnionType)) and type(None) in args
    if name == "eval_dataset" and isinstance(value, str) and _NO_EVAL.match(value):
        return "none"  # "no eval split" (data/splits.py), not None ("decide by the rule")
    if name == "learning_rate":  # a number, or "find": the range test chooses it before training
        if isinstance(value, str) and value.strip().lower() == "find":
            return "find"
        hint = float
    if optional:
        if value is None or (
            isinstance(value, str) and value.strip().lower() in ("", "none", "null")
        ):
            return None
        hint = next(a for a in args if a is not type(None))
    try:
        if hint is bool:
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered in ("true", "1", "yes", "on"):
                    return True
                if lowered in ("false", "0", "no", "off"):
                    return False
                raise ValueError(value)
            if isinstance(value, (bool, int)):
                return bool(value)
            raise ValueError(value)
        if hint is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(value)
        if hint is float:
            if isinstance(value, bool) or not math.isfinite(number := float(value)):
                raise ValueError(value)
            return number
        if hint is str:
            if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
                return ",".join(value)  # YAML lists where a comma-separated string is expected
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise ValueError(value)
            return str(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"Config field {name!r} expects {getattr(hint, '__name__', hint)}, got {value!r} "
            f"({type(value).__name__})."
        ) from None
    return value


__all__ = ["TrainConfig", "SCHEDULES", "REPORTERS", "unknown_keys_message"]
