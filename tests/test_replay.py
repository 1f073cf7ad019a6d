"""Replay mixing: the share, the seed, training split only; the shipped general-replay sample."""

from __future__ import annotations

import logging

import pytest
from test_train import config, conversations

from workbench.config import TrainConfig
from workbench.data.dataset import ChatDataset, Provenance, load_dataset
from workbench.data.splits import mix_replay, replay_rows
from workbench.errors import ConfigError
from workbench.inspection.diversity import skeleton
from workbench.training.batching import load_splits
from workbench.training.engine import train


def _general(n: int) -> list[list[dict[str, str]]]:
    return [
        [
            {"role": "user", "content": f"General question number {i}?"},
            {"role": "assistant", "content": f"General answer {i}."},
        ]
        for i in range(n)
    ]


def _task(n: int) -> ChatDataset:
    return ChatDataset(
        conversations=conversations(n), provenance=Provenance(source="task", format="chat")
    )


@pytest.mark.parametrize("share", [0.1, 0.25, 0.5, 0.9])
def test_replay_rows_make_the_asked_share_of_the_mixed_split(share):
    mixed, n = mix_replay(_task(60), _general(600), share=share, seed=1)
    assert n == replay_rows(60, share) and len(mixed) == 60 + n
    assert n / len(mixed) == pytest.approx(share, abs=0.01)
    assert mixed.conversations[:60] == conversations(60)  # the task rows, untouched, first
    assert all(c in _general(600) for c in mixed.conversations[60:])
    assert len({c[0]["content"] for c in mixed.conversations[60:]}) == n  # no repeats needed


def test_replay_is_seeded():
    pick = {s: mix_replay(_task(40), _general(300), share=0.3, seed=s)[0] for s in (1, 2)}
    again = mix_replay(_task(40), _general(300), share=0.3, seed=1)[0]
    assert pick[1].conversations == again.conversations
    assert pick[1].conversations != pick[2].conversations


def test_a_small_replay_set_is_repeated_evenly_and_said(caplog):
    with caplog.at_level(logging.WARNING, logger="workbench.data.splits"):
        mixed, n = mix_replay(_task(90), _general(10), share=0.5, seed=0)
    assert n == 90 and len(mixed) == 180
    counts = {}
    for conv in mixed.conversations[90:]:
        counts[conv[0]["content"]] = counts.get(conv[0]["content"], 0) + 1
    assert sorted(counts.values()) == [9] * 10  # every row used before any is used again
    assert "rows repeat" in caplog.text


def test_load_splits_mixes_into_train_only_and_keeps_the_eval_split():
    plain = load_splits(TrainConfig(dataset="orders-json", max_train_rows=80))
    mixed = load_splits(
        TrainConfig(
            dataset="orders-json", max_train_rows=80, replay="general-replay", replay_share=0.2
        )
    )
    assert mixed.eval.conversations == plain.eval.conversations
    assert mixed.train.conversations[:80] == plain.train.conversations
    assert mixed.replay_rows == 20 and len(mixed.train) == 100
    replay = load_dataset("general-replay").conversations
    assert all(c in replay for c in mixed.train.conversations[80:])
    assert mixed.sources == plain.sources  # the task data is still what the split describes


def test_training_with_replay_reports_the_mixed_rows(tiny_model_dir, run_dir):
    cfg = config(run_dir, max_steps=2, eval_every=0, replay="general-replay", replay_share=0.25)
    result = train(cfg, train_data=conversations(30), eval_data=conversations(8, offset=100))
    assert result.status == "completed", result.message
    assert result.data["train"].replay_rows == 10 and result.data["train"].rows == 40
    assert result.data["train"].replay == "general-replay"
    assert result.data["eval"].rows == 8 and result.data["eval"].replay_rows == 0


