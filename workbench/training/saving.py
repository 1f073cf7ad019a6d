"""Save what training produced: the adapter (peft format) or full model, and on request a merged model.

Everything is safetensors, written atomically (temp folder + rename), each folder with a README stub
that the documentation step (report.py) fills in.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..io import atomic_dir

log = logging.getLogger(__name__)

README_STUB = """\
---
base_model: {base}
library_name: {library}
tags: [workbench, {technique}]
---

# {title}

Fine-tuned with the workbench ({technique}) from `{base}` on `{dataset}`.
Run: `{run_dir}`; status {status}, {steps} steps, final eval loss {eval_loss}.

<!-- workbench:model-card: filled in by `workbench report` / notebook 05 -->
"""


def save_trained(
    model: Any, tokenizer: Any, *, tech: Any, cfg: Any, rd: Any, result: Any
) -> tuple[Path, Path | None]:
    """Write the adapter (or full model) folder and, when `cfg.save_merged`, a merged model."""
    saves_adapter = bool(getattr(tech, "saves_adapter", hasattr(model, "peft_config")))
    final = rd.adapter_dir if saves_adapter else rd.model_dir
    with atomic_dir(final) as out:
        model.save_pretrained(out, safe_serialization=True)
        tokenizer.save_pretrained(out)
        _readme(
            out,
            cfg,
            result,
            title="Adapter" if saves_adapter else "Fine-tuned model",
            library="peft" if saves_adapter else "transformers",
        )
    merged = None
    if cfg.save_merged and saves_adapter:
        merged = merge_adapter(final, rd.merged_dir, cfg=cfg, result=result)
    return final, merged


def merge_adapter(
    adapter_dir: str | Path, out_dir: str | Path, *, cfg: Any, result: Any = None
) -> Path:
    """Load the base model in full precision, apply the adapter, merge, and save safetensors.

    The base is reloaded unquantised so a QLoRA adapter merges into real weights, not 4-bit ones.
    """
    from peft import PeftModel

    from ..models import load_model

    labels = None
    if getattr(cfg, "task", "generation") == "classification":  # the same head, on a plain base
        from .classifier import load_label_names

        labels = load_label_names(Path(adapter_dir).parent)
    base, tokenizer = load_model(cfg.model, technique="full", device="cpu", labels=labels)
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    with atomic_dir(out_dir) as out:
        merged.save_pretrained(out, safe_serialization=True)
        tokenizer.save_pretrained(out)
        _readme(out, cfg, result, title="Merged model", library="transformers")
    return Path(out_dir)


def _readme(folder: Path, cfg: Any, result: Any, *, title: str, library: str) -> None:
    metrics = getattr(result, "metrics", {}) or {}
    eval_loss = metrics.get("eval_loss")
    text = README_STUB.format(
        base=cfg.model,
        library=library,
        technique=cfg.technique,
        title=title,
        dataset=cfg.dataset,
        run_dir=cfg.run_dir,
        status=getattr(result, "status", "?"),
        steps=getattr(result, "steps", "?"),
        eval_loss="n/a" if eval_loss is None else f"{eval_loss:.4f}",
    )
    (folder / "README.md").write_text(text, encoding="utf-8")
