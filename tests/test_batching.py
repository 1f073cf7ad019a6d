"""Data to batches: assistant-only labels, truncation, packing isolation, length grouping."""

from __future__ import annotations

import pytest

from workbench.training.batching import (
    IGNORE,
    Collator,
    EncodedDataset,
    LengthGroupedSampler,
    encode_conversation,
    encode_dataset,
    pack,
)


def conv(question: str, answer: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    from workbench.models import load_model

    model, tok = load_model("tiny-random", technique="full")
    return model.eval(), tok


def test_labels_cover_only_the_assistant_turn(tiny):
    _, tok = tiny
    item = encode_conversation(tok, conv("What is two plus two?", "Four."), max_length=512)
    trained = [t for t in item.labels if t != IGNORE]
    assert tok.decode(trained).startswith("Four.")
    assert "two plus" not in tok.decode(trained)
    everything = encode_conversation(
        tok, conv("What is two plus two?", "Four."), max_length=512, assistant_only=False
    )
    assert everything.labels == everything.input_ids


def test_truncation_is_reported_and_label_less_rows_dropped(tiny):
    _, tok = tiny
    rows = [conv("short", "yes"), conv("a long question " * 40, "an answer that is cut off")]
    cutoff = len(encode_conversation(tok, rows[0], max_length=10_000).input_ids) + 2
    items, report = encode_dataset(tok, rows, max_length=cutoff)
    assert report.truncated == 1 and report.dropped_no_labels == 1 and report.rows == 1
    assert all(len(i.input_ids) <= cutoff for i in items)


def test_pack_fits_rows_and_keeps_every_token(tiny):
    _, tok = tiny
    items, _ = encode_dataset(
        tok,
        [conv(f"question {i} " * (i % 5 + 1), f"answer {i}") for i in range(20)],
        max_length=256,
    )
    packed = pack(items, max_length=256, seed=0)
    assert len(packed) < len(items)
    assert all(len(p.input_ids) <= 256 and sum(p.segments) == len(p.input_ids) for p in packed)
    assert sum(len(p.input_ids) for p in packed) == sum(len(i.input_ids) for i in items)
    for p in packed:  # no piece is predicted from its neighbour's last token
        start = 0
        for n in p.segments:
            assert p.labels[start] == IGNORE
            start += n


def test_packed_logits_equal_separate_runs(tiny):
    import torch

    model, tok = tiny
    items, _ = encode_dataset(
        tok,
        [conv("Name a colour.", "Blue."), conv("Count to three, please.", "One, two, three.")],
        max_length=256,
    )
    packed = pack(items, max_length=512, seed=0)
    assert len(packed) == 1 and len(packed[0].segments) == 2
    collate = Collator(pad_token_id=tok.pad_token_id)
    batch = collate([EncodedDataset(packed)[0]])
    assert batch["attention_mask"].dim() == 4
    with torch.no_grad():
        packed_logits = model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            position_ids=batch["position_ids"],
        ).logits[0]
        start = 0
        for n in packed[0].segments:
            ids = torch.tensor([packed[0].input_ids[start : start + n]])
            alone = model(input_ids=ids).logits[0]
            torch.testing.assert_close(
                packed_logits[start : start + n], alone, atol=1e-5, rtol=1e-4
            )
            start += n


def test_position_ids_alone_would_leak(tiny):
    """The reason for the 4D mask: with a plain causal mask the second piece sees the first."""
    import torch

    model, tok = tiny
    items, _ = encode_dataset(
        tok,
        [conv("Name a colour.", "Blue."), conv("Count to three.", "One, two, three.")],
        max_length=256,
    )
    row = pack(items, max_length=512, seed=0)[0]
    batch = Collator(pad_token_id=tok.pad_token_id)([EncodedDataset([row])[0]])
    n0 = row.segments[0]
    with torch.no_grad():
        leaky = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits[
            0, n0:
        ]
        alone = model(input_ids=torch.tensor([row.input_ids[n0:]])).logits[0]
    assert not torch.allclose(leaky, alone, atol=1e-5)


def test_kl_rows_mark_their_own_tokens_through_drops_packing_and_padding(tiny):
    import torch

    _, tok = tiny
    rows = [conv("short", "yes"), conv("a long question " * 40, "cut"), conv("hi", "hello")]
    cutoff = len(encode_conversation(tok, rows[0], max_length=10_000).input_ids) + 2
    flags = [False, False, True]  # the dropped middle row must not shift the third row's flag
    items, report = encode_dataset(tok, rows, max_length=cutoff, kl_rows=flags)
    assert report.dropped_no_labels == 1 and len(items) == 2
    assert items[0].kl_mask == [0] * len(items[0].input_ids)
    assert items[1].kl_mask == [1] * len(items[1].input_ids)
    batch = Collator(pad_token_id=tok.pad_token_id)([EncodedDataset(items)[i] for i in (0, 1)])
    mask = batch["kl_mask"]
    assert mask.dtype == torch.bool and mask.shape == batch["input_ids"].shape
    assert int(mask[0].sum()) == 0 and int(mask[1].sum()) == len(items[1].input_ids)
    row = pack(items, max_length=512, seed=0)[0]  # both pieces in one row keep their own marks
    assert len(row.kl_mask) == len(row.input_ids) and sum(row.kl_mask) == len(items[1].input_ids)
    with pytest.raises(ValueError, match="2 flags for 3"):
        encode_dataset(tok, rows, max_length=cutoff, kl_rows=flags[:2])
    plain, _ = encode_dataset(tok, rows[:1], max_length=cutoff)
    assert "kl_mask" not in Collator(pad_token_id=tok.pad_token_id)([EncodedDataset(plain)[0]])


