"""Preference pairs (a prompt, a better and a worse answer) from the common layouts, with line-level errors.

Formats, detected from the first rows or named with `format=`:
  pairs          prompt / chosen / rejected: strings, or message lists (TRL's conversational form:
                 prompt a list ending in a user turn, chosen and rejected one assistant message each)
  chat_pairs     messages (the shared history, ending in a user turn) / chosen / rejected
  conversations  chosen and rejected as whole conversations that share everything but the last
                 assistant turn (UltraFeedback-binarized, TRL's implicit prompt); `prompt` optional
  hh             Anthropic HH-RLHF: chosen and rejected as "\\n\\nHuman: ...\\n\\nAssistant: ..."
                 transcripts, split at the last assistant turn (what comes before must be the same)
Every pair becomes `PreferencePair(prompt=[messages...], chosen=str, rejected=str)`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError
from .dataset import ChatDataset, Conversation, LoadProblem, Provenance, _open
from .formats import RowError, _content, _kind, _messages
from .sources import BadRow, Source

log = logging.getLogger(__name__)

PAIR_FORMATS = ("pairs", "chat_pairs", "conversations", "hh")
DETECT_ROWS = 5
_HH_TURN = re.compile(r"\n\n(Human|Assistant): ?")


@dataclass
class PreferencePair:
    """One preference: the conversation so far (ends with a user turn), the better and the worse reply."""

    prompt: Conversation
    chosen: str
    rejected: str

    def conversation(self, side: str = "chosen") -> Conversation:
        reply = self.chosen if side == "chosen" else self.rejected
        return [*self.prompt, {"role": "assistant", "content": reply}]


@dataclass
class PreferenceDataset:
    """Normalised pairs. `row_ids[i]` is the source line/row of `pairs[i]`."""

    pairs: list[PreferencePair]
    provenance: Provenance
    problems: list[LoadProblem] = field(default_factory=list)
    row_ids: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.row_ids:
            self.row_ids = list(range(1, len(self.pairs) + 1))
        if len(self.row_ids) != len(self.pairs):
            raise ValueError("row_ids and pairs must have the same length")

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> PreferencePair:
        return self.pairs[index]

    def select(self, indices: Sequence[int]) -> PreferenceDataset:
        indices = list(indices)
        prov = Provenance(**{**asdict(self.provenance), "rows_loaded": len(indices)})
        return PreferenceDataset(
            pairs=[self.pairs[i] for i in indices],
            provenance=prov,
            problems=list(self.problems),
            row_ids=[self.row_ids[i] for i in indices],
        )

    def head(self, n: int | None) -> PreferenceDataset:
        return self if n is None or n >= len(self) else self.select(range(n))

    def side(self, which: str = "chosen") -> ChatDataset:
        """The pairs as conversations ending in the chosen (or rejected) reply: for SFT, PII, dedup."""
        return ChatDataset(
            conversations=[p.conversation(which) for p in self.pairs],
            provenance=Provenance(**asdict(self.provenance)),
            problems=list(self.problems),
            row_ids=list(self.row_ids),
        )

    def to_trl_records(self) -> list[dict[str, Any]]:
        """TRL's conversational preference rows: prompt messages, one assistant message per side."""
        return [
            {
                "prompt": p.prompt,
                "chosen": [{"role": "assistant", "content": p.chosen}],
                "rejected": [{"role": "assistant", "content": p.rejected}],
            }
            for p in self.pairs
        ]

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for p in self.pairs:
            h.update(json.dumps(asdict(p), sort_keys=True, ensure_ascii=False).encode("utf-8"))
            h.update(b"\n")
        return h.hexdigest()

    def _repr_html_(self) -> str:
        return (
            f"<div><b>PreferenceDataset</b> {len(self)} pairs from {self.provenance.source} "
            f"({self.provenance.format}) &middot; {len(self.problems)} problem(s)</div>"
        )


# -- loading -------------------------------------------------------------------------------------


def load_preferences(
    source: Any,
    *,
    format: str = "auto",
    split: str | None = None,
    on_error: str = "report",
    max_rows: int | None = None,
) -> PreferenceDataset:
    """Load preference pairs from a path, a sample name, a DataFrame, a datasets.Dataset or a list.

    format: auto | pairs | chat_pairs | conversations | hh (see the module docs).
    on_error: "report" keeps good rows and lists bad ones in `.problems`; "raise" fails on the first.
    Only DataError escapes, naming the source, line and field.
    """
    if isinstance(source, PreferenceDataset):
        return source.head(max_rows)
    if format != "auto" and format not in PAIR_FORMATS:
        raise DataError(
            f"Unknown preference format {format!r}. Use auto or one of: {', '.join(PAIR_FORMATS)}."
        )
    if on_error not in ("report", "raise"):
        raise DataError(f"on_error must be 'report' or 'raise', got {on_error!r}.")
    src = _open(source, split=split)
    rows = list(itertools.islice(src.rows, max_rows))
    if not rows:
        raise DataError(f"{src.label}: no rows found (the source is empty).")
    fmt = _detect(src, rows) if format == "auto" else format
    return _load_rows(src, rows, fmt, on_error)


