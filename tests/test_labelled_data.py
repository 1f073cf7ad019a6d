"""Labelled texts for classification: every source format, label sets, and errors that name the row."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from workbench.data.dataset import SAMPLES_DIR, list_samples
from workbench.data.labelled import LabelledDataset, is_labelled, load_labelled
from workbench.errors import DataError

ROWS = [
    {"text": "I was charged twice", "label": "billing"},
    {"text": "Where is my parcel?", "label": "shipping"},
    {"text": "Refund me please", "label": "billing"},
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv", ".tsv", ".parquet"])
def test_every_file_format_loads_the_same_rows(tmp_path, suffix):
    path = tmp_path / f"data{suffix}"
    frame = pd.DataFrame(ROWS)
    if suffix == ".jsonl":
        write_jsonl(path, ROWS)
    elif suffix == ".json":
        path.write_text(json.dumps(ROWS), encoding="utf-8")
    elif suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")
    before = path.read_bytes()
    ds = load_labelled(path)
    assert ds.texts == [r["text"] for r in ROWS] and ds.labels == ["billing", "shipping", "billing"]
    assert ds.label_names == ["billing", "shipping"] and ds.label_ids() == [0, 1, 0]
    assert ds.provenance.format == "labelled" and ds.provenance.sha256 and ds.problems == []
    assert path.read_bytes() == before  # the loader only reads
    assert is_labelled(path)


def test_dataframe_list_and_dataset_with_other_column_names():
    frame = pd.DataFrame({"sentence": ["a b", "c d"], "intent": ["x", "y"], "id": [1, 2]})
    ds = load_labelled(frame)
    assert (
        ds.texts == ["a b", "c d"]
        and ds.labels == ["x", "y"]
        and ds.provenance.source == "<DataFrame>"
    )
    named = load_labelled(
        [{"body": "a b", "tag": "x"}, {"body": "c", "tag": "y"}],
        text_field="body",
        label_field="tag",
    )
    assert named.labels == ["x", "y"]
    assert load_labelled(ds) is ds
    assert is_labelled(frame) and is_labelled(ds)


def test_integer_labels_map_to_names_or_become_their_string():
    rows = [{"text": f"t{i}", "label": i % 3} for i in range(6)]
    plain = load_labelled(rows)
    assert plain.labels[:3] == ["0", "1", "2"] and plain.label_names == ["0", "1", "2"]
    named = load_labelled(rows, labels=["neg", "neu", "pos"])
    assert named.labels[:3] == ["neg", "neu", "pos"] and named.label_names == ["neg", "neu", "pos"]
    assert load_labelled(rows, labels="neg, neu, pos").labels == named.labels
    many = load_labelled([{"text": f"t{i}", "label": i} for i in (2, 10, 1)])
    assert many.label_names == ["1", "2", "10"]  # numeric order, not "10" < "2"
    relabelled = load_labelled(plain, labels=["neg", "neu", "pos"])
    assert relabelled.labels == named.labels and relabelled.label_ids() == named.label_ids()


def test_label_set_order_is_kept_and_unknown_labels_name_file_line_field(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [*ROWS, {"text": "hello", "label": "greeting"}])
    ds = load_labelled(path, labels=["shipping", "billing"])
    assert ds.label_names == ["shipping", "billing"] and ds.label_ids() == [1, 0, 1]
    (problem,) = ds.problems
    assert problem.line == 4 and problem.field == "label"
    message = str(problem)
    assert str(path) in message and "line 4" in message and "'greeting'" in message
    assert "shipping, billing" in message and "labels=" in message
    index = load_labelled(
        [{"text": "a", "label": 0}, {"text": "b", "label": 1}, {"text": "c", "label": 5}],
        labels=["x", "y"],
    )
    assert index.labels == ["x", "y"] and "out of range" in index.problems[0].message


def test_empty_texts_and_labels_are_problems_not_crashes(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\nhello,a\n,b\nbye,\nagain,b\n", encoding="utf-8")
    ds = load_labelled(path)
    assert ds.texts == ["hello", "again"] and ds.row_ids == [2, 5]
    assert [(p.line, p.field) for p in ds.problems] == [(3, "text"), (4, "label")]


def test_missing_column_lists_the_columns_found(tmp_path):
    path = write_jsonl(
        tmp_path / "d.jsonl", [{"body": "x", "label": "a"}, {"body": "y", "label": "b"}]
    )
    with pytest.raises(DataError) as exc:
        load_labelled(path)
    message = str(exc.value)
    assert str(path) in message and "body, label" in message and "text_field=" in message
    with pytest.raises(DataError, match="the column 'kind'"):
        load_labelled(path, text_field="body", label_field="kind")
    assert not is_labelled(path)


def test_empty_file_no_valid_row_and_a_single_class_raise(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="empty"):
        load_labelled(empty)
    blank = write_jsonl(
        tmp_path / "blank.jsonl", [{"text": "", "label": "a"}, {"text": "b", "label": ""}]
    )
    with pytest.raises(DataError, match="none of the 2 row") as exc:
        load_labelled(blank)
    assert "text column 'text'" in str(exc.value) and str(blank) in str(exc.value)
    one = write_jsonl(
        tmp_path / "one.jsonl", [{"text": "a", "label": "x"}, {"text": "b", "label": "x"}]
    )
    with pytest.raises(DataError, match="at least two classes"):
        load_labelled(one)
    with pytest.raises(DataError, match="at least two"):
        load_labelled(ROWS, labels=["billing"])


def test_select_head_fingerprint_and_records():
    ds = load_labelled(ROWS, labels=["billing", "shipping", "account"])
    sub = ds.select([1])
    assert sub.labels == ["shipping"] and sub.label_names == ds.label_names and sub.row_ids == [2]
    assert ds.head(2).texts == ds.texts[:2] and ds.head(None) is ds and len(ds.head(10)) == 3
    assert ds.to_records()[0] == {"text": "I was charged twice", "label": "billing"}
    assert (
        ds.fingerprint()
        == load_labelled(ROWS, labels=["billing", "shipping", "account"]).fingerprint()
    )
    assert ds.fingerprint() != load_labelled(ROWS).fingerprint()  # the label set is part of it
    assert ds.label_counts() == {"billing": 2, "shipping": 1, "account": 0}
    assert isinstance(sub, LabelledDataset)


def test_chat_and_pair_rows_are_not_labelled():
    assert not is_labelled([{"messages": [{"role": "user", "content": "hi"}], "label": "x"}])
    assert not is_labelled([{"prompt": "p", "completion": "c", "label": True}])
    assert not is_labelled("no-such-sample")


def test_the_support_intent_sample_loads_both_splits_with_one_label_set():
    train, eval_ = load_labelled("support-intent"), load_labelled("support-intent", split="eval")
    assert (len(train), len(eval_)) == (800, 200) and train.problems == eval_.problems == []
    names = json.loads((SAMPLES_DIR / "support-intent" / "labels.json").read_text())
    assert train.label_names == eval_.label_names == names and len(names) == 8
    assert (train.provenance.sample, eval_.provenance.split) == ("support-intent", "eval")
    counts = sorted(train.label_counts().values())
    assert counts[-1] / len(train) == pytest.approx(0.30) and counts[0] / len(train) < 0.04
    assert not set(train.texts) & set(eval_.texts)
    assert "support-intent" in list_samples() and is_labelled("support-intent")
    assert not is_labelled("support-tone") and not is_labelled("support-tone-pairs")


def test_with_the_label_set_given_rows_of_one_class_load(tmp_path):
    """A small held-out file may hold one class only; the label set says what else there is."""
    one = write_jsonl(
        tmp_path / "one.jsonl", [{"text": "a", "label": "x"}, {"text": "b", "label": "x"}]
    )
    ds = load_labelled(one, labels=["x", "y"])
    assert ds.labels == ["x", "x"] and ds.label_names == ["x", "y"]
    assert ds.label_counts() == {"x": 2, "y": 0}
