"""The prompt-only levers of the lever trial: few-shot examples and retrieved notes, put into the prompt.

Both look things up with BM25 (the `bm25s` library): few-shot prompting picks the k training rows
whose questions are most like the one asked and shows them as earlier turns of the conversation;
retrieval picks the k passages of a knowledge file (or, without one, of the training answers) most
like the question and adds them to the system message. Nothing here trains or calls a model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError

Conversation = list[dict[str, str]]

NOTES_HEADER = "Reference notes (use them when they answer the question):"


def query_text(prompt: Conversation) -> str:
    """What a lookup searches with: the user turns of a prompt (the system message is the same for all)."""
    return "\n".join(m["content"] for m in prompt if m["role"] == "user")


class Retriever:
    """BM25 over a list of passages; `top(query, k)` gives the indices of the best matches, best first."""

    def __init__(self, passages: Sequence[str]):
        if not passages:
            raise ConfigError("Nothing to search: the list of passages is empty.")
        bm25s = _bm25s()
        self.passages = list(passages)
        self._index = bm25s.BM25()
        self._index.index(_tokens(self.passages), show_progress=False)

    def top(self, query: str, k: int) -> list[int]:
        k = min(int(k), len(self.passages))
        if k < 1 or not query.strip():
            return []
        docs, scores = self._index.retrieve(_tokens([query]), k=k, show_progress=False)
        return [int(d) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]


def _tokens(texts: list[str]) -> Any:
    # lower-cased words, English stop words out; codes such as "XK-220" become "xk", "220"
    return _bm25s().tokenize(texts, stopwords="en", show_progress=False)


def _bm25s() -> Any:
    try:
        import bm25s
    except ImportError as exc:  # a core dependency: only a broken install lacks it
        raise ConfigError(
            "The lever trial's few-shot and retrieval arms need `bm25s`: pip install bm25s"
        ) from exc
    return bm25s


# -- few-shot -------------------------------------------------------------------------------------


@dataclass
class Shot:
    """One worked example: the turns of a training prompt (no system message) and its answer."""

    turns: Conversation
    answer: str


def shots_from(conversations: Sequence[Conversation]) -> list[Shot]:
    """Every training conversation as a shot: its turns before the last assistant reply, and that reply."""
    shots = []
    for conv in conversations:
        last = max((i for i, m in enumerate(conv) if m["role"] == "assistant"), default=None)
        if last:
            turns = [m for m in conv[:last] if m["role"] != "system"]
            if turns:
                shots.append(Shot(turns, conv[last]["content"]))
    return shots


def few_shot_prompt(prompt: Conversation, shots: Sequence[Shot]) -> Conversation:
    """`prompt` with the shots as earlier turns after its system message; shots are given best
    first and placed best last, nearest the question (the order small models follow best)."""
    system = [m for m in prompt[:1] if m["role"] == "system"]
    examples = [
        turn
        for shot in reversed(shots)
        for turn in [*shot.turns, {"role": "assistant", "content": shot.answer}]
    ]
    return [*system, *examples, *prompt[len(system) :]]


# -- retrieval ------------------------------------------------------------------------------------


def with_notes(prompt: Conversation, notes: Sequence[str]) -> Conversation:
    """`prompt` with the retrieved notes added to its system message (one made when it has none)."""
    if not notes:
        return list(prompt)
    block = NOTES_HEADER + "\n" + "\n".join(f"- {n}" for n in notes)
    if prompt and prompt[0]["role"] == "system":
        first = {"role": "system", "content": prompt[0]["content"] + "\n\n" + block}
        return [first, *prompt[1:]]
    return [{"role": "system", "content": block}, *prompt]


def answers_of(conversations: Sequence[Conversation]) -> list[str]:
    """The training answers, once each: the passages retrieval searches when no knowledge file is given."""
    seen: dict[str, None] = {}
    for shot in shots_from(conversations):
        seen.setdefault(shot.answer.strip(), None)
    return [a for a in seen if a]


def knowledge_passages(path: str | Path) -> list[str]:
    """The passages of a knowledge file, one per record or paragraph.

    .txt / .md: paragraphs (blank-line separated). .jsonl: one passage per line (its "text" field,
    else the object's fields as "key: value; ..."). .json: a list of records, or an object whose
    list-valued field holds them (e.g. a catalogue's "products"); each record's fields in one line.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: knowledge file not found (give a .txt, .md, .json or .jsonl).")
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    if suffix in (".txt", ".md"):
        passages = [" ".join(p.split()) for p in text.split("\n\n")]
    elif suffix == ".jsonl":
        passages = [_record_text(_json(line, path, n)) for n, line in _lines(text)]
    elif suffix == ".json":
        passages = [_record_text(r) for r in _records(_json(text, path, None), path)]
    else:
        raise ConfigError(
            f"{path}: a knowledge file must be .txt, .md, .json or .jsonl, not {suffix or 'no suffix'}."
        )
    passages = [p for p in passages if p]
    if not passages:
        raise DataError(f"{path}: the knowledge file holds no text to retrieve.")
    return passages


def _lines(text: str) -> list[tuple[int, str]]:
    return [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _json(text: str, path: Path, line: int | None) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {line}" if line else f"line {exc.lineno}"
        raise DataError(f"{path}: {where}: not valid JSON ({exc.msg}).") from exc


def _records(data: Any, path: Path) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list) and v]
        if lists:
            return max(lists, key=len)  # the catalogue's list of products, say
        return [data]
    raise DataError(f"{path}: expected a list of records or an object, got {type(data).__name__}.")


def _record_text(record: Any) -> str:
    if isinstance(record, str):
        return record.strip()
    if isinstance(record, dict):
        if isinstance(record.get("text"), str):
            return record["text"].strip()
        return "; ".join(f"{k.replace('_', ' ')}: {_flat(v)}" for k, v in record.items())
    return _flat(record)


def _flat(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(_flat(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_flat(v)}" for k, v in value.items())
    return str(value)


__all__ = [
    "Retriever",
    "Shot",
    "answers_of",
    "few_shot_prompt",
    "knowledge_passages",
    "query_text",
    "shots_from",
    "with_notes",
]
