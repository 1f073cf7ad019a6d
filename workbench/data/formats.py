"""Recognise a row's format and turn it into one chat conversation (roles system / user / assistant).

Supported formats (field names can be remapped with `columns=`, e.g. {"prompt": "question"}):

| format | fields | becomes |
|---|---|---|
| chat | `messages`: [{role, content}, ...] (OpenAI style; extra keys ignored) | as is |
| sharegpt | `conversations`: [{from, value}, ...] (human / gpt / system), optional `system` | mapped roles |
| alpaca | `instruction`, optional `input`, `output`, optional `system` | [system], user, assistant |
| prompt_completion | `prompt`, `completion` (strings, or lists of chat messages), optional `system` | [system], user, assistant |
| text | `text` | one assistant turn (a pretraining-style example) |

The loader checks structure only (types, known roles, at least one message). Quality issues a
well-formed row can still have (empty answers, role order, duplicates, personal data) are the
inspection step's job, so they stay visible there instead of silently vanishing here.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

FORMATS = ("chat", "sharegpt", "alpaca", "prompt_completion", "text")
_SURROGATE = re.compile("[\ud800-\udfff]")  # undecodable bytes (CSV) or a broken \\u escape (JSON)
MAX_FIELD_CHARS = 1_000_000  # one field longer than this is almost certainly a broken export
ROLES = ("system", "user", "assistant")
SHAREGPT_ROLES = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "bot": "assistant",
    "model": "assistant",
    "chatgpt": "assistant",
}
# Built-in aliases: a field may also be found under these names (first present wins).
ALIASES = {
    "prompt": ("prompt", "question", "query"),
    "completion": ("completion", "response", "answer"),
}
FIELDS = {
    "chat": ("messages",),
    "sharegpt": ("conversations", "system"),
    "alpaca": ("instruction", "input", "output", "system"),
    "prompt_completion": ("prompt", "completion", "system"),
    "text": ("text",),
}
REQUIRED = {
    "chat": ("messages",),
    "sharegpt": ("conversations",),
    "alpaca": ("instruction", "output"),
    "prompt_completion": ("prompt", "completion"),
    "text": ("text",),
}


class RowError(Exception):
    """One row does not fit its format: which field, what is wrong, what to do."""

    def __init__(self, field: str | None, message: str, hint: str = ""):
        super().__init__(message)
        self.field, self.message, self.hint = field, message, hint


def known_fields() -> set[str]:
    return {f for names in FIELDS.values() for f in names}


def get_field(row: Mapping, name: str, columns: Mapping[str, str]) -> Any:
    """The value of format field `name` in `row`, honouring `columns` and the built-in aliases.

    Missing fields and table blanks (None, NaN) come back as None.
    """
    keys = (columns[name],) if name in columns else ALIASES.get(name, (name,))
    for key in keys:
        value = row.get(key)
        if not _blank(value):
            return value
    return None


def field_name(name: str, columns: Mapping[str, str]) -> str:
    return columns.get(name, name)


def detect_format(rows: list[Mapping], columns: Mapping[str, str]) -> str | None:
    """The format most of `rows` fit (by which required fields are present), or None."""
    votes = Counter(fmt for fmt in map(lambda r: _guess(r, columns), rows) if fmt)
    return votes.most_common(1)[0][0] if votes else None


def _guess(row: Mapping, columns: Mapping[str, str]) -> str | None:
    for fmt in FORMATS:
        if all(get_field(row, f, columns) is not None for f in REQUIRED[fmt]):
            return fmt
    return None


def normalise(row: Any, fmt: str, columns: Mapping[str, str]) -> list[dict[str, str]]:
    """Turn one raw row into a conversation, or raise RowError."""
    if not isinstance(row, Mapping):
        raise RowError(
            None,
            f"expected an object with fields, got {_kind(row)}.",
            "Each row must be a JSON object / table row.",
        )
    for name in REQUIRED[fmt]:
        if get_field(row, name, columns) is None:
            present = ", ".join(sorted(map(str, row))[:12]) or "none"
            raise RowError(
                field_name(name, columns),
                f"missing field for {fmt} format (fields present: {present}).",
                "Pass format= if the format was mis-detected, or columns={...} to map your field names.",
            )
    return _NORMALISERS[fmt](row, columns)


def _chat(row: Mapping, columns: Mapping[str, str]) -> list[dict[str, str]]:
    name = field_name("messages", columns)
    return _messages(get_field(row, "messages", columns), name)


def _messages(value: Any, name: str) -> list[dict[str, str]]:
    turns = _as_list(value, name)
    out = []
    for i, turn in enumerate(turns):
        where = f"{name}[{i}]"
        if not isinstance(turn, Mapping):
            raise RowError(
                where, f"expected a message object with role and content, got {_kind(turn)}."
            )
        role = turn.get("role")
        if role not in ROLES:
            raise RowError(
                f"{where}.role",
                f"unsupported role {role!r}.",
                "Use system, user or assistant (tool/function turns are not supported).",
            )
        out.append({"role": role, "content": _content(turn.get("content"), f"{where}.content")})
    return out


def _sharegpt(row: Mapping, columns: Mapping[str, str]) -> list[dict[str, str]]:
    name = field_name("conversations", columns)
    out = _system(row, columns)
    for i, turn in enumerate(_as_list(get_field(row, "conversations", columns), name)):
        where = f"{name}[{i}]"
        if not isinstance(turn, Mapping):
            raise RowError(where, f"expected a turn object with from and value, got {_kind(turn)}.")
        speaker = turn.get("from", turn.get("role"))
        role = SHAREGPT_ROLES.get(speaker.lower()) if isinstance(speaker, str) else None
        if role is None:
            raise RowError(
                f"{where}.from",
                f"unsupported speaker {speaker!r}.",
                f"Use one of {', '.join(sorted(SHAREGPT_ROLES))}.",
            )
        value = turn["value"] if "value" in turn else turn.get("content")
        out.append({"role": role, "content": _content(value, f"{where}.value")})
    return out


def _alpaca(row: Mapping, columns: Mapping[str, str]) -> list[dict[str, str]]:
    instruction = _text(row, "instruction", columns)
    extra = _text(row, "input", columns, required=False)
    user = f"{instruction}\n\n{extra}" if extra else instruction
    return [
        *_system(row, columns),
        {"role": "user", "content": user},
        {"role": "assistant", "content": _text(row, "output", columns)},
    ]


def _prompt_completion(row: Mapping, columns: Mapping[str, str]) -> list[dict[str, str]]:
    prompt, completion = get_field(row, "prompt", columns), get_field(row, "completion", columns)
    if isinstance(prompt, list) or isinstance(completion, list):  # TRL's conversational variant
        return _messages(prompt, field_name("prompt", columns)) + _messages(
            completion, field_name("completion", columns)
        )
    return [
        *_system(row, columns),
        {"role": "user", "content": _text(row, "prompt", columns)},
        {"role": "assistant", "content": _text(row, "completion", columns)},
    ]


def _plain_text(row: Mapping, columns: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": _text(row, "text", columns)}]


_NORMALISERS: dict[str, Callable[[Mapping, Mapping[str, str]], list[dict[str, str]]]] = {
    "chat": _chat,
    "sharegpt": _sharegpt,
    "alpaca": _alpaca,
    "prompt_completion": _prompt_completion,
    "text": _plain_text,
}


# -- field helpers -------------------------------------------------------------------------------


def _system(row: Mapping, columns: Mapping[str, str]) -> list[dict[str, str]]:
    system = _text(row, "system", columns, required=False)
    return [{"role": "system", "content": system}] if system else []


def _text(row: Mapping, name: str, columns: Mapping[str, str], *, required: bool = True) -> str:
    value = get_field(row, name, columns)
    if value is None and not required:
        return ""
    return _content(value, field_name(name, columns))


def _content(value: Any, where: str) -> str:
    if isinstance(value, list):  # OpenAI content parts: [{"type": "text", "text": ...}]
        if all(
            isinstance(p, Mapping) and p.get("type") == "text" and isinstance(p.get("text"), str)
            for p in value
        ):
            value = "".join(p["text"] for p in value)
    if not isinstance(value, str):
        raise RowError(
            where, f"expected text, got {_kind(value)}.", "Every message content must be a string."
        )
    if len(value) > MAX_FIELD_CHARS:
        raise RowError(
            where,
            f"field is {len(value):,} characters long (limit {MAX_FIELD_CHARS:,}).",
            "This is most likely a broken export (a whole file in one cell); split or drop it.",
        )
    if _SURROGATE.search(value):
        raise RowError(
            where,
            "text holds bytes that are not valid UTF-8 (or an unpaired \\u surrogate escape).",
            "Re-save the file as UTF-8 and check the export that produced it.",
        )
    return value


def _as_list(value: Any, where: str) -> list:
    if isinstance(value, str):  # CSV cells and some exports hold the list as a JSON string
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise RowError(
                where, "expected a list of messages, got a string that is not valid JSON."
            ) from None
    if hasattr(value, "tolist") and not isinstance(
        value, (list, str)
    ):  # numpy arrays from parquet/pandas
        value = value.tolist()
    if not isinstance(value, list):
        raise RowError(where, f"expected a list of messages, got {_kind(value)}.")
    if not value:
        raise RowError(where, "the conversation is empty.", "Drop the row or add its messages.")
    return value


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)
