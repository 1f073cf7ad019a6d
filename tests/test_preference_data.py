"""Preference pairs: every layout normalises to (prompt, chosen, rejected); bad rows name their line and field."""

from __future__ import annotations

import json

import pytest

from workbench.comparison.metrics import style_metrics
from workbench.data.dataset import SAMPLES_DIR
from workbench.data.preferences import load_preferences
from workbench.errors import DataError

USER = {"role": "user", "content": "Where is my parcel?"}


def write(tmp_path, rows, name="pairs.jsonl"):
    path = tmp_path / name
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_prompt_chosen_rejected_as_strings_or_message_lists():
    rows = [
        {"prompt": "Where is my parcel?", "chosen": "On its way.", "rejected": "No idea."},
        {
            "prompt": [USER],
            "chosen": [{"role": "assistant", "content": "On its way."}],
            "rejected": [{"role": "assistant", "content": "No idea."}],
            "system": "Be kind.",
        },
    ]
    ds = load_preferences(rows)
    assert ds.provenance.format == "pairs" and len(ds) == 2 and ds.problems == []
    assert ds[0].prompt == [USER] and (ds[0].chosen, ds[0].rejected) == ("On its way.", "No idea.")
    assert ds[1].prompt == [{"role": "system", "content": "Be kind."}, USER]


def test_chat_pairs_keep_the_shared_history():
    history = [
        USER,
        {"role": "assistant", "content": "Which order?"},
        {"role": "user", "content": "BS-1"},
    ]
    ds = load_preferences([{"messages": history, "chosen": "Found it.", "rejected": "Dunno."}])
    assert ds.provenance.format == "chat_pairs" and ds[0].prompt == history


def test_ultrafeedback_style_conversations_split_at_the_last_answer():
    row = {
        "prompt": "Where is my parcel?",
        "chosen": [USER, {"role": "assistant", "content": "On its way."}],
        "rejected": [USER, {"role": "assistant", "content": "No idea."}],
        "score_chosen": 8.0,
        "score_rejected": 3.0,
    }
    ds = load_preferences([row])
    assert ds.provenance.format == "conversations"
    assert ds[0].prompt == [USER] and ds[0].chosen == "On its way." and ds[0].rejected == "No idea."


def test_hh_transcripts_split_at_the_last_assistant_turn():
    shared = "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Where is my parcel?"
    ds = load_preferences(
        [
            {
                "chosen": shared + "\n\nAssistant: On its way.",
                "rejected": shared + "\n\nAssistant: No.",
            }
        ]
    )
    assert ds.provenance.format == "hh"
    assert [m["role"] for m in ds[0].prompt] == ["user", "assistant", "user"]
    assert ds[0].prompt[-1]["content"] == "Where is my parcel?"
    assert (ds[0].chosen, ds[0].rejected) == ("On its way.", "No.")


def test_bad_rows_are_reported_with_line_and_field(tmp_path):
    good = {"prompt": "Hi", "chosen": "Hello!", "rejected": "What."}
    path = write(
        tmp_path,
        [
            good,
            {"prompt": "Hi", "chosen": "Hello!"},  # 2: no rejected
            {
                "prompt": "Hi",
                "chosen": [USER, {"role": "assistant", "content": "x"}],
                "rejected": "y",
            },
            '{"prompt": "Hi", "chosen": ',  # 4: broken JSON
            {
                "prompt": [USER, {"role": "assistant", "content": "x"}],
                "chosen": "a",
                "rejected": "b",
            },
            good,
        ],
    )
    ds = load_preferences(path, format="pairs")
    assert len(ds) == 2 and ds.row_ids == [1, 6]
    assert [(p.line, p.field) for p in ds.problems] == [
        (2, "rejected"),
        (3, "chosen"),
        (4, None),
        (5, "prompt"),
    ]
    assert "one assistant message" in ds.problems[1].message
    assert "end with a user turn" in ds.problems[3].message
    with pytest.raises(DataError, match=r"pairs\.jsonl, line 2, field 'rejected'"):
        load_preferences(path, format="pairs", on_error="raise")


def test_hh_pair_whose_histories_differ_is_refused(tmp_path):
    path = write(
        tmp_path,
        [
            {"chosen": "\n\nHuman: A\n\nAssistant: x", "rejected": "\n\nHuman: A\n\nAssistant: y"},
            {"chosen": "\n\nHuman: A\n\nAssistant: x", "rejected": "\n\nHuman: B\n\nAssistant: y"},
            {"chosen": "\n\nHuman: A", "rejected": "\n\nHuman: A"},
        ],
    )
    ds = load_preferences(path)
    assert ds.provenance.format == "hh" and len(ds) == 1
    assert [(p.line, p.field) for p in ds.problems] == [(2, "rejected"), (3, "chosen")]
    assert "differ before their last assistant turn" in ds.problems[0].message


def test_a_file_that_is_not_pairs_names_its_fields(tmp_path):
    path = write(tmp_path, [{"messages": [USER, {"role": "assistant", "content": "x"}]}])
    with pytest.raises(DataError, match="not a preference layout.*messages"):
        load_preferences(path)


def test_support_tone_pairs_sample_chosen_on_brand_rejected_breaks_one_rule():
    style = json.loads((SAMPLES_DIR / "support-tone-pairs" / "style.json").read_text())
    checks = style_metrics(style)
    train, evals = (
        load_preferences("support-tone-pairs"),
        load_preferences("support-tone-pairs", split="eval"),
    )
    assert (len(train), len(evals)) == (300, 40) and train.problems == evals.problems == []
    for pair in [*train.pairs, *evals.pairs]:
        chosen = [fn(pair.chosen, "") for fn in checks.values()]
        rejected = [fn(pair.rejected, "") for fn in checks.values()]
        assert all(v == 1.0 for v in chosen), pair.chosen
        assert sum(v != 1.0 for v in rejected) >= 1, pair.rejected
    train_prompts = {p.prompt[-1]["content"] for p in train.pairs}
    assert not any(p.prompt[-1]["content"] in train_prompts for p in evals.pairs)  # held out


def test_the_sft_loader_points_pair_files_to_dpo():
    from workbench.data.dataset import load_dataset

    with pytest.raises(DataError, match="preference pairs.*objective='dpo'"):
        load_dataset("support-tone-pairs")
