"""Pair inspection: identical and empty sides, length bias, truncation, duplicates, contradictions, leakage, PII."""

from __future__ import annotations

from workbench.data.preferences import load_preferences
from workbench.inspection.pairs import inspect_pairs


def pairs(*rows):
    return load_preferences([{"prompt": p, "chosen": c, "rejected": r} for p, c, r in rows])


def test_each_planted_problem_is_found_on_its_line():
    ds = pairs(
        ("Hi", "Hello, how can I help?", "Hello, how can I help?"),  # 1 identical
        ("Hi again", "Hello!", "   "),  # 2 empty rejected
        ("Refund?", "Yes, within 30 days.", "No."),  # 3
        ("Refund?", "Yes, within 30 days.", "No."),  # 4 duplicate of 3
        ("Refund?", "No.", "Yes, within 30 days."),  # 5 contradicts 3
        ("Mail me", "Sure: write to ann@example.com.", "No."),  # 6 PII in chosen
        ("Call me on +44 20 7946 0958", "Will do.", "No."),  # 7 PII in the prompt (reported once)
    )
    report = inspect_pairs(ds)
    found = {(f.row, f.kind, f.field) for f in report.findings}
    assert (1, "identical_sides", "rejected") in found
    assert (2, "empty_side", "rejected") in found
    assert (4, "duplicate", None) in found
    assert (5, "contradiction", "rejected") in found
    assert (6, "pii", "chosen") in found
    assert [f.field for f in report.findings if f.row == 7 and f.kind == "pii"] == [
        "prompt[0].content"
    ]
    assert not any(f.row == 3 for f in report.findings)  # the clean pair has nothing


def test_length_bias_is_a_warning_when_chosen_is_nearly_always_longer():
    long = "Thanks for writing, here is everything you need to know about it."
    biased = pairs(*[(f"Q{i}", long, "Short.") for i in range(10)])
    assert [f.kind for f in inspect_pairs(biased).findings] == ["length_bias"]
    mixed = pairs(*[(f"Q{i}", long, "Short.") for i in range(5)],
                  *[(f"R{i}", "Short.", long) for i in range(5)])  # fmt: skip
    assert inspect_pairs(mixed).findings == []
    assert inspect_pairs(mixed).summary["length_bias"]["chosen_longer_share"] == 0.5


def test_eval_prompts_in_train_are_leaks_and_long_pairs_are_truncated(tiny_model_dir):
    from transformers import AutoTokenizer

    train = pairs(("Where is my parcel?", "On its way.", "No."), ("Hi", "word " * 200, "No."))
    evals = pairs(("Where is my parcel?", "Coming.", "Dunno."))
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    report = inspect_pairs(train, eval_pairs=evals, tokenizer=tok, max_length=64)
    kinds = {(f.row, f.kind) for f in report.findings}
    assert (1, "eval_leak") in kinds and (2, "truncated") in kinds
    assert not any(f.row == 1 and f.kind == "truncated" for f in report.findings)


def test_the_shipped_pair_sample_is_clean():
    train = load_preferences("support-tone-pairs")
    report = inspect_pairs(train, eval_pairs=load_preferences("support-tone-pairs", split="eval"))
    assert report.findings == [], report.kinds()


def test_cli_inspect_routes_pair_files_to_the_pair_checks(tmp_path, capsys):
    import json

    from workbench.cli import main
    from workbench.data.preferences import is_preference_source

    path = tmp_path / "pairs.jsonl"
    rows = [{"prompt": "Hi", "chosen": "Hello!", "rejected": "Hello!"},
            {"prompt": "Bye", "chosen": "Goodbye, take care.", "rejected": "Bye."}]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    chat = tmp_path / "chat.jsonl"
    chat.write_text(json.dumps({"messages": [{"role": "user", "content": "Hi"}]}) + "\n")
    assert is_preference_source(str(path)) and not is_preference_source(str(chat))
    assert main(["inspect", str(path), "--model", "none"]) == 1
    out = capsys.readouterr().out
    assert "2 pairs" in out and "error: line 1: identical_sides" in out