def _load_rows(src: Source, rows: list, fmt: str, on_error: str) -> PreferenceDataset:
    pairs, row_ids, problems = [], [], []
    for line, row in rows:
        try:
            pairs.append(normalise_pair(row, fmt))
            row_ids.append(line)
        except RowError as exc:
            problem = LoadProblem(src.label, line, exc.field, exc.message, exc.hint or HINTS[fmt])
            if on_error == "raise":
                raise DataError(str(problem)) from None
            problems.append(problem)
    if not pairs:
        first = "; ".join(str(p) for p in problems[:3])
        raise DataError(
            f"{src.label}: none of the {len(rows)} row(s) could be loaded as pairs. First: {first}"
        )
    if problems:
        log.warning("%s: loaded %d of %d pairs; first problem: %s", src.label, len(pairs),
                    len(rows), problems[0])  # fmt: skip
    prov = Provenance(source=src.label, format=fmt, sha256=src.sha256, rows_read=len(rows),
                      rows_loaded=len(pairs), sample=src.sample, split=src.split)  # fmt: skip
    return PreferenceDataset(pairs=pairs, provenance=prov, problems=problems, row_ids=row_ids)


HINTS = {
    "pairs": 'Expected {"prompt": ..., "chosen": ..., "rejected": ...} (strings or message lists).',
    "chat_pairs": 'Expected {"messages": [...ending in a user turn], "chosen": "...", "rejected": "..."}.',
    "conversations": "Expected chosen and rejected as whole conversations that differ only in the "
    "last assistant turn.",
    "hh": 'Expected chosen and rejected transcripts "\\n\\nHuman: ...\\n\\nAssistant: ...".',
}


def _detect(src: Source, rows: list) -> str:
    first = [row for _, row in rows if isinstance(row, Mapping)][:DETECT_ROWS]
    for row in first:
        fmt = guess_pair_format(row)
        if fmt is not None:
            return fmt
    if not first:
        line, bad = rows[0]
        why = bad.message if isinstance(bad, BadRow) else f"expected an object, got {_kind(bad)}"
        raise DataError(f"{src.label}: no readable rows (line {line}: {why})")
    seen = sorted({str(k) for row in first for k in row})[:20]
    raise DataError(
        f"{src.label}: not a preference layout (fields: {', '.join(seen) or 'none'}). Pairs need "
        "chosen and rejected, plus prompt or messages, or whole transcripts in both. "
        f"Formats: {', '.join(PAIR_FORMATS)}."
    )


def guess_pair_format(row: Mapping) -> str | None:
    if "chosen" not in row or "rejected" not in row:
        return None
    if "messages" in row:
        return "chat_pairs"
    chosen = row["chosen"]
    if (
        isinstance(chosen, str)
        and "prompt" not in row
        and _HH_TURN.search("\n\n" + chosen.lstrip())
    ):
        return "hh"
    if isinstance(chosen, list) and any(
        isinstance(m, Mapping) and m.get("role") != "assistant" for m in chosen
    ):
        return "conversations"
    return "pairs" if "prompt" in row else None


def normalise_pair(row: Any, fmt: str) -> PreferencePair:
    """One raw row as a PreferencePair, or RowError naming the field."""
    if isinstance(row, BadRow):
        raise RowError(None, row.message, row.hint)
    if not isinstance(row, Mapping):
        raise RowError(None, f"expected an object with fields, got {_kind(row)}.")
    needed = {"pairs": ("prompt",), "chat_pairs": ("messages",)}.get(fmt, ())
    for name in (*needed, "chosen", "rejected"):
        if row.get(name) is None:
            present = ", ".join(sorted(map(str, row))[:12]) or "none"
            raise RowError(name, f"missing field for {fmt} format (fields present: {present}).")
    return _NORMALISERS[fmt](row)


def _pairs(row: Mapping) -> PreferencePair:
    prompt = row["prompt"]
    if isinstance(prompt, str):
        history = [{"role": "user", "content": _content(prompt, "prompt")}]
    else:
        history = _messages(prompt, "prompt")
    system = row.get("system")
    if system:
        history = [{"role": "system", "content": _content(system, "system")}, *history]
    return _pair(history, _reply(row["chosen"], "chosen"), _reply(row["rejected"], "rejected"))


