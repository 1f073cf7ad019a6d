"""Keep secrets (hub tokens, API keys) out of parameters files and out of everything a run writes.

Secrets come from the environment only. The pipeline refuses parameters whose names look like
secrets, never passes environment values to a notebook, and as a last line of defence replaces any
secret value that still ends up in a written text file with a placeholder.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .io import write_text_atomic

log = logging.getLogger(__name__)

SECRET_NAME = re.compile(
    r"(^|[_.-])(TOKEN|SECRET|SECRET_KEY|PASSWORD|PASSWD|API_?KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIALS?)$",
    re.I,
)
TOKENIZER_TOKEN = re.compile(r"(pad|eos|bos|unk|sep|cls|mask)_token$", re.I)  # not secrets
PLACEHOLDER = "***redacted***"
TEXT_SUFFIXES = (
    ".ipynb",
    ".json",
    ".jsonl",
    ".md",
    ".html",
    ".yaml",
    ".yml",
    ".txt",
    ".csv",
    ".log",
)
MIN_SECRET_LENGTH = 6  # shorter values ("1", "true") would redact ordinary text


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of environment variables whose names look like secrets (HF_TOKEN, OPENAI_API_KEY, ...)."""
    environ = os.environ if environ is None else environ
    values = {
        v for k, v in environ.items() if SECRET_NAME.search(k) and len(v) >= MIN_SECRET_LENGTH
    }
    return sorted(values, key=len, reverse=True)


def check_no_secret_parameters(params: Mapping[str, Any], *, where: str) -> None:
    """Refuse a parameters mapping that carries a secret by name or by value."""
    for key, value in _walk(params):
        if SECRET_NAME.search(key) and not TOKENIZER_TOKEN.search(key):
            raise ConfigError(
                f"{where}: parameter {key!r} looks like a secret. Secrets must not be written in a "
                "parameters file (it would be copied into every executed notebook). Remove it and set "
                "it in the environment instead, e.g. `export HF_TOKEN=...`."
            )
        if isinstance(value, str) and value in secret_values():
            raise ConfigError(
                f"{where}: the value of parameter {key!r} equals a secret from the environment. "
                "Remove it from the parameters; notebooks read secrets from the environment."
            )


def scrub_text(text: str, secrets: Iterable[str]) -> tuple[str, int]:
    """Replace every occurrence of each secret; returns (text, replacements)."""
    count = 0
    for secret in secrets:
        if secret in text:
            count += text.count(secret)
            text = text.replace(secret, PLACEHOLDER)
    return text, count


class SecretFilter(logging.Filter):
    """Replaces secret values in each log record a handler emits: its message and its traceback."""

    def __init__(self, secrets: Iterable[str] | None = None):
        super().__init__()
        self.secrets = list(secret_values() if secrets is None else secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message, count = scrub_text(record.getMessage(), self.secrets)
        if count:
            record.msg, record.args = message, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub_text(record.exc_text, self.secrets)[0]
        return True


def scrub_tree(root: str | Path, *, secrets: Iterable[str] | None = None) -> int:
    """Redact secret values in every text file under `root`; returns how many were replaced."""
    secrets = list(secret_values() if secrets is None else secrets)
    if not secrets:
        return 0
    total = 0
    for path in Path(root).rglob("*"):
        if not path.is_file() or path.suffix not in TEXT_SUFFIXES:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        clean, count = scrub_text(text, secrets)
        if count:
            log.warning("redacted %d secret value(s) in %s", count, path)
            write_text_atomic(path, clean)
            total += count
    return total


def _walk(data: Any):
    """Yield (key, value) for every mapping entry at any depth (lists are searched too)."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            yield str(key), value
            yield from _walk(value)
    elif isinstance(data, list):
        for item in data:
            yield from _walk(item)


__all__ = [
    "secret_values",
    "check_no_secret_parameters",
    "scrub_text",
    "scrub_tree",
    "SecretFilter",
    "PLACEHOLDER",
]
