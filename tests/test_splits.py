"""One split policy (data/splits.py): every stage holds out the same rows of the same data."""

from __future__ import annotations

import json
from pathlib import Path

from workbench.config import TrainConfig
from workbench.data.dataset import load_dataset
from workbench.data.splits import eval_rows, resolve_splits
from workbench.documents.bias_probe import eval_user_prompts
from workbench.inspection.report import load_splits as inspection_splits
from workbench.training.batching import load_splits as training_splits


def _chats(path: Path, n: int, tag: str = "q") -> Path:
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"{tag} {i}"},
                {"role": "assistant", "content": f"a {i}"},
            ]
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _users(ds) -> list[str]:
    return [c[0]["content"] for c in ds.conversations]


def test_training_and_the_bias_probe_hold_out_the_same_carved_rows(tmp_path):
    data = _chats(tmp_path / "mine.jsonl", 40)
    cfg = TrainConfig(model="tiny-random", dataset=str(data), run_dir=str(tmp_path / "run"))
    Path(cfg.run_dir).mkdir()
    cfg.save(cfg.run_dir)
    held = training_splits(cfg)
    assert len(held.eval) == 4 and len(held.train) == 36
    assert not set(_users(held.train)) & set(_users(held.eval))
    assert eval_user_prompts(cfg.run_dir) == _users(held.eval)
    again = training_splits(cfg.replace(seed=cfg.seed))
    assert _users(again.eval) == _users(held.eval)  # seeded: the comparison sees the same rows
    other = training_splits(cfg.replace(seed=cfg.seed + 1))
    assert _users(other.eval) != _users(held.eval)


def test_inspection_reports_on_the_whole_file_and_never_carves(tmp_path):
    data = _chats(tmp_path / "mine.jsonl", 40)
    train, evals = inspection_splits(str(data))
    assert len(train) == 40 and evals is None


def test_a_sample_and_a_folder_bring_their_own_eval_split_for_every_stage(tmp_path):
    folder = tmp_path / "set"
    folder.mkdir()
    _chats(folder / "train.jsonl", 10, "t")
    _chats(folder / "eval.jsonl", 3, "e")
    for source in ("orders-json", str(folder)):
        train, evals = inspection_splits(source)
        cfg = TrainConfig(model="tiny-random", dataset=source)
        held = training_splits(cfg)
        assert _users(held.eval) == _users(evals) == _users(eval_rows(source))
        assert _users(held.train) == _users(train)
    assert _users(eval_rows("orders-json")) == _users(load_dataset("orders-json", split="eval"))


def test_none_means_no_eval_split(tmp_path):
    data = _chats(tmp_path / "mine.jsonl", 12)
    assert inspection_splits(str(data), "none")[1] is None
    assert inspection_splits("orders-json", False)[1] is None
    assert resolve_splits("orders-json", "none", carve=True).eval is None
    assert len(resolve_splits(str(data), "none", carve=True).train) == 12


def test_explicit_eval_data_is_used_whole(tmp_path):
    data = _chats(tmp_path / "mine.jsonl", 12)
    other = _chats(tmp_path / "other.jsonl", 5, "x")
    cfg = TrainConfig(model="tiny-random", dataset=str(data), eval_dataset=str(other))
    assert _users(training_splits(cfg).eval) == _users(eval_rows(str(other)))
    assert len(training_splits(cfg).train) == 12
