"""Read raw rows from files and in-memory tables, each with its 1-based line (or row) number.

A row that cannot even be parsed (bad bytes, broken JSON, a CSV error) comes through as a BadRow
so the loader can report it in place; a source that cannot be read at all raises DataError.
Files are opened for reading only.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError

SUFFIXES = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
UTF8_HINT = "Re-save the file as UTF-8 (most editors and pandas' to_csv(encoding='utf-8') do)."


@dataclass
class BadRow:
    """A row that could not be parsed; the loader turns it into a LoadProblem."""

    message: str
    hint: str = ""


@dataclass
class Source:
    """Rows to load plus what provenance needs to know about where they came from."""

    label: str  # absolute path or a description such as "<DataFrame>"
    rows: Iterable[tuple[int, Any]]  # (line or row number, row dict | anything | BadRow)
    sha256: str | None = None
    sample: str | None = None
    split: str | None = None


# -- files ---------------------------------------------------------------------------------------


def open_file(path: Path) -> Source:
    """Read a file's bytes once (for the hash) and iterate its rows by suffix."""
    path = path.resolve()
    label = str(path)
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DataError(
            f"{label}: unsupported file type {path.suffix!r}. Use one of: {', '.join(SUFFIXES)}."
        )
    if kind == "parquet":
        return Source(label, _parquet_rows(path), sha256=_file_hash(path))
    try:
        with open(path, "rb") as f:  # read-only, always
            data = f.read()
    except OSError as exc:
        raise DataError(f"{label}: cannot read the file ({exc.strerror or exc}).") from exc
    if not data.strip():
        raise DataError(f"{label}: the file is empty.")
    readers = {"jsonl": _jsonl_rows, "json": _json_rows, "csv": _csv_rows, "tsv": _tsv_rows}
    return Source(label, readers[kind](data, label), sha256=hashlib.sha256(data).hexdigest())


def _jsonl_rows(data: bytes, label: str) -> Iterator[tuple[int, Any]]:
    for line, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield (
                line,
                BadRow(
                    f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}).",
                    UTF8_HINT,
                ),
            )
            continue
        yield line, _parse_json_line(text.lstrip("\ufeff") if line == 1 else text)


def _parse_json_line(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        return BadRow(
            f"not valid JSON: {exc.msg} (column {exc.colno}).",
            "Each line must hold one complete JSON object; this one may be truncated or split.",
        )
    except (ValueError, RecursionError) as exc:  # e.g. a 5000-digit number, nesting too deep
        return BadRow(f"not valid JSON: {type(exc).__name__}: {str(exc)[:200]}.")


def _json_rows(data: bytes, label: str) -> Iterator[tuple[int, Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(f"{label}, line {line}: not valid UTF-8. {UTF8_HINT}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # one object per line saved as .json: read it as JSONL
            return _jsonl_rows(data, label)
        raise DataError(
            f"{label}, line {exc.lineno}: not valid JSON ({exc.msg}, column {exc.colno}). "
            'The file may be truncated; a .json file must hold one list of rows or {"data": [...]}.'
        ) from None
    except (ValueError, RecursionError) as exc:
        raise DataError(
            f"{label}: not valid JSON ({type(exc).__name__}: {str(exc)[:200]})."
        ) from None
    if isinstance(doc, Mapping) and isinstance(doc.get("data"), list):
        doc = doc["data"]
    if not isinstance(doc, list):
        keys = (
            f" with keys {', '.join(map(str, list(doc)[:10]))}" if isinstance(doc, Mapping) else ""
        )
        raise DataError(
            f'{label}: expected a list of rows or {{"data": [...]}}, got a JSON {type(doc).__name__}{keys}.'
        )
    return enumerate(doc, 1)


def _tsv_rows(data: bytes, label: str) -> Iterator[tuple[int, Any]]:
    return _csv_rows(data, label, delimiter="\t")


def _csv_rows(data: bytes, label: str, delimiter: str = ",") -> Iterator[tuple[int, Any]]:
    """CSV rows keyed by the header; the line is where the record ends (records may span lines)."""
    # Undecodable bytes survive as lone surrogates, which the format check reports per row.
    text = data.decode("utf-8", errors="surrogateescape").lstrip("\ufeff")
    seen = [0]  # lines handed to the csv reader so far: exact even when it raises mid-record

    def lines() -> Iterator[str]:
        for line in io.StringIO(text, newline=""):
            seen[0] += 1
            yield line

    reader = csv.DictReader(lines(), delimiter=delimiter)
    rows = iter(reader)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            hint = "Check the quoting on this line; a cell may hold at most 128 KiB."
            yield seen[0], BadRow(f"not valid CSV: {exc}.", hint)
            continue
        if None in row:
            yield (
                seen[0],
                BadRow(
                    f"{len(row[None])} more value(s) than header columns.",
                    "Quote cells that contain the delimiter.",
                ),
            )
            continue
        yield seen[0], row


def _parquet_rows(path: Path) -> Iterator[tuple[int, Any]]:
    try:
        import pyarrow.parquet as pq

        table = pq.read_table(path)
    except ImportError as exc:
        raise DataError("Reading Parquet needs pyarrow: pip install pyarrow.") from exc
    except Exception as exc:  # pyarrow raises its own ArrowInvalid/ArrowIOError/OSError family
        raise DataError(
            f"{path}: not a readable Parquet file ({type(exc).__name__}: {str(exc)[:200]})."
        ) from exc
    return enumerate(table.to_pylist(), 1)


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc.strerror or exc}).") from exc
    return h.hexdigest()


# -- in-memory objects ---------------------------------------------------------------------------


def open_object(obj: Any, *, split: str | None) -> Source:
    """A pandas DataFrame, a datasets Dataset/DatasetDict, or a list of dicts."""
    module = type(obj).__module__.split(".")[0]
    name = type(obj).__name__
    if module == "pandas" and name == "DataFrame":
        return Source("<DataFrame>", enumerate(obj.to_dict("records"), 1))
    if module == "datasets" and name in ("DatasetDict", "IterableDatasetDict"):
        key = _pick_split(list(obj.keys()), split)
        return Source(f"<datasets.{name}[{key!r}]>", enumerate(obj[key], 1), split=key)
    if module == "datasets" and name in ("Dataset", "IterableDataset"):
        return Source(f"<datasets.{name}>", enumerate(obj, 1), split=split)
    if isinstance(obj, (list, tuple)):
        return Source(f"<{name}>", enumerate(obj, 1))
    raise DataError(
        f"Cannot load a {module}.{name}: pass a file path, a sample name, a pandas DataFrame, "
        "a datasets.Dataset/DatasetDict or a list of dicts."
    )


def _pick_split(splits: list[str], split: str | None) -> str:
    wanted = split or "train"
    options = {
        "eval": ("eval", "validation", "valid", "test"),
        "validation": ("validation", "eval", "valid"),
    }
    for key in options.get(wanted, (wanted,)):
        if key in splits:
            return key
    if split is None and len(splits) == 1:
        return splits[0]
    raise DataError(
        f"The DatasetDict has no {wanted!r} split. Splits: {', '.join(splits)}. Pass split=."
    )
