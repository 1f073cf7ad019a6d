"""Chat-template rendering and the assistant-only loss mask shared by inspection and training.

The one rule, used by `inspect.py` (to show and count what is trained on) and by the training
batcher (to build labels), so the preview and the real run can never disagree:

    A token is trained on when its characters overlap the *content* of an assistant message,
    or when it is the end-of-turn token that the template writes right after that content
    (whitespace allowed in between): the tokenizer's `eos_token` or another special token such as
    `<|im_end|>`, `<end_of_turn>`, `<|eot_id|>`, but never `bos_token`. Everything else (system
    prompts, including a default one the template injects, user turns, role headers such as
    `<|im_start|>assistant\\n`, and whitespace after the end-of-turn token) is context only.

How the spans are found: the conversation is rendered with `apply_chat_template(tokenize=False)`,
and each assistant message's content is located in it: directly when it occurs exactly once,
otherwise by rendering the template again up to the start of that turn (`messages[:i]` with
`add_generation_prompt=True`), a prefix that ends where the assistant's content starts whatever
the template adds in front (a default system prompt that repeats the answer, headers). The
rendered text is then tokenized once with the fast tokenizer's offset mapping, and character spans
become token positions. Templates whose prefixes are not prefixes of the full render fall back to
finding each message's content in order.

Truncation is on the right, at `max_length` tokens, like the training batcher.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from .errors import DataError

Message = dict[str, str]


@dataclass
class EncodedChat:
    """One conversation rendered and tokenized, with the loss mask and what truncation cost."""

    text: str  # the full chat-template render
    input_ids: list[int]  # after truncation to max_length
    labels_mask: list[int]  # 1 where the token is trained on, same length as input_ids
    offsets: list[tuple[int, int]]  # character span of each kept token in `text`
    n_tokens: int  # before truncation
    n_trained: int  # trained tokens before truncation
    trained_spans: list[tuple[int, int]] = field(default_factory=list)  # character spans

    @property
    def truncated(self) -> bool:
        return self.n_tokens > len(self.input_ids)

    @property
    def n_trained_kept(self) -> int:
        return sum(self.labels_mask)

    @property
    def n_trained_lost(self) -> int:
        return self.n_trained - self.n_trained_kept

    def segments(self) -> list[tuple[str, bool]]:
        """The kept text cut into (piece, trained) runs, for display. Dropped text is omitted."""
        out: list[tuple[str, bool]] = []
        done = 0  # byte-level tokens of one character share its offsets: show it once
        for (start, end), trained in zip(self.offsets, self.labels_mask, strict=True):
            piece, done = self.text[max(start, done) : end], max(done, end)
            if not piece:
                continue
            if out and out[-1][1] == bool(trained):
                out[-1] = (out[-1][0] + piece, out[-1][1])
            else:
                out.append((piece, bool(trained)))
        return out


def render_chat(
    tokenizer: Any, messages: list[Message], *, add_generation_prompt: bool = False
) -> str:
    """The chat-template render of `messages` as text (no tokenization)."""
    if not getattr(tokenizer, "chat_template", None):
        raise DataError(
            f"The tokenizer {type(tokenizer).__name__} has no chat template, so conversations cannot "
            "be rendered. Use an instruct/chat model, or set tokenizer.chat_template."
        )
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt
    )


def end_of_turn_tokens(tokenizer: Any) -> tuple[str, ...]:
    """Special tokens that can close an assistant turn, longest first: eos (`<|im_end|>`, `</s>`) and
    the other special tokens (`<end_of_turn>`, `<|eot_id|>`), but not bos, which opens turns."""
    names = {
        getattr(tokenizer, "eos_token", None),
        *(getattr(tokenizer, "all_special_tokens", None) or []),
    }
    decoder = getattr(tokenizer, "added_tokens_decoder", None) or {}
    names.update(t.content for t in decoder.values() if getattr(t, "special", False))
    bos = getattr(tokenizer, "bos_token", None)
    names.discard(bos if bos != getattr(tokenizer, "eos_token", None) else None)
    return tuple(sorted((n for n in names if n), key=len, reverse=True))


def trained_spans(
    tokenizer: Any, messages: list[Message], text: str, *, ends: tuple[str, ...] | None = None
) -> list[tuple[int, int]]:
    """Character spans of `text` (the full render) that are trained on: assistant content + end-of-turn.

    ends: `end_of_turn_tokens(tokenizer)`, computed once by callers that handle many conversations.
    """
    ends = end_of_turn_tokens(tokenizer) if ends is None else ends
    spans: list[tuple[int, int]] = []
    cursor = 0
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start = _content_start(tokenizer, messages, i, text, cursor)
        content = message["content"]
        if start is None:  # template rewrote the content (e.g. stripped it): search for the core
            core = content.strip()
            found = text.find(core, cursor) if core else -1
            if found < 0:
                continue
            start, content = found, core
        end = start + len(content)
        gap = len(text) - end - len(text[end:].lstrip())  # whitespace before the end-of-turn token
        closing = next((t for t in ends if text.startswith(t, end + gap)), None)
        if closing:
            end += gap + len(closing)
        if end > start:
            spans.append((start, end))
        cursor = end
    return spans


def _content_start(tokenizer, messages, i, text, cursor) -> int | None:
    """Where assistant message i's content begins in `text`, or None if it is not there verbatim."""
    content = messages[i]["content"]
    first = text.find(content) if content else -1
    if first >= cursor >= 0 and first == text.rfind(content):  # once, overlaps counted ("\n\n"
        return first  # in "\n\n\n" is there twice): no second render needed (the common case)
    prefix = render_chat(tokenizer, messages[:i], add_generation_prompt=True) if i else None
    if prefix is not None and text.startswith(prefix) and text.startswith(content, len(prefix)):
        return len(prefix)
    found = text.find(content, cursor) if content else -1
    return found if found >= 0 else None


