"""Answers and perplexity from a base/tuned model pair: batched generation, the adapter-off base path, loading a run.

For a LoRA or QLoRA run the base model is the very same loaded model with its adapter switched off
(`PeftModel.disable_adapter()`), so a comparison keeps one copy of the weights in memory. A full
fine-tune has no adapter to switch off: its base is a second model.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ModelError
from ..rundir import RunDir

log = logging.getLogger(__name__)

Conversation = list[dict[str, str]]
SIDES = ("base", "tuned")


@dataclass
class GenerationSettings:
    """How answers are produced. Greedy by default, so two runs give the same answers."""

    max_new_tokens: int = 256
    do_sample: bool = False
    temperature: float = 0.7  # only when do_sample
    top_p: float = 0.95  # only when do_sample
    batch_size: int = 8
    seed: int = 0
    # decode only tokens that keep the answer valid for the task's JSON schema (constrained.py);
    # needs the schema, so `compare` passes it; the forgetting probe always decodes freely
    constrain: bool = False

    def __post_init__(self) -> None:
        if not 1 <= int(self.max_new_tokens) <= 4096:
            raise ConfigError(f"max_new_tokens must be in 1..4096, got {self.max_new_tokens!r}.")
        if int(self.batch_size) < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size!r}.")
        if self.do_sample and not (self.temperature > 0 and 0 < self.top_p <= 1):
            raise ConfigError("Sampling needs temperature > 0 and top_p in (0, 1].")
        self.max_new_tokens, self.batch_size = int(self.max_new_tokens), int(self.batch_size)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ModelPair:
    """The two models a comparison asks. `base=None` means: `tuned` is a PeftModel, turn its adapter off."""

    tuned: Any
    tokenizer: Any
    base: Any = None
    info: dict[str, Any] = field(
        default_factory=dict
    )  # model name, technique, run_dir, adapter_dir

    @property
    def shares_weights(self) -> bool:
        return self.base is None

    @contextmanager
    def use(self, side: str) -> Iterator[Any]:
        """The model that answers for `side` ("base" or "tuned"), in eval mode."""
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, got {side!r}")
        if side == "tuned" or self.base is not None:
            model = self.tuned if side == "tuned" else self.base
            model.eval()
            yield model
            return
        if not hasattr(self.tuned, "disable_adapter"):
            raise ModelError(
                "No base model was given and the tuned model has no adapter to switch off. "
                "Pass base=... (a model or a model name) for a full fine-tune."
            )
        self.tuned.eval()
        with self.tuned.disable_adapter():
            yield self.tuned


# -- generation -----------------------------------------------------------------------------------


def stop_token_ids(tokenizer: Any) -> list[int]:
    """End-of-sequence and end-of-turn ids (e.g. ChatML's <|im_end|>) that stop an answer."""
    ids = []
    for token in (tokenizer.eos_token, "<|im_end|>", "<|eot_id|>", "<end_of_turn>"):
        if not token:
            continue
        tid = tokenizer.convert_tokens_to_ids(token)
        if isinstance(tid, int) and tid != tokenizer.unk_token_id and tid not in ids:
            ids.append(tid)
    return ids


def generate(
    model: Any,
    tokenizer: Any,
    prompts: list[Conversation],
    *,
    settings: GenerationSettings | None = None,
    schema: Mapping[str, Any] | None = None,
) -> list[str]:
    """One answer per prompt (a list of chat messages), in the prompts' order.

    Prompts are sorted by length and batched with left padding (less padding, the answer always
    starts at the same column); generation stops at end-of-turn or after max_new_tokens. With
    `settings.constrain`, every answer is decoded against `schema` (required then).
    """
    import torch

    from ..templating import render_chat

    settings = settings or GenerationSettings()
    if settings.constrain and schema is None:
        raise ConfigError(
            "Constrained decoding needs the task's JSON schema, and none was given: pass "
            "schema=... (a dict), or train on a sample that ships one (orders-json)."
        )
    texts = [render_chat(tokenizer, p, add_generation_prompt=True) for p in prompts]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
    answers: list[str] = [""] * len(texts)
    stops = stop_token_ids(tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stops[0]
    for start in range(0, len(order), settings.batch_size):
        batch = order[start : start + settings.batch_size]
        enc = tokenizer(
            [texts[i] for i in batch],
            return_tensors="pt",
            padding=True,
            padding_side="left",
            add_special_tokens=False,
        ).to(model.device)
        if settings.do_sample:
            torch.manual_seed(settings.seed + start)
        constraint = {}
        if settings.constrain:
            from .constrained import schema_prefix_fn

            constraint["prefix_allowed_tokens_fn"] = schema_prefix_fn(tokenizer, schema, stops)
        with torch.inference_mode():
            out = model.generate(
                **enc,
                max_new_tokens=settings.max_new_tokens,
                eos_token_id=stops,
                pad_token_id=pad_id,
                **_sampling_kwargs(settings),
                **constraint,
            )
        log.debug("generated %d of %d answers", min(start + len(batch), len(order)), len(order))
        new_tokens = out[:, enc["input_ids"].shape[1] :]
        for i, text in zip(
            batch, tokenizer.batch_decode(new_tokens, skip_special_tokens=True), strict=True
        ):
            answers[i] = text.strip()
    return answers


def _sampling_kwargs(settings: GenerationSettings) -> dict[str, Any]:
    if settings.do_sample:
        return {"do_sample": True, "temperature": settings.temperature, "top_p": settings.top_p}
    # greedy: reset sampling knobs a model's generation_config may carry, so none leaks in
    return {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}


def generate_pair(
    pair: ModelPair,
    prompts: list[Conversation],
    *,
    settings: GenerationSettings | None = None,
    schema: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Answers from both sides plus the seconds each took: {"base": [...], "tuned": [...], "seconds": {...}}."""
    result: dict[str, Any] = {"seconds": {}}
    for side in SIDES:
        t0 = time.perf_counter()
        with pair.use(side) as model:
            result[side] = generate(
                model, pair.tokenizer, prompts, settings=settings, schema=schema
            )
        result["seconds"][side] = round(time.perf_counter() - t0, 2)
        log.info("%s answered %d prompts in %.1f s", side, len(prompts), result["seconds"][side])
    return result


# -- perplexity -----------------------------------------------------------------------------------


def perplexity(
    model: Any,
    tokenizer: Any,
    conversations: list[Conversation],
    *,
    max_length: int = 512,
    batch_size: int = 8,
) -> float | None:
    """exp(mean negative log-likelihood) of the assistant tokens, the ones training puts loss on.

    Lower is better; a tuned model whose perplexity on general conversations rises a lot has moved
    away from the base model's general behaviour. None when there is no assistant token to score.
    """
    import torch

    from ..templating import encode_chat
    from ..training.loss import model_loss

    encoded = [encode_chat(tokenizer, c, max_length=max_length) for c in conversations]
    encoded = [e for e in encoded if sum(e.labels_mask) > 0]
    total_nll, total_tokens = 0.0, 0
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for start in range(0, len(encoded), batch_size):
        batch = encoded[start : start + batch_size]
        width = max(len(e.input_ids) for e in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        attn = torch.zeros((len(batch), width), dtype=torch.long)
        for row, e in enumerate(batch):
            n = len(e.input_ids)
            ids[row, :n] = torch.tensor(e.input_ids)
            attn[row, :n] = 1
            labels[row, :n] = torch.tensor(
                [t if m else -100 for t, m in zip(e.input_ids, e.labels_mask, strict=True)]
            )
        inputs = {"input_ids": ids, "attention_mask": attn, "labels": labels}
        inputs = {k: v.to(model.device) for k, v in inputs.items()}
        n_labelled = int((labels[:, 1:] != -100).sum())
        with torch.inference_mode():  # the training loss's path: the head only where labels are
            mean = model_loss(model, inputs)
            mean = model(**inputs).loss if mean is None else mean
        total_nll += float(mean) * n_labelled
        total_tokens += n_labelled
    if total_tokens == 0:
        return None
    return float(torch.exp(torch.tensor(total_nll / total_tokens)))


def perplexity_pair(
    pair: ModelPair, conversations: list[Conversation], **kwargs: Any
) -> dict[str, float | None]:
    out = {}
    for side in SIDES:
        with pair.use(side) as model:
            out[side] = perplexity(model, pair.tokenizer, conversations, **kwargs)
    return out


# -- loading a run --------------------------------------------------------------------------------


def load_run(run_dir: str | Path, *, device: str | None = None) -> ModelPair:
    """Base and tuned model of a finished run: base + adapter (adapter-off base) or base + full model.

    Reads `train_result.json` for where the weights are (`adapter_dir`, an adapter or a full model
    folder) and `train_config.yaml` for the base model and technique; falls back to the standard
    layout (`adapter/`, `model/`).
    """
    from ..config import TrainConfig
    from ..models import load_model
    from ..training.result import TrainResult

    rd = RunDir(run_dir)
    if not rd.root.is_dir():
        raise ConfigError(
            f"{rd.root}: run directory not found. Train first (notebook 03 or `workbench train`)."
        )
    weights = _weights_dir(rd, TrainResult.load_optional(rd.root))
    cfg = TrainConfig.load_optional(rd.root)
    is_adapter = (weights / "adapter_config.json").is_file()
    technique = cfg.technique if cfg else ("lora" if is_adapter else "full")
    base_name = cfg.model if cfg else _adapter_base(weights if is_adapter else None)
    info = {
        "run_dir": str(rd.root),
        "model": base_name,
        "technique": technique,
        "weights_dir": str(weights),
    }
    if is_adapter:
        from peft import PeftModel

        base, tokenizer = load_model(base_name, technique=technique, device=device)
        tokenizer = _tokenizer_from(weights) or tokenizer
        tuned = PeftModel.from_pretrained(base, str(weights), is_trainable=False)
        return ModelPair(tuned=tuned, tokenizer=tokenizer, info=info)
    base, _ = load_model(base_name, technique="full", device=device)
    tuned, tokenizer = load_model(str(weights), technique="full", device=device)
    return ModelPair(tuned=tuned, base=base, tokenizer=tokenizer, info=info)


def _weights_dir(rd: RunDir, result: Any) -> Path:
    """The folder `result` (a TrainResult, or None) names, else the standard layout's."""
    for candidate in (result and result.adapter_dir, rd.adapter_dir, rd.model_dir):
        if not candidate:
            continue
        path = Path(candidate)
        path = path if path.is_absolute() or path.exists() else rd.root / path
        if (path / "adapter_config.json").is_file() or (path / "config.json").is_file():
            return path
    raise ModelError(
        f"{rd.root}: no trained weights found (looked for {rd.adapter_dir.name}/ and model/, and the "
        f"adapter_dir in {rd.train_result_json.name}). Did training finish? Its status is "
        + (f"{result.status!r}: {result.message}" if result else "unknown (no train_result.json)")
    )


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg}).") from exc


def _adapter_base(adapter_dir: Path | None) -> str:
    cfg = _read_json(adapter_dir / "adapter_config.json") if adapter_dir else {}
    name = cfg.get("base_model_name_or_path")
    if not name:
        raise ConfigError(
            "Cannot tell which base model the run used: no train_config.yaml and no adapter_config.json."
        )
    return name


def _tokenizer_from(folder: Path) -> Any:
    if not (folder / "tokenizer_config.json").is_file():
        return None
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok
