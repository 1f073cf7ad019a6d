"""Read raw rows from files and in-memory tables, each with its 1-based line (or row) number.

A row that cannot even be parsed (bad bytes, broken JSON, a CSV error) comes through as a BadRow
so the loader can report it in place; a source that cannot be read at all raises DataError.
Files are opened for reading only.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import os
import stat
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
COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip")
DECOMPRESS = (
    "decompress it first (gunzip data.jsonl.gz gives data.jsonl); compressed files are not read"
)
# (leading bytes, what the file really is, what to do): bytes that no text file starts with
MAGIC = (
    (b"\x1f\x8b", "gzip-compressed", DECOMPRESS),
    (b"\xfd7zXZ\x00", "xz-compressed", DECOMPRESS),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed", DECOMPRESS),
    (
        b"PK\x03\x04",
        "a zip archive (an .xlsx workbook is one too)",
        "unzip it, or export the sheet as CSV",
    ),
    (b"PAR1", "a Parquet file", "rename it to .parquet"),
)
MAX_QUOTE_REREADS = (
    1000  # rows re-read after unclosed quotes; bounds the cost of a pathological file
)


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
    if kind is None and path.suffix.lower() in COMPRESSED:
        raise DataError(f"{label}: this file is compressed; {DECOMPRESS}.")
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
    _check_magic(data, label)
    if not data.strip():
        raise DataError(f"{label}: the file is empty.")
    readers = {"jsonl": _jsonl_rows, "json": _json_rows, "csv": _csv_rows, "tsv": _tsv_rows}
    return Source(label, readers[kind](data, label), sha256=hashlib.sha256(data).hexdigest())


def check_path(path: Path) -> None:
    """DataError for a path that exists but is no regular file or folder; never opens it.

    A FIFO or a device would block or stream forever if opened, and "no such file" would mislead.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DataError(
                f"{path}: is a symlink loop (the links point at each other and never reach a "
                "file). Point the link at the real data file."
            ) from None
        if os.path.islink(path):
            raise DataError(
                f"{path}: is a broken symlink: it points to {os.readlink(path)}, which does not "
                "exist. Fix the link or pass the real file."
            ) from None
        return  # nothing there: the caller says so
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return
    what = next((name for test, name in _SPECIAL if test(mode)), "special file")
    raise DataError(
        f"{path}: not a regular file: it is a {what}. Copy the data into a regular file "
        "(.jsonl, .json, .csv, .tsv, .parquet) and load that."
    )


_SPECIAL = (
    (stat.S_ISFIFO, "FIFO (named pipe)"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISSOCK, "socket"),
)


def _check_magic(data: bytes, label: str) -> None:
    for magic, what, todo in MAGIC:
        if data.startswith(magic):
            raise DataError(f"{label}: this file is {what}; {todo}.")


def _jsonl_rows(data: bytes, label: str) -> Iterator[tuple[int, Any]]:
    # splitlines: \n, \r\n and old-Mac \r all end a line (a raw CR is never valid inside JSON)
    for line, raw in enumerate(data.splitlines(), 1):
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
    """CSV rows keyed by the header; the line is where the record ends (records may span lines).

    A record swallowed by an unclosed quote is reported on the line where the quote opened, and
    the lines after that one are read again as rows of their own.
    """
    # Undecodable bytes survive as lone surrogates, which the format check reports per row.
    text = data.decode("utf-8", errors="surrogateescape").lstrip("\ufeff")
    lines = io.StringIO(text, newline="").readlines()  # \n, \r\n and old-Mac \r all end a line
    header: list[str] | None = None
    resume: int | None = 0
    rereads = 0
    while resume is not None:
        records, resume = _csv_records(lines, resume, delimiter), None
        for first, last, fields in records:
            if isinstance(fields, csv.Error):
                yield first, _csv_error(fields, first, last)
            elif fields and header is None:
                header = _csv_header(lines, first, last, fields, label, delimiter)
            elif fields:
                why = _unclosed_quote(lines, first, last, (len(fields), len(header)), delimiter)
                if why is None:
                    yield last, _keyed(header, fields)
                    continue
                yield first, _unclosed_row(why, reread=last > first)
                if last > first and rereads < MAX_QUOTE_REREADS:
                    resume, rereads = first, rereads + 1  # read the swallowed lines again
                    break