def _chat_pairs(row: Mapping) -> PreferencePair:
    history = _messages(row["messages"], "messages")
    return _pair(history, _reply(row["chosen"], "chosen"), _reply(row["rejected"], "rejected"))


def _conversations(row: Mapping) -> PreferencePair:
    chosen_history, chosen = _split_last_answer(_messages(row["chosen"], "chosen"), "chosen")
    rejected_history, rejected = _split_last_answer(
        _messages(row["rejected"], "rejected"), "rejected"
    )
    _same_history(chosen_history, rejected_history)
    return _pair(chosen_history, chosen, rejected)


def _hh(row: Mapping) -> PreferencePair:
    chosen_history, chosen = _split_last_answer(_transcript(row["chosen"], "chosen"), "chosen")
    rejected_history, rejected = _split_last_answer(
        _transcript(row["rejected"], "rejected"), "rejected"
    )
    _same_history(chosen_history, rejected_history)
    return _pair(chosen_history, chosen, rejected)


_NORMALISERS = {
    "pairs": _pairs,
    "chat_pairs": _chat_pairs,
    "conversations": _conversations,
    "hh": _hh,
}


def _reply(value: Any, name: str) -> str:
    """A side given as text, or as a list holding one assistant message."""
    if isinstance(value, str):
        return _content(value, name)
    turns = _messages(value, name)
    if len(turns) != 1 or turns[0]["role"] != "assistant":
        raise RowError(
            name,
            f"expected the reply as text or one assistant message, got {len(turns)} message(s) "
            f"({', '.join(t['role'] for t in turns)}).",
            "Put the shared history in prompt (or messages) and only the answer in chosen/rejected.",
        )
    return turns[0]["content"]


def _pair(history: Conversation, chosen: str, rejected: str) -> PreferencePair:
    if not history or history[-1]["role"] != "user":
        last = history[-1]["role"] if history else "nothing"
        raise RowError(
            "prompt",
            f"the shared history must end with a user turn, it ends with {last}.",
            "The replies answer the last user message; drop trailing assistant turns.",
        )
    return PreferencePair(prompt=history, chosen=chosen, rejected=rejected)


def _split_last_answer(turns: Conversation, name: str) -> tuple[Conversation, str]:
    if not turns or turns[-1]["role"] != "assistant":
        raise RowError(
            name,
            "the conversation does not end with an assistant turn: there is no reply to compare.",
            "Each side must end with the answer being judged.",
        )
    return turns[:-1], turns[-1]["content"]


def _same_history(chosen: Conversation, rejected: Conversation) -> None:
    if chosen != rejected:
        at = next(
            (i for i, (a, b) in enumerate(zip(chosen, rejected, strict=False)) if a != b),
            min(len(chosen), len(rejected)),
        )
        raise RowError(
            "rejected",
            f"chosen and rejected differ before their last assistant turn (first at turn {at}).",
            "A pair compares two answers to the same conversation; fix or drop the row.",
        )


def _transcript(value: Any, name: str) -> Conversation:
    """'\\n\\nHuman: a\\n\\nAssistant: b' -> [{user: a}, {assistant: b}]."""
    text = "\n\n" + _content(value, name).lstrip()
    marks = list(_HH_TURN.finditer(text))
    if not marks or marks[0].start() != 0:
        raise RowError(
            name,
            'not an HH transcript: it must start with "Human:" or "Assistant:" turns.',
            'Use "\\n\\nHuman: ...\\n\\nAssistant: ..." or another format (pairs, chat_pairs).',
        )
    turns = []
    for mark, nxt in zip(marks, [*marks[1:], None], strict=True):
        end = nxt.start() if nxt else len(text)
        role = "user" if mark.group(1) == "Human" else "assistant"
        turns.append({"role": role, "content": text[mark.end() : end].strip()})
    return turns


def list_pair_samples() -> list[str]:
    """Shipped samples in a preference layout (their first row names chosen and rejected)."""
    from .dataset import SAMPLES_DIR

    out = []
    for path in sorted(SAMPLES_DIR.glob("*/train.jsonl")):
        with path.open(encoding="utf-8") as f:
            first = json.loads(f.readline() or "{}")
        if isinstance(first, dict) and guess_pair_format(first):
            out.append(path.parent.name)
    return out


def is_preference_source(source: Any) -> bool:
    """True for a PreferenceDataset, a shipped pair sample's name, or a file whose first row is a pair."""
    if isinstance(source, PreferenceDataset):
        return True
    if not isinstance(source, (str, Path)):
        return False
    if str(source) in list_pair_samples():
        return True
    try:
        rows = _open(source, split=None).rows
        first = next((row for _, row in rows if isinstance(row, Mapping)), None)
    except DataError:
        return False
    return first is not None and guess_pair_format(first) is not None