def test_collator_pads_and_counts_real_tokens(tiny):
    _, tok = tiny
    items, _ = encode_dataset(
        tok,
        [conv("hi", "hello"), conv("a longer question here", "and a longer answer")],
        max_length=256,
    )
    batch = Collator(pad_token_id=tok.pad_token_id)(
        list(EncodedDataset(items)[i] for i in range(2))
    )
    lengths = [len(i.input_ids) for i in items]
    assert batch["input_ids"].shape == (2, max(lengths))
    assert int(batch["real_tokens"]) == sum(lengths) == int(batch["attention_mask"].sum())
    assert (batch["labels"][batch["attention_mask"] == 0] == IGNORE).all()


def test_length_grouped_sampler_is_a_deterministic_permutation_of_similar_lengths():
    lengths = [(i * 37) % 101 + 1 for i in range(64)]
    sampler = LengthGroupedSampler(lengths, batch_size=8, seed=3)
    order = list(sampler)
    assert sorted(order) == list(range(64)) and order == list(
        LengthGroupedSampler(lengths, batch_size=8, seed=3)
    )
    sampler.set_epoch(1)
    assert list(sampler) != order
    spread = [
        max(lengths[i] for i in b) - min(lengths[i] for i in b)
        for b in (order[j : j + 8] for j in range(0, 64, 8))
    ]
    assert sum(spread) / len(spread) < 40  # random batches of this data spread ~85


# -- batch order on resume -------------------------------------------------------------------------
# 20 rows of distinct lengths, batch 2, 2 epochs: 20 steps, a checkpoint every 2. Row i is the
# token i + 5 repeated, so each recorded batch names its rows.
ROWS, BATCH, EPOCHS = 20, 2, 2


def _row_length(i: int) -> int:
    return 4 + (i * 7) % 13


def _batch_order(tmp_path, strategy: str, *, resume_at: int | None = None) -> list[list[int]]:
    """The rows of every training step of a run (from `resume_at`'s checkpoint when given)."""
    from transformers import TrainingArguments, set_seed

    from workbench import TrainConfig, get_technique, load_model
    from workbench.training.batching import Encoded
    from workbench.training.trainer import WorkbenchTrainer

    class Recording(WorkbenchTrainer):
        def training_step(self, model, inputs, num_items_in_batch=None):
            self.order.append([int(row[0]) - 5 for row in inputs["input_ids"]])
            return super().training_step(model, inputs, num_items_in_batch)

    set_seed(0)
    cfg = TrainConfig(model="tiny-random", technique="lora")
    model, _ = load_model("tiny-random", technique="lora")
    model = get_technique("lora").prepare(model, cfg)
    rows = [Encoded([i + 5] * _row_length(i), [i + 5] * _row_length(i)) for i in range(ROWS)]
    args = TrainingArguments(
        output_dir=str(tmp_path / f"{strategy}-{resume_at}"),
        per_device_train_batch_size=BATCH,
        num_train_epochs=EPOCHS,
        save_strategy="steps",
        save_steps=2,
        seed=0,
        use_cpu=True,
        report_to=[],
        disable_tqdm=True,
        log_level="error",
        logging_steps=100,
        remove_unused_columns=False,
        label_names=["labels"],
        train_sampling_strategy="group_by_length" if strategy == "transformers" else "random",
    )
    trainer = Recording(
        model=model,
        args=args,
        train_dataset=EncodedDataset(rows),
        data_collator=Collator(pad_token_id=0),
        group_by_length=strategy == "workbench",
        keep_checkpoints=100,
    )
    trainer.order = []
    resume = tmp_path / f"{strategy}-None" / f"checkpoint-{resume_at}" if resume_at else None
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    return trainer.order


@pytest.mark.slow
def test_resumed_runs_see_the_batches_of_an_uninterrupted_run(tiny_model_dir, tmp_path):
    full = _batch_order(tmp_path, "workbench")
    steps = ROWS // BATCH
    assert len(full) == EPOCHS * steps
    assert sorted(sum(full[:steps], [])) == list(range(ROWS))  # an epoch is a permutation
    assert full[:steps] != full[steps:]  # each epoch is shuffled afresh
    for resume_at in (4, steps, steps + 4):  # first epoch, the boundary, the second epoch
        assert _batch_order(tmp_path, "workbench", resume_at=resume_at) == full[resume_at:]


@pytest.mark.slow
def test_transformers_length_grouping_replays_the_first_epoch_on_a_later_resume(
    tiny_model_dir, tmp_path
):
    """Why batching.LengthGroupedSampler exists (transformers 5.24): theirs draws each epoch's
    permutation from the global torch RNG when the epoch starts; a run resumed inside epoch 2 draws
    it right after seeding, before the checkpoint's RNG state is loaded, and so gets epoch 1's
    order. If this starts failing, transformers keeps the order now: use theirs, delete ours."""
    full = _batch_order(tmp_path, "transformers")
    steps = ROWS // BATCH
    resumed = _batch_order(tmp_path, "transformers", resume_at=steps + 4)
    assert resumed != full[steps + 4 :]
    assert resumed == full[4:steps]  # the rest of the first epoch's order, again
