"""The Ollama Modelfile written beside a GGUF export: FROM, the chat TEMPLATE in Go syntax, stop tokens."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CHATML = """\
{{- range $i, $_ := .Messages }}
{{- if and (eq $i 0) (ne .Role "system") }}<|im_start|>system
DEFAULT_SYSTEM<|im_end|>
{{ end }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
"""
CHATML_BARE = """\
{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
"""
LLAMA3 = """\
{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>

{{ .Content }}<|eot_id|>
{{- end }}<|start_header_id|>assistant<|end_header_id|>

"""


def default_system_prompt(tokenizer: Any) -> str | None:
    """The system message a ChatML template adds when a conversation has none (SmolLM2 has one)."""
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "x"}], tokenize=False, add_generation_prompt=False
    )
    head = "<|im_start|>system\n"
    if not text.startswith(head):
        return None
    return text[len(head) : text.index("<|im_end|>")]


def ollama_template(tokenizer: Any) -> tuple[str, list[str]] | None:
    """(TEMPLATE, stop tokens) matching the model's chat template; None for a template not known here."""
    template = getattr(tokenizer, "chat_template", None) or ""
    if "<|im_start|>" in template:
        system = default_system_prompt(tokenizer)
        body = CHATML.replace("DEFAULT_SYSTEM", system) if system else CHATML_BARE
        return body, ["<|im_end|>", "<|im_start|>"]
    if "<|start_header_id|>" in template:
        return LLAMA3, ["<|eot_id|>", "<|start_header_id|>"]
    return None


def write_modelfile(path: str | Path, gguf_file: str | Path, tokenizer: Any) -> Path | None:
    """Write the Modelfile (FROM the GGUF beside it, greedy like the comparison); None when the
    chat template is not one this writer knows (then Ollama would format prompts wrongly)."""
    from ..io import write_text_atomic

    found = ollama_template(tokenizer)
    if found is None:
        log.warning("No Ollama Modelfile written: the chat template is neither ChatML nor Llama 3.")
        return None
    template, stops = found
    lines = [f"FROM ./{Path(gguf_file).name}", f'TEMPLATE """{template}"""']
    lines += [f'PARAMETER stop "{s}"' for s in stops]
    lines.append("PARAMETER temperature 0")
    return write_text_atomic(path, "\n".join(lines) + "\n")
