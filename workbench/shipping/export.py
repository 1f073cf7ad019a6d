"""`workbench export RUN_DIR`: merged safetensors, GGUF files loaded back and checked, the Ollama Modelfile."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from ..rundir import RunDir
from .report import GgufCheck, ShippingReport

log = logging.getLogger(__name__)

DEFAULT_GGUF = ("f16", "q8_0")


def load_gguf(gguf_file: str | Path) -> tuple[Any, Any]:
    """Model and tokenizer through transformers' GGUF loader (the path that loads the embedded default)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(gguf_file)
    kwargs = {"gguf_file": path.name, "trust_remote_code": False}
    tokenizer = AutoTokenizer.from_pretrained(path.parent, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(path.parent, dtype=torch.float32, **kwargs)
    return model.eval(), tokenizer


def same_tokens(a: Any, b: Any, prompts: list[Any]) -> bool:
    """Both tokenizers encode every rendered prompt to the same ids."""
    from ..templating import render_chat

    for prompt in prompts:
        text = render_chat(a, prompt, add_generation_prompt=True)
        if (
            a(text, add_special_tokens=False)["input_ids"]
            != b(text, add_special_tokens=False)["input_ids"]
        ):
            return False
    return True


def check_gguf(
    gguf_file: str | Path,
    *,
    quant: str,
    merged: tuple[Any, Any],
    conversations: list[Any],
    merged_answers: list[str],
    merged_perplexity: float | None,
    max_new_tokens: int,
) -> GgufCheck:
    """Load the file back and compare its greedy answers and perplexity with the merged model's."""
    from ..comparison.generation import GenerationSettings, generate, perplexity
    from .merged import prompts_of

    t0 = time.perf_counter()
    model, tokenizer = load_gguf(gguf_file)
    prompts = prompts_of(conversations)
    settings = GenerationSettings(max_new_tokens=max_new_tokens)
    answers = generate(model, tokenizer, prompts, settings=settings)
    return GgufCheck(
        quant=quant,
        file=str(gguf_file),
        size_bytes=Path(gguf_file).stat().st_size,
        prompts=len(prompts),
        answers_equal=sum(a == b for a, b in zip(answers, merged_answers, strict=True)),
        perplexity_merged=merged_perplexity,
        perplexity_gguf=perplexity(model, tokenizer, conversations),
        tokens_equal=same_tokens(merged[1], tokenizer, prompts),
        seconds=round(time.perf_counter() - t0, 2),
    )


def export_run(
    run_dir: str | Path,
    *,
    gguf: tuple[str, ...] | list[str] = DEFAULT_GGUF,
    max_prompts: int = 16,
    max_new_tokens: int = 160,
) -> ShippingReport:
    """Merged export (checked against the adapter), then each GGUF type (checked against the merged
    model), then the Modelfile; everything measured goes into export/shipping.json."""
    from ..comparison.generation import perplexity
    from .gguf import check_supported, write_gguf
    from .merged import eval_prompts, merge_and_check
    from .modelfile import write_modelfile

    rd = RunDir(run_dir)
    merged = merge_and_check(run_dir, max_prompts=max_prompts, max_new_tokens=max_new_tokens)
    report = ShippingReport.for_run(run_dir)
    if not gguf:
        return report
    model, tokenizer, answers = merged.model, merged.tokenizer, merged.answers
    for quant in gguf:  # refuse before any file is written
        check_supported(model.config, tokenizer, quant)
    conversations = eval_prompts(run_dir, max_prompts=max_prompts)
    ppl = perplexity(model, tokenizer, conversations)
    for quant in gguf:
        path = write_gguf(rd.export_merged_dir, rd.gguf_file(quant), quant=quant)
        check = check_gguf(
            path,
            quant=quant,
            merged=(model, tokenizer),
            conversations=conversations,
            merged_answers=answers,
            merged_perplexity=ppl,
            max_new_tokens=max_new_tokens,
        )
        log.info(
            "%s: %d/%d answers equal the merged model's", quant, check.answers_equal, check.prompts
        )
        report = report.with_gguf(check)
        report.save(run_dir)
    main = "q8_0" if "q8_0" in gguf else gguf[0]
    write_modelfile(rd.modelfile, rd.gguf_file(main), tokenizer)
    return report