def test_kl_on_replay_marks_exactly_the_replay_rows_and_trains(tiny_model_dir, run_dir):
    from workbench.rundir import RunDir
    from workbench.training.build import build_sft
    from workbench.training.events import read_jsonl

    over = dict(replay="general-replay", replay_share=0.25, kl_to_base=0.5, kl_on="replay")
    cfg = config(run_dir, max_steps=2, eval_every=0, **over)
    task, held = conversations(30), conversations(8, offset=100)
    splits = load_splits(cfg, task, held)
    built = run_dir.parent / "built"  # build_sft claims its folder; train() needs a fresh one
    trainer, _, _ = build_sft(cfg.replace(run_dir=str(built)), RunDir(built), splits, None)
    marked = [bool(item.kl_mask[0]) for item in trainer.train_dataset.items]
    assert marked == [False] * 30 + [True] * 10  # the 10 replay rows, appended after the task's
    assert all(not item.kl_mask for item in trainer.eval_dataset.items)
    replay = load_dataset("general-replay").conversations
    assert all(c in replay for c in splits.train.conversations[30:])
    result = train(cfg, train_data=task, eval_data=held)
    assert result.status == "completed", result.message
    kls = [r["kl_to_base"] for r in read_jsonl(run_dir / "metrics.jsonl") if "kl_to_base" in r]
    assert kls and all(k >= 0 for k in kls)
    assert TrainConfig.from_yaml(cfg.to_yaml()).kl_on == "replay"


@pytest.mark.parametrize(
    "over, words",
    [
        ({"replay_share": 0.2}, "no `replay` data is named"),
        ({"replay": "general-replay"}, "replay_share is 0"),
        ({"replay": "general-replay", "replay_share": 0.95}, r"\[0, 0.9\]"),
        ({"replay": "general-replay", "replay_share": -0.1}, r"\[0, 0.9\]"),
        ({"replay": "general-replay", "replay_share": 0.2, "objective": "dpo"}, "preference"),
    ],
)
def test_replay_settings_are_checked(over, words):
    with pytest.raises(ConfigError, match=words):
        TrainConfig(**over)


def test_replay_round_trips_through_yaml():
    cfg = TrainConfig(replay="general-replay", replay_share=0.2, kl_to_base=0.1)
    back = TrainConfig.from_yaml(cfg.to_yaml())
    assert (back.replay, back.replay_share, back.kl_to_base) == ("general-replay", 0.2, 0.1)
    assert TrainConfig(replay="", replay_share=0.0).replay is None


# -- the shipped sample ------------------------------------------------------------------------


def _prompts(name: str, split: str) -> list[str]:
    ds = load_dataset(name, split=split)
    return [next(m["content"] for m in c if m["role"] == "user") for c in ds.conversations]


def test_general_replay_is_a_real_general_set():
    ds = load_dataset("general-replay")
    assert 150 <= len(ds) <= 200
    assert ds.provenance.rows_loaded == ds.provenance.rows_read  # every line loads
    for conv in ds.conversations:
        assert [m["role"] for m in conv] == ["user", "assistant"]
        assert conv[1]["content"].strip()
    prompts = _prompts("general-replay", "train")
    assert len(set(prompts)) == len(prompts)


def test_general_replay_shares_no_prompt_and_no_skeleton_with_the_forgetting_probe():
    replay = _prompts("general-replay", "train")
    probe = _prompts("general-probe", "eval") + _prompts("general-probe", "train")
    norm = {" ".join(p.lower().split()) for p in probe}
    assert not [p for p in replay if " ".join(p.lower().split()) in norm]
    shapes = {skeleton(p) for p in probe}
    assert not [p for p in replay if skeleton(p) in shapes]


def test_the_documents_say_how_many_training_rows_were_replay(tiny_model_dir, run_dir):
    from workbench.documents.cards import size_blocks
    from workbench.documents.facts import RunFacts
    from workbench.documents.record import _quantity

    cfg = config(run_dir, max_steps=1, eval_every=0, replay="general-replay", replay_share=0.25)
    assert train(
        cfg, train_data=conversations(30), eval_data=conversations(4, offset=100)
    ).completed
    facts = RunFacts.read(run_dir)
    said = " ".join(str(getattr(b, "text", "")) for b in size_blocks(facts))
    assert "10 are replay rows from `general-replay`" in said
    assert "of which 10 replay rows from general-replay" in _quantity(facts)