def _csv_records(lines: list[str], start: int, delimiter: str) -> Iterator[tuple[int, int, Any]]:
    """(first line, last line, fields or csv.Error) of each record in lines[start:], 1-based."""
    pos = start

    def feed() -> Iterator[str]:
        nonlocal pos
        while pos < len(lines):
            pos += 1  # the reader asks for one line at a time: pos is exact even mid-record
            yield lines[pos - 1]

    reader = csv.reader(feed(), delimiter=delimiter)
    while True:
        first = pos + 1
        try:
            fields: Any = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            fields = exc
        yield first, pos, fields


def _csv_header(
    lines: list[str], first: int, last: int, fields: list[str], label: str, delimiter: str
) -> list[str]:
    if last > first or _ends_inside_quotes(lines[first - 1], delimiter):
        where = f"it runs on to line {last}" if last > first else "the file ends inside it"
        raise DataError(
            f"{label}, line {first}: unclosed quote in the header row ({where}). Close the "
            'quote or remove it; a quote inside a column name is written as two quotes ("").'
        )
    return fields


def _unclosed_quote(
    lines: list[str], first: int, last: int, cells: tuple[int, int], delimiter: str
) -> str | None:
    """Why the record on lines first..last looks swallowed by an unclosed quote, or None.

    cells: (cells in this record, columns in the header). Either the file ends inside a quoted
    cell, or the record spans lines, has the wrong number of cells, and one of the lines it
    swallowed alone reads as a complete row. A quoted cell that legitimately holds
    line breaks passes both tests.
    """
    record = "".join(lines[first - 1 : last])
    if '"' not in record:
        return None
    span = f"line {last}" if last == first + 1 else f"lines {first + 1}-{last}"
    if last == len(lines) and _ends_inside_quotes(record, delimiter):
        return "it runs to the end of the file" + (f", swallowing {span}" if last > first else "")
    found, ncols = cells
    if last > first and found != ncols:
        if any(len(_cells(line, delimiter)) == ncols for line in lines[first:last][:50]):
            return f"it swallowed {span}"
    return None


def _unclosed_row(why: str, *, reread: bool) -> BadRow:
    hint = 'Close the quote, or write a quote inside a cell as two quotes ("").'
    if reread:
        hint += " The lines after this one were read again as rows of their own."
    return BadRow(
        f"unclosed quote: a quoted cell opens on this line and never closes; {why}.", hint
    )


def _ends_inside_quotes(record: str, delimiter: str) -> bool:
    """Whether the file ends inside a quoted cell (what strict mode calls "unexpected end of data")."""
    try:
        for _ in csv.reader(io.StringIO(record, newline=""), delimiter=delimiter, strict=True):
            pass
    except csv.Error as exc:
        return "end of data" in str(exc)
    return False


def _cells(text: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
    except csv.Error:
        return []


def _csv_error(exc: csv.Error, first: int, last: int) -> BadRow:
    spans = (
        f" The record starting here runs on to line {last}: an unclosed quote is the usual cause."
        if last > first
        else ""
    )
    return BadRow(
        f"not valid CSV: {exc}.{spans}",
        "Check the quoting on this line; a cell may hold at most 128 KiB.",
    )


def _keyed(header: list[str], fields: list[str]) -> dict[str, Any] | BadRow:
    """One row as {column: value}, missing trailing cells None (as csv.DictReader does)."""
    if len(fields) > len(header):
        return BadRow(
            f"{len(fields) - len(header)} more value(s) than header columns.",
            "Quote cells that contain the delimiter.",
        )
    return dict(zip(header, fields + [None] * (len(header) - len(fields)), strict=True))


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
