"""Merged export: fold the adapter into full-precision base weights, save safetensors, prove it answers the same.

The reference is the adapter applied to the base loaded in full precision (for QLoRA that is the
dequantised base, the model the merge produces), loaded a second time so the merge cannot alter it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..rundir import RunDir
from .report import MergedCheck, ShippingReport

log = logging.getLogger(__name__)

LOGIT_TOLERANCE = 1e-3  # max |logit difference|, fp32: the merge only reorders sums
MAX_PROMPTS = 16


def eval_prompts(run_dir: str | Path, *, max_prompts: int = MAX_PROMPTS) -> list[Any]:
    """The run's held-out conversations (the split training evaluated on), at most `max_prompts`."""
    from ..comparison.saved_run import held_out

    data = held_out(run_dir)
    conversations = data.conversations if hasattr(data, "conversations") else list(data)
    return list(conversations)[:max_prompts]


def prompts_of(conversations: list[Any]) -> list[Any]:
    """Each conversation up to its last assistant turn: what the model is asked."""
    from ..comparison.comparison import examples_from

    return [e.prompt for e in examples_from(conversations)]


def refuse_classifier(run_dir: str | Path, what: str) -> None:
    """Shipping serves a chat model; a classifier run gets a ConfigError saying where its model is."""
    from ..config import TrainConfig

    cfg = TrainConfig.load_optional(run_dir)
    if cfg is not None and cfg.task == "classification":
        rd = RunDir(run_dir)
        raise ConfigError(
            f"{rd.root} is a classifier (task classification): `{what}` ships chat models "
            "(GGUF, an OpenAI-style chat endpoint, cost per generated answer). Its adapter and "
            f"head are in {rd.adapter_dir} (workbench.comparison.classification.load_classifier); "
            "train with save_merged: true for a merged AutoModelForSequenceClassification in "
            f"{rd.merged_dir}."
        )


def load_tuned(run_dir: str | Path) -> tuple[Any, Any, dict[str, Any]]:
    """(model, tokenizer, info): the adapter on a full-precision base, or the fully tuned model."""
    from ..comparison.generation import _tokenizer_from, _weights_dir
    from ..config import TrainConfig
    from ..models import load_model
    from ..training.result import TrainResult

    rd = RunDir(run_dir)
    if not rd.root.is_dir():
        raise ConfigError(f"{rd.root}: run directory not found. Check the path, or train first.")
    refuse_classifier(rd.root, "workbench export")
    weights = _weights_dir(rd, TrainResult.load_optional(rd.root))
    cfg = TrainConfig.load_optional(rd.root)
    is_adapter = (weights / "adapter_config.json").is_file()
    info = {"weights": str(weights), "technique": cfg.technique if cfg else "?"}
    if not is_adapter:
        model, tokenizer = load_model(str(weights), technique="full", device="cpu")
        return model, tokenizer, info
    from peft import PeftModel

    if cfg is None:
        raise ConfigError(f"{rd.train_config_yaml}: not found, so the base model is unknown.")
    base, tokenizer = load_model(cfg.model, technique="full", device="cpu")
    model = PeftModel.from_pretrained(base, str(weights), is_trainable=False)
    return model.eval(), _tokenizer_from(weights) or tokenizer, info


def write_merged(run_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Merge (or copy, for a full fine-tune) and save safetensors + tokenizer + chat template."""
    from ..io import atomic_dir

    out_dir = Path(out_dir or RunDir(run_dir).export_merged_dir)
    model, tokenizer, _ = load_tuned(run_dir)
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(
            f"{run_dir}: the tokenizer has no chat template, so the exported model would not know "
            "how to read a conversation. Train from a chat model, or set tokenizer.chat_template."
        )
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    log.info("merged model written to %s", out_dir)
    return out_dir


def max_logit_diff(a: Any, b: Any, tokenizer: Any, prompts: list[Any]) -> float:
    """Largest |logit difference| of two models over every position of every rendered prompt."""
    import torch

    from ..templating import render_chat

    worst = 0.0
    for prompt in prompts:
        text = render_chat(tokenizer, prompt, add_generation_prompt=True)
        ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            la, lb = a(input_ids=ids).logits.float(), b(input_ids=ids).logits.float()
        worst = max(worst, float((la - lb).abs().max()))
    return worst


@dataclass
class MergedExport:
    """The check, plus what later checks reuse: the merged model loaded back, its answers."""

    check: MergedCheck
    model: Any
    tokenizer: Any
    answers: list[str]


def export_merged(
    run_dir: str | Path,
    *,
    max_prompts: int = MAX_PROMPTS,
    max_new_tokens: int = 160,
    logit_tolerance: float = LOGIT_TOLERANCE,
) -> MergedCheck:
    """Write export/merged/ and check it against the adapter model; the check is saved in shipping.json."""
    return merge_and_check(
        run_dir,
        max_prompts=max_prompts,
        max_new_tokens=max_new_tokens,
        logit_tolerance=logit_tolerance,
    ).check


def merge_and_check(
    run_dir: str | Path,
    *,
    max_prompts: int = MAX_PROMPTS,
    max_new_tokens: int = 160,
    logit_tolerance: float = LOGIT_TOLERANCE,
) -> MergedExport:
    """export_merged, returning the merged model (read back from disk) and its answers too."""
    from ..comparison.generation import GenerationSettings, generate
    from ..models import load_model

    t0 = time.perf_counter()
    folder = write_merged(run_dir)
    reference, tokenizer, info = load_tuned(run_dir)
    merged, _ = load_model(str(folder), technique="full", device="cpu")
    prompts = prompts_of(eval_prompts(run_dir, max_prompts=max_prompts))
    settings = GenerationSettings(max_new_tokens=max_new_tokens)
    want = generate(reference, tokenizer, prompts, settings=settings)
    got = generate(merged, tokenizer, prompts, settings=settings)
    check = MergedCheck(
        folder=str(folder),
        technique=info["technique"],
        prompts=len(prompts),
        answers_equal=sum(w == g for w, g in zip(want, got, strict=True)),
        max_abs_logit_diff=max_logit_diff(reference, merged, tokenizer, prompts),
        logit_tolerance=logit_tolerance,
        seconds=round(time.perf_counter() - t0, 2),
    )
    report = ShippingReport.for_run(run_dir)
    report.merged = check
    report.save(run_dir)
    log.info(
        "merged: %d/%d answers equal, max |logit diff| %.2e",
        check.answers_equal,
        check.prompts,
        check.max_abs_logit_diff,
    )
    return MergedExport(check=check, model=merged, tokenizer=tokenizer, answers=got)
