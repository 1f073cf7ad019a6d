"""From conversations to training batches: chat template, loss labels, truncation, packing, length grouping.

Packing puts several conversations in one row. Restarting `position_ids` alone does not isolate
them (measured: the second sequence's logits changed), so packed batches carry a 4D block-diagonal
causal `attention_mask` as well; `tests/test_batching.py` checks packed logits equal separate runs.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..templating import encode_chat

log = logging.getLogger(__name__)

IGNORE = -100  # label value the loss skips


@dataclass
class Encoded:
    """One tokenised conversation (or one packed row of several)."""

    input_ids: list[int]
    labels: list[int]
    segments: list[int] = field(
        default_factory=list
    )  # lengths of the packed pieces; empty: one piece
    truncated: bool = False
    # per token, 1 where the KL to base counts (TrainConfig.kl_on="replay"); empty: everywhere
    kl_mask: list[int] = field(default_factory=list)


@dataclass
class EncodeReport:
    """What tokenisation did to a dataset: sizes, truncation, rows left without any label."""

    rows: int = 0
    tokens: int = 0
    label_tokens: int = 0
    truncated: int = 0
    dropped_no_labels: int = 0
    packed_rows: int = 0

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


# -- labels --------------------------------------------------------------------------------------


def encode_conversation(
    tokenizer: Any, messages: list[dict[str, str]], *, max_length: int, assistant_only: bool = True
) -> Encoded:
    """Token ids and labels of one conversation; labels only on assistant turns when `assistant_only`.

    The mask rule lives in `templating.encode_chat`, shared with the dataset inspection preview.
    """
    enc = encode_chat(tokenizer, messages, max_length=max_length)
    ids = enc.input_ids
    labels = (
        [t if m else IGNORE for t, m in zip(ids, enc.labels_mask, strict=True)]
        if assistant_only
        else list(ids)
    )
    return Encoded(input_ids=ids, labels=labels, truncated=enc.truncated)


def encode_dataset(
    tokenizer: Any,
    conversations: Sequence[list[dict[str, str]]],
    *,
    max_length: int,
    assistant_only: bool = True,
    kl_rows: Sequence[bool] | None = None,
) -> tuple[list[Encoded], EncodeReport]:
    """Encode every conversation; rows whose labels were all cut off are dropped and counted.

    `kl_rows` (one flag per conversation) marks the rows whose tokens the KL to base counts; each
    item then carries a `kl_mask`. Flags go with their rows, so a dropped row takes its own along.
    """
    if kl_rows is not None and len(kl_rows) != len(conversations):
        raise ValueError(f"kl_rows has {len(kl_rows)} flags for {len(conversations)} conversations")
    report, out = EncodeReport(), []
    for i, messages in enumerate(conversations):
        item = encode_conversation(
            tokenizer, messages, max_length=max_length, assistant_only=assistant_only
        )
        if kl_rows is not None:
            item.kl_mask = [int(bool(kl_rows[i]))] * len(item.input_ids)
        report.truncated += item.truncated
        n_labels = sum(1 for t in item.labels[1:] if t != IGNORE)
        if n_labels == 0:
            report.dropped_no_labels += 1
            continue
        report.rows += 1
        report.tokens += len(item.input_ids)
        report.label_tokens += n_labels
        out.append(item)
    if report.truncated:
        log.warning(
            "%d of %d conversations were longer than max_length=%d and were truncated.",
            report.truncated,
            len(conversations),
            max_length,
        )
    return out, report


# -- packing -------------------------------------------------------------------------------------


def pack(items: Sequence[Encoded], *, max_length: int, seed: int = 0) -> list[Encoded]:
    """Greedy first-fit packing of shuffled items into rows of at most `max_length` tokens."""
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    rows: list[list[Encoded]] = []
    room: list[int] = []
    for i in order:
        item = items[i]
        n = len(item.input_ids)
        slot = next((r for r, free in enumerate(room) if free >= n), None)
        if slot is None:
            rows.append([item])
            room.append(max_length - n)
        else:
            rows[slot].append(item)
            room[slot] -= n
    return [_join(row) for row in rows]


def _join(pieces: list[Encoded]) -> Encoded:
    ids, labels, kl_mask = [], [], []
    for piece in pieces:
        ids += piece.input_ids
        # the first token of a piece must not be predicted from the previous piece's last token
        labels += [IGNORE] + piece.labels[1:]
        kl_mask += piece.kl_mask
    return Encoded(ids, labels, segments=[len(p.input_ids) for p in pieces], kl_mask=kl_mask)


# -- batches -------------------------------------------------------------------------------------


class EncodedDataset:
    """A list of Encoded rows as a torch-style map dataset (Trainer reads `input_ids` for lengths)."""

    def __init__(self, items: Sequence[Encoded]):
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = self.items[i]
        row = {"input_ids": item.input_ids, "labels": item.labels, "segments": item.segments}
        if item.kl_mask:
            row["kl_mask"] = item.kl_mask
        return row

    def lengths(self) -> list[int]:
        return [len(item.input_ids) for item in self.items]


@dataclass
class Collator:
    """Right-pads a list of rows into tensors.

    Unpacked rows get a 2D padding mask. Packed rows get restarted `position_ids` and a 4D
    block-diagonal causal mask (bool, True = may attend). `real_tokens` counts non-padding tokens
    (the engine reads and removes it before the forward pass). Rows with a `kl_mask` give a bool
    `kl_mask` (padding False) that the trainer takes out before the forward, as it does labels.
    """

    pad_token_id: int
    pad_to_multiple_of: int = 1

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        length = max(len(r["input_ids"]) for r in rows)
        length = -(-length // self.pad_to_multiple_of) * self.pad_to_multiple_of
        ids = torch.full((len(rows), length), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(rows), length), IGNORE, dtype=torch.long)
        for b, row in enumerate(rows):
            n = len(row["input_ids"])
            ids[b, :n] = torch.tensor(row["input_ids"])
            labels[b, :n] = torch.tensor(row["labels"])
        real = sum(len(r["input_ids"]) for r in rows)
        batch = {"input_ids": ids, "labels": labels, "real_tokens": torch.tensor(real)}
        if any(r.get("kl_mask") for r in rows):
            kl_mask = torch.zeros((len(rows), length), dtype=torch.bool)
            for b, row in enumerate(rows):
                kl_mask[b, : len(row.get("kl_mask", ()))] = torch.tensor(
                    row.get("kl_mask", []), dtype=torch.bool
                )
            batch["kl_mask"] = kl_mask
        if any(r.get("segments") for r in rows):
            batch["attention_mask"], batch["position_ids"] = packed_mask_and_positions(rows, length)
        else:
            mask = torch.zeros((len(rows), length), dtype=torch.long)
            for b, row in enumerate(rows):
                mask[b, : len(row["input_ids"])] = 1
            batch["attention_mask"] = mask
        return batch


def packed_mask_and_positions(rows: list[dict[str, Any]], length: int) -> tuple[Any, Any]:
    """(B, 1, L, L) bool block-diagonal causal mask and per-piece restarted position ids."""
    import torch

    mask = torch.zeros((len(rows), 1, length, length), dtype=torch.bool)
    positions = torch.zeros((len(rows), length), dtype=torch.long)
    causal = torch.ones((length, length), dtype=torch.bool).tril()
    for b, row in enumerate(rows):
        start = 0
        for n in row.get("segments") or [len(row["input_ids"])]:
            mask[b, 0, start : start + n, start : start + n] = causal[:n, :n]
            positions[b, start : start + n] = torch.arange(n)
            start += n
        pad = torch.arange(start, length)
        mask[b, 0, pad, pad] = True  # padding attends to itself only: no empty softmax rows
    return mask, positions


class LengthGroupedSampler:
    """Shuffles, then sorts within mega-batches by length so a batch holds similar lengths.

    Deterministic from (seed, epoch), so a resumed run replays the same order. Why not
    transformers' own (`train_sampling_strategy="group_by_length"`, 5.24; the older
    `group_by_length=True` is gone): it draws each epoch's permutation from the global torch RNG
    when the epoch starts, and a run resumed inside the second epoch draws it right after seeding,
    before the checkpoint's RNG state is loaded, so it replays the first epoch's order (measured:
    6 of 6 steps differed from the uninterrupted run; resuming in the first epoch or at the
    boundary matched). tests/test_batching.py records both.
    """

    def __init__(
        self, lengths: Sequence[int], *, batch_size: int, seed: int, mega_batches: int = 16
    ):
        self.lengths, self.batch_size, self.seed, self.epoch = list(lengths), batch_size, seed, 0
        self.mega = batch_size * mega_batches

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        rng = random.Random(self.seed * 1000 + self.epoch)
        order = list(range(len(self.lengths)))
        rng.shuffle(order)
        chunks = [order[i : i + self.mega] for i in range(0, len(order), self.mega)]
        batches = []
        for chunk in chunks:
            chunk.sort(key=lambda i: -self.lengths[i])
            batches += [
                chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)
            ]
        full = [b for b in batches if len(b) == self.batch_size]
        rng.shuffle(full)  # so the longest batch is not always first; a short last batch stays last
        return iter(
            [i for batch in full + [b for b in batches if len(b) < self.batch_size] for i in batch]
        )


# -- splits --------------------------------------------------------------------------------------


def load_splits(cfg: Any, train_data: Any = None, eval_data: Any = None) -> Any:
    """Train and eval `Splits` for `cfg` by the one split policy (data/splits.py): explicit data
    wins, then `cfg.eval_dataset`, then the sample's eval split, else a seeded `eval_fraction` slice.
    `cfg.replay` rows are then mixed into the training split only (`splits.replay_rows` of them)."""
    from ..data.dataset import ChatDataset, Provenance
    from ..data.splits import mix_replay, resolve_splits

    splits = resolve_splits(
        train_data if train_data is not None else cfg.dataset,
        eval_data if eval_data is not None else cfg.eval_dataset,
        carve=True,
        eval_fraction=cfg.eval_fraction,
        seed=cfg.seed,
        max_train_rows=cfg.max_train_rows,
        max_eval_rows=cfg.max_eval_rows,
        split=cfg.split,
        split_field=getattr(cfg, "split_field", None),
    )
    if eval_data is not None:
        splits.sources["eval"] = "given"
    if splits.eval is None:  # eval_dataset: none
        splits.eval = ChatDataset(
            conversations=[], provenance=Provenance(source="none", format="chat")
        )
    if getattr(cfg, "replay", None):
        splits.train, splits.replay_rows = mix_replay(
            splits.train, cfg.replay, share=cfg.replay_share, seed=cfg.seed
        )
        splits.replay = str(cfg.replay)
    return splits