def encode_chat(
    tokenizer: Any, messages: list[Message], *, max_length: int | None = None
) -> EncodedChat:
    """Render, tokenize (no extra special tokens: the template has them) and mask one conversation."""
    text = render_chat(tokenizer, messages)
    spans = trained_spans(tokenizer, messages, text)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]
    mask = mask_from_offsets(offsets, spans)
    n_tokens, n_trained = len(ids), sum(mask)
    if max_length is not None and n_tokens > max_length:
        ids, offsets, mask = ids[:max_length], offsets[:max_length], mask[:max_length]
    return EncodedChat(text, ids, mask, offsets, n_tokens, n_trained, spans)


def assistant_mask(
    tokenizer: Any, messages: list[Message], max_length: int | None = None
) -> tuple[list[int], list[int]]:
    """(input_ids, labels_mask) for one conversation: the training labels are
    `[tok if m else -100 for tok, m in zip(input_ids, labels_mask)]`.

    labels_mask[i] is 1 for tokens of assistant content and the end-of-turn token that closes each
    assistant message, 0 for everything else (see the module docstring). Both lists are truncated on
    the right to `max_length` tokens. Needs a fast tokenizer (offset mapping).
    """
    enc = encode_chat(tokenizer, messages, max_length=max_length)
    return enc.input_ids, enc.labels_mask


def mask_from_offsets(offsets: list[tuple[int, int]], spans: list[tuple[int, int]]) -> list[int]:
    """1 for each token whose character range overlaps one of `spans`, else 0.

    Tokens are in text order, so each span is located with two binary searches.
    """
    mask = [0] * len(offsets)
    if not spans or not offsets:
        return mask
    ends = [end for _, end in offsets]
    starts = [start for start, _ in offsets]
    for s, e in spans:
        first = bisect.bisect_right(ends, s)  # first token ending after the span starts
        last = bisect.bisect_left(starts, e)  # first token starting at/after the span ends
        mask[first:last] = [1] * max(0, last - first)
    return mask


@dataclass
class TokenCounts:
    """Token counts of one conversation against a cutoff (what the length report needs)."""

    n_tokens: int  # whole render, before truncation
    n_trained: int  # trained tokens before truncation
    n_trained_kept: int  # trained tokens left after truncation to max_length
    error: str | None = None  # the template could not render this conversation


def count_tokens(
    tokenizer: Any, conversations: list[list[Message]], *, max_length: int, batch_size: int = 1024
) -> list[TokenCounts]:
    """Counts for many conversations: the same rule as `encode_chat`, tokenized in batches (fast)."""
    out: list[TokenCounts] = []
    for i in range(0, len(conversations), batch_size):
        out.extend(_count_batch(tokenizer, conversations[i : i + batch_size], max_length))
    return out


def _count_batch(tokenizer, conversations, max_length) -> list[TokenCounts]:
    rendered: list[tuple[str, list[tuple[int, int]]] | str] = []
    ends = end_of_turn_tokens(tokenizer)
    for messages in conversations:
        try:
            text = render_chat(tokenizer, messages)
            rendered.append((text, trained_spans(tokenizer, messages, text, ends=ends)))
        except DataError:
            raise
        except Exception as exc:  # a template that refuses this conversation (e.g. role order)
            rendered.append(f"{type(exc).__name__}: {exc}")
    texts = [r[0] for r in rendered if isinstance(r, tuple)]
    all_offsets = iter(_batch_offsets(tokenizer, texts))
    return [
        TokenCounts(0, 0, 0, error=r)
        if isinstance(r, str)
        else _counts(next(all_offsets), r[1], max_length)
        for r in rendered
    ]


def _batch_offsets(tokenizer, texts: list[str]) -> list[list[tuple[int, int]]]:
    """Token character offsets of many texts; the Rust backend directly when there is one (faster)."""
    if not texts:
        return []
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None and hasattr(backend, "encode_batch"):
        return [e.offsets for e in backend.encode_batch(texts, add_special_tokens=False)]
    return tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]


def _counts(offsets, spans, max_length) -> TokenCounts:
    ends = [end for _, end in offsets]
    starts = [start for start, _ in offsets]
    trained = kept = 0
    for s, e in spans:
        first, last = bisect.bisect_right(ends, s), bisect.bisect_left(starts, e)
        trained += max(0, last - first)
        kept += max(0, min(last, max_length) - first)
    return TokenCounts(len(offsets), trained, kept)
