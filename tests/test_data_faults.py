"""Loader messages for broken files: unclosed CSV quotes, special paths, compressed bytes, CR endings."""

from __future__ import annotations

import gzip
import json
import os
import zipfile
from pathlib import Path

import pytest

from workbench.data.dataset import load_dataset
from workbench.errors import DataError


def conv(user: str, answer: str) -> list[dict]:
    return [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# -- (a) unclosed CSV quotes ---------------------------------------------------------------------


def test_unclosed_quote_to_end_of_file_names_its_line_and_keeps_the_next_rows(tmp_path):
    text = b'instruction,input,output\nAdd,"2 and 3,5\nGreet,,Hello\nSay hi,,Hi\n'
    path = write(tmp_path / "a.csv", text)
    ds = load_dataset(path)
    assert [(p.line, p.field) for p in ds.problems] == [(2, None)]
    problem = ds.problems[0]
    assert "unclosed quote" in problem.message and "end of the file" in problem.message
    assert "Close the quote" in problem.hint
    assert list(ds) == [conv("Greet", "Hello"), conv("Say hi", "Hi")]
    assert ds.row_ids == [3, 4]
    assert path.read_bytes() == text  # never modified


def test_unclosed_quote_closed_by_a_later_stray_quote(tmp_path):
    text = 'instruction,input,output\nAdd,"2 and 3,5\nGreet,,Hello\nSay hi,,"Hi"\nBye,,Bye\n'
    ds = load_dataset(write(tmp_path / "b.csv", text.encode()))
    assert [p.line for p in ds.problems] == [2]
    assert "unclosed quote" in ds.problems[0].message and "3-4" in ds.problems[0].message
    assert list(ds) == [conv("Greet", "Hello"), conv("Say hi", "Hi"), conv("Bye", "Bye")]
    assert ds.row_ids == [3, 4, 5]


def test_unclosed_quote_on_the_last_line_and_in_tsv(tmp_path):
    ds = load_dataset(write(tmp_path / "c.csv", b'prompt,completion\nQ,A\nBye,"Bye'))
    assert list(ds) == [conv("Q", "A")]
    assert [p.line for p in ds.problems] == [3] and "unclosed quote" in ds.problems[0].message
    ds = load_dataset(write(tmp_path / "d.tsv", b'prompt\tcompletion\n"Q\tA\nQ2\tA2\n'))
    assert list(ds) == [conv("Q2", "A2")] and [p.line for p in ds.problems] == [2]


def test_legit_multiline_cells_are_not_called_unclosed(tmp_path):
    text = 'prompt,completion\n"Steps:\n1, then 2",done\nQ,"A\nwith, a comma"\n'
    ds = load_dataset(write(tmp_path / "e.csv", text.encode()))
    assert ds.problems == []
    assert list(ds) == [conv("Steps:\n1, then 2", "done"), conv("Q", "A\nwith, a comma")]
    assert ds.row_ids == [3, 5]


def test_unclosed_quote_in_the_header_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match=r"line 1: .*unclosed quote"):
        load_dataset(write(tmp_path / "h.csv", b'prompt,"completion\nQ,A\n'))


# -- (b) symlink loops, FIFOs, dangling links ----------------------------------------------------


def test_symlink_loop_is_named_as_such(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    os.symlink(b, a)
    os.symlink(a, b)
    with pytest.raises(DataError, match="symlink loop") as info:
        load_dataset(a)
    assert str(a) in str(info.value) and "no such file" not in str(info.value)


def test_dangling_symlink_says_where_it_points(tmp_path):
    link = tmp_path / "data.jsonl"
    os.symlink(tmp_path / "gone.jsonl", link)
    with pytest.raises(DataError, match="broken symlink.*gone.jsonl"):
        load_dataset(link)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_fifo_is_not_a_regular_file_and_is_not_opened(tmp_path):
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="not a regular file.*FIFO") as info:
        load_dataset(fifo)  # opening a FIFO would block forever: it must not be opened
    assert str(fifo) in str(info.value)


def test_character_device_is_not_a_regular_file():
    if not Path("/dev/null").exists():
        pytest.skip("no /dev/null")
    with pytest.raises(DataError, match="not a regular file.*character device"):
        load_dataset("/dev/null")


# -- (c) compressed or foreign bytes behind a text suffix ----------------------------------------

ROWS = b'{"text": "a"}\n{"text": "b"}\n'


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv", ".tsv"])
def test_gzip_bytes_under_a_text_name_get_a_decompress_hint(tmp_path, suffix):
    path = write(tmp_path / f"data{suffix}", gzip.compress(ROWS))
    with pytest.raises(DataError, match="gzip-compressed; decompress it") as info:
        load_dataset(path)
    assert str(path) in str(info.value)


def test_zip_and_parquet_bytes_under_a_text_name(tmp_path):
    path = tmp_path / "data.csv"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("data.csv", "prompt,completion\nQ,A\n")
    with pytest.raises(DataError, match="zip archive"):
        load_dataset(path)
    with pytest.raises(DataError, match=r"Parquet file.*\.parquet"):
        load_dataset(write(tmp_path / "p.jsonl", b"PAR1" + b"\0" * 40 + b"PAR1"))


def test_gz_suffix_says_decompress_first(tmp_path):
    path = write(tmp_path / "data.jsonl.gz", gzip.compress(ROWS))
    with pytest.raises(DataError, match="compressed.*decompress it first"):
        load_dataset(path)


# -- (d) old-Mac CR-only line endings ------------------------------------------------------------


def test_cr_only_jsonl_loads_line_by_line(tmp_path):
    rows = [json.dumps({"prompt": f"Q{i}", "completion": f"A{i}"}) for i in range(3)]
    path = write(tmp_path / "mac.jsonl", "\r".join(rows).encode() + b"\r")
    ds = load_dataset(path)
    assert ds.problems == [] and list(ds) == [conv(f"Q{i}", f"A{i}") for i in range(3)]
    assert ds.row_ids == [1, 2, 3]
    bad = write(tmp_path / "mac2.jsonl", f"{rows[0]}\r{{broken\r{rows[2]}\r".encode())
    assert [p.line for p in load_dataset(bad).problems] == [2]


def test_cr_only_csv_and_json_load(tmp_path):
    ds = load_dataset(write(tmp_path / "mac.csv", b'prompt,completion\rQ,"A\rB"\rQ2,A2\r'))
    assert list(ds) == [conv("Q", "A\rB"), conv("Q2", "A2")]
    doc = b'[{"prompt": "Q",\r "completion": "A"}]\r'
    assert list(load_dataset(write(tmp_path / "mac.json", doc))) == [conv("Q", "A")]
