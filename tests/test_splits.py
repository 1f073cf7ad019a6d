"""One split policy (data/splits.py): every stage holds out the same rows of the same data."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

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


def test_the_handwritten_orders_are_eval_data_for_a_run_by_their_path():
    from workbench.data.dataset import sample_path

    path = str(sample_path("orders-json", "handwritten"))
    handwritten = load_dataset("orders-json", split="handwritten")
    assert _users(eval_rows(path)) == _users(handwritten) and len(handwritten) == 28
    splits = resolve_splits("orders-json", path, carve=True)
    assert len(splits.train) == 400 and _users(splits.eval) == _users(handwritten)


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


# -- split="by_template": whole templates are held out ---------------------------------------------

TEMPLATES = [
    "Please send {n} boxes of item {code} to {name} by {date}.",
    "Hi, this is {name}. Could you quote {n} units of {code}?",
    "Cancel order {code}; {name} called on {date} about it.",
    "What is the delivery time for {n} pallets to {name}?",
    "{name} wants to return {n} pieces of {code} bought on {date}.",
]
NAMES = ["Alvarez", "Brightwater", "Chen", "Dubois", "Eriksen", "Fontaine", "Gupta", "Hale"]


def _templated(path: Path, per_template: int = 8) -> Path:
    rows = []
    for i in range(per_template):
        for t, template in enumerate(TEMPLATES):
            text = template.format(
                n=3 + 7 * i + t, code=f"AB-{100 + 13 * i + t}", name=NAMES[(i + t) % len(NAMES)],
                date=f"2026-0{1 + i % 9}-{10 + t}",
            )  # fmt: skip
            rows.append({"messages": [{"role": "user", "content": text},
                                      {"role": "assistant", "content": f"t{t}"}]})  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _template_of(ds) -> list[str]:
    return [c[-1]["content"] for c in ds]  # the answer names the template each row was made from


def test_by_template_keeps_every_template_on_one_side(tmp_path):
    data = _templated(tmp_path / "t.jsonl")
    cfg = TrainConfig(dataset=str(data), split="by_template", eval_fraction=0.3, seed=3)
    splits = training_splits(cfg)
    train_t, eval_t = set(_template_of(splits.train)), set(_template_of(splits.eval))
    assert eval_t and train_t and not train_t & eval_t
    assert len(splits.train) + len(splits.eval) == 40
    assert 0.2 <= len(splits.eval) / 40 <= 0.4  # whole templates of 8 rows: 2 of 5 here
    assert "by_template" in splits.sources["eval"]
    # the random split, by contrast, puts rows of every template on both sides
    rand = training_splits(cfg.replace(split="random"))
    assert set(_template_of(rand.train)) & set(_template_of(rand.eval))


def test_by_template_is_seeded_and_shared_by_the_comparison_and_bias_probe(tmp_path):
    data = _templated(tmp_path / "t.jsonl")
    cfg = TrainConfig(
        model="tiny-random", dataset=str(data), run_dir=str(tmp_path / "run"),
        split="by_template", eval_fraction=0.3, seed=3,
    )  # fmt: skip
    Path(cfg.run_dir).mkdir()
    cfg.save(cfg.run_dir)
    first = _users(training_splits(cfg).eval)
    assert first == _users(training_splits(cfg).eval)
    assert eval_user_prompts(cfg.run_dir) == first
    assert any(_users(training_splits(cfg.replace(seed=s)).eval) != first for s in range(4, 10))


def test_by_template_carves_even_where_a_sample_brings_an_eval_split():
    splits = resolve_splits("orders-json", carve=True, split="by_template", eval_fraction=0.1)
    assert "by_template" in splits.sources["eval"]
    assert len(splits.train) + len(splits.eval) == len(load_dataset("orders-json"))
    assert (len(splits.train), len(splits.eval)) == (360, 40)  # 39 whole clusters held out


def test_one_template_cannot_be_split_by_template_and_says_what_to_do(tmp_path):
    import pytest

    from workbench.errors import DataError

    data = tmp_path / "one.jsonl"
    data.write_text(
        "".join(
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": f"Ship {i} boxes to Lyon."},
                        {"role": "assistant", "content": "ok"},
                    ]
                }
            )
            + "\n"
            for i in range(12)
        )  # fmt: skip
    )
    with pytest.raises(DataError, match="one template.*eval_dataset"):
        resolve_splits(str(data), carve=True, split="by_template")


def test_an_unknown_split_is_a_config_error():
    import pytest

    from workbench.errors import ConfigError

    with pytest.raises(ConfigError, match="by_template"):
        TrainConfig(split="by_customer")


# -- split="by_field": whole groups named by a column are held out --------------------------------


def _grouped(path: Path, customers: int = 6, per_customer: int = 5, fmt: str = "jsonl") -> Path:
    rows = [
        {
            "customer": f"C{c:02d}",
            "messages": [
                {"role": "user", "content": f"Order {i} for customer C{c:02d}: {3 + i} boxes."},
                {"role": "assistant", "content": f"C{c:02d}"},  # the answer names the group
            ],
        }
        for c in range(customers)
        for i in range(per_customer)
    ]
    random.Random(0).shuffle(rows)  # groups interleaved, as a real export would have them
    if fmt == "csv":
        import csv

        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, ["customer", "prompt", "completion"])
            writer.writeheader()
            for r in rows:
                writer.writerow(
                    {
                        "customer": r["customer"],
                        "prompt": r["messages"][0]["content"],
                        "completion": r["messages"][1]["content"],
                    }
                )
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_by_field_keeps_every_customer_on_one_side(tmp_path, fmt):
    data = _grouped(tmp_path / f"g.{fmt}", fmt=fmt)
    cfg = TrainConfig(
        dataset=str(data), split="by_field", split_field="customer", eval_fraction=0.3, seed=1
    )
    splits = training_splits(cfg)
    train_g, eval_g = set(_template_of(splits.train)), set(_template_of(splits.eval))
    assert eval_g and train_g and not train_g & eval_g
    assert len(splits.train) + len(splits.eval) == 30
    assert len(splits.eval) % 5 == 0 and 0.2 <= len(splits.eval) / 30 <= 0.4  # whole customers
    assert "whole customer groups" in splits.sources["eval"]
    # the held-out customers are seeded: the same seed holds out the same ones
    assert set(_template_of(training_splits(cfg).eval)) == eval_g
    rand = training_splits(cfg.replace(split="random", split_field=None))
    assert set(_template_of(rand.train)) & set(_template_of(rand.eval))


def test_by_field_names_the_line_of_a_row_without_the_field(tmp_path):
    from workbench.errors import DataError

    data = _grouped(tmp_path / "g.jsonl")
    lines = data.read_text().splitlines()
    row = json.loads(lines[6])
    del row["customer"]
    lines[6] = json.dumps(row)
    data.write_text("\n".join(lines) + "\n")
    before = data.read_bytes()
    cfg = TrainConfig(dataset=str(data), split="by_field", split_field="customer")
    with pytest.raises(DataError, match=r"g\.jsonl, line 7: no value in field 'customer'"):
        training_splits(cfg)
    assert data.read_bytes() == before  # the user's file is untouched


def test_by_field_refuses_one_group_and_a_missing_split_field(tmp_path):
    from workbench.errors import ConfigError, DataError

    data = _grouped(tmp_path / "g.jsonl", customers=1)
    with pytest.raises(DataError, match="all 5 rows belong to one group"):
        training_splits(TrainConfig(dataset=str(data), split="by_field", split_field="customer"))
    with pytest.raises(ConfigError, match="split_field"):
        TrainConfig(dataset=str(data), split="by_field")
    with pytest.raises(ConfigError, match="split_field"):
        TrainConfig(dataset=str(data), split_field="customer")  # a column without the split


def test_by_field_needs_a_file_to_read_the_column_from():
    from workbench.data.dataset import ChatDataset, Provenance
    from workbench.errors import DataError

    conv = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}]
    ds = ChatDataset(conversations=[conv, conv], provenance=Provenance("<conversations>", "chat"))
    with pytest.raises(DataError, match="not a data file"):
        resolve_splits(ds, carve=True, split="by_field", split_field="customer")


def test_eval_dataset_none_means_no_eval_split_and_survives_the_saved_config(tmp_path):
    """`eval_dataset: none` (YAML, papermill, CLI) holds nothing out; it was coerced to None
    ("decide by the rule"), so 10% were carved anyway, and the empty eval split then failed."""
    data = _chats(tmp_path / "d.jsonl", 20)
    cfg = TrainConfig(dataset=str(data), eval_dataset="none", run_dir=str(tmp_path / "run"))
    assert cfg.eval_dataset == "none"
    splits = training_splits(cfg)
    assert len(splits.train) == 20 and len(splits.eval) == 0
    cfg.save(cfg.run_dir)
    assert TrainConfig.load(cfg.run_dir).eval_dataset == "none"
    assert TrainConfig(eval_dataset=None).eval_dataset is None  # not given: the rule decides
    assert len(training_splits(cfg.replace(eval_dataset=None)).eval) == 2
