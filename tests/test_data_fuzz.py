"""Fuzz the loader: whatever the bytes or values, it returns a ChatDataset or raises DataError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.data.dataset import ChatDataset, load_dataset
from workbench.errors import DataError

FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SUFFIXES = [".jsonl", ".json", ".csv", ".tsv", ".parquet"]
GOOD = [
    {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]},
    {"instruction": "Add", "input": "2 and 3", "output": "5"},
    {"conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]},
    {"prompt": "Q", "completion": "A"},
    {"text": "plain"},
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "messages",
                    "role",
                    "content",
                    "text",
                    "from",
                    "value",
                    "prompt",
                    "completion",
                    "instruction",
                    "output",
                    "input",
                    "system",
                    "conversations",
                    "x",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


def load_or_data_error(source, **kwargs) -> ChatDataset | None:
    """The property: a ChatDataset (only good rows) or DataError; anything else fails the test."""
    try:
        ds = load_dataset(source, **kwargs)
    except DataError as exc:
        assert str(exc), "a DataError must say what went wrong"
        return None
    assert isinstance(ds, ChatDataset) and len(ds) == ds.provenance.rows_loaded > 0
    for conv in ds:
        assert conv and all(
            m["role"] in ("system", "user", "assistant") and isinstance(m["content"], str)
            for m in conv
        )
    return ds


@FUZZ
@given(data=st.binary(max_size=600), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes(tmp_path: Path, data: bytes, suffix: str):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(data)
    load_or_data_error(path)
    assert path.read_bytes() == data  # never modified


@FUZZ
@given(
    row=st.sampled_from(GOOD),
    cut=st.integers(min_value=0, max_value=200),
    suffix=st.sampled_from([".jsonl", ".json"]),
    wrap=st.booleans(),
)
def test_truncated_json(tmp_path: Path, row: dict, cut: int, suffix: str, wrap: bool):
    text = json.dumps([row, row]) if wrap else json.dumps(row) + "\n" + json.dumps(row)
    path = tmp_path / f"cut{suffix}"
    path.write_text(text[: cut % (len(text) + 1)])
    load_or_data_error(path)


@FUZZ
@given(
    rows=st.lists(json_values, min_size=0, max_size=6),
    fmt=st.sampled_from(["auto", "chat", "alpaca", "prompt_completion", "sharegpt", "text"]),
)
def test_wrong_types_in_memory_and_on_disk(tmp_path: Path, rows: list, fmt: str):
    load_or_data_error(rows, format=fmt)
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    load_or_data_error(path, format=fmt)


@FUZZ
@given(
    junk=st.binary(min_size=1, max_size=8).filter(lambda b: _not_utf8(b)),
    where=st.integers(0, 60),
    suffix=st.sampled_from([".jsonl", ".json", ".csv"]),
)
def test_non_utf8_bytes_inside_good_rows(tmp_path: Path, junk: bytes, where: int, suffix: str):
    good = {
        ".jsonl": b'{"text": "hello there"}\n{"text": "second row"}\n',
        ".json": b'[{"text": "hello there"}, {"text": "second row"}]',
        ".csv": b"prompt,completion\nhello there,general kenobi\nsecond,row\n",
    }[suffix]
    pos = where % len(good)
    path = tmp_path / f"bytes{suffix}"
    path.write_bytes(good[:pos] + junk + good[pos:])
    ds = load_or_data_error(path)
    if ds is not None:
        assert all("\udc80" > ch or ch > "\udcff" for c in ds for m in c for ch in m["content"])


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_huge_fields(tmp_path: Path, suffix: str):
    huge = "x" * 1_200_000
    path = tmp_path / f"huge{suffix}"
    if suffix == ".jsonl":
        path.write_text(json.dumps({"text": huge}) + "\n" + json.dumps({"text": "ok"}) + "\n")
    else:
        path.write_text(f"text\n{huge}\nok\n")
    ds = load_or_data_error(path)
    assert (
        ds is not None and len(ds) == 1 and ds.problems[0].line == (1 if suffix == ".jsonl" else 2)
    )


def test_deep_nesting_and_giant_numbers(tmp_path: Path):
    path = tmp_path / "deep.jsonl"
    path.write_text("[" * 100_000 + "\n" + "1" * 10_000 + "\n" + json.dumps(GOOD[0]) + "\n")
    ds = load_or_data_error(path)
    assert ds is not None and [p.line for p in ds.problems] == [1, 2]


def _not_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False
