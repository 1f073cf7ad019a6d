"""Load any supported dataset into one normalised form: a list of chat conversations with provenance.

Sources (sources.py): JSONL, JSON (a list or {"data": [...]}), CSV/TSV, Parquet, a shipped sample
name, a datasets.Dataset / DatasetDict, a pandas DataFrame, a list of dicts, a ChatDataset.
Formats (formats.py): chat, sharegpt, alpaca, prompt_completion, text; detected from the first
rows unless `format=` is given; `columns=` maps field names. A `text` row is a pretraining-style
example and becomes a single assistant turn.

Every bad row becomes a LoadProblem (source, line, field, message, hint): `on_error="report"`
loads the good rows and lists the bad ones, `on_error="raise"` stops at the first. Whatever the
bytes, only DataError escapes. Source files are only ever opened for reading.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..io import write_text_atomic
from .formats import FORMATS, REQUIRED, ROLES, RowError, detect_format, known_fields, normalise
from .sources import BadRow, Source, check_path, open_file, open_object

log = logging.getLogger(__name__)
SAMPLES_DIR = Path(__file__).parent / "samples"
DETECT_ROWS = 20  # the format is detected from this many first readable rows
__all__ = [
    "ROLES",
    "SAMPLES_DIR",
    "ChatDataset",
    "LoadProblem",
    "Provenance",
    "load_dataset",
    "list_samples",
    "sample_path",
    "sample_schema",
    "file_sha256",
]

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": str}
Conversation = list[Message]


@dataclass
class LoadProblem:
    """One bad row: where it is, what is wrong, and what to do about it."""

    source: str  # file path or a description of the in-memory object
    line: int | None  # 1-based line (JSONL, CSV data row + header) or row index for tables
    field: str | None
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = self.source
        if self.line is not None:
            where += f", line {self.line}"
        if self.field:
            where += f", field {self.field!r}"
        text = f"{where}: {self.message}"
        return f"{text} Hint: {self.hint}" if self.hint else text


@dataclass
class Provenance:
    """Where a dataset came from, so a run can be traced back to the exact bytes."""

    source: str  # absolute path, sample name or "<DataFrame>" etc.
    format: str  # chat | alpaca | prompt_completion | sharegpt | text
    sha256: str | None = None  # of the source file's bytes, when there is a file
    rows_read: int = 0
    rows_loaded: int = 0
    sample: str | None = None  # shipped sample name, when loaded by name
    split: str | None = None


@dataclass
class ChatDataset:
    """Normalised conversations. `row_ids[i]` is the source line/row of `conversations[i]`."""

    conversations: list[Conversation]
    provenance: Provenance
    problems: list[LoadProblem] = field(default_factory=list)
    row_ids: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.row_ids:
            self.row_ids = list(range(1, len(self.conversations) + 1))
        if len(self.row_ids) != len(self.conversations):
            raise ValueError("row_ids and conversations must have the same length")

    def __len__(self) -> int:
        return len(self.conversations)

    def __iter__(self) -> Iterator[Conversation]:
        return iter(self.conversations)

    def __getitem__(self, index: int) -> Conversation:
        return self.conversations[index]

    def select(self, indices: Sequence[int]) -> ChatDataset:
        """A new dataset holding only `indices` (positions, not row ids), provenance kept."""
        indices = list(indices)
        prov = Provenance(**{**asdict(self.provenance), "rows_loaded": len(indices)})
        return ChatDataset(
            conversations=[self.conversations[i] for i in indices],
            provenance=prov,
            problems=list(self.problems),
            row_ids=[self.row_ids[i] for i in indices],
        )

    def head(self, n: int | None) -> ChatDataset:
        return self if n is None or n >= len(self) else self.select(range(n))

    def to_records(self) -> list[dict[str, Any]]:
        return [{"messages": conv} for conv in self.conversations]

    def fingerprint(self) -> str:
        """sha256 of the normalised content: equal content gives an equal fingerprint."""
        h = hashlib.sha256()
        for conv in self.conversations:
            h.update(json.dumps(conv, sort_keys=True, ensure_ascii=False).encode("utf-8"))
            h.update(b"\n")
        return h.hexdigest()

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write chat-format JSONL atomically. Refuses to write over the source file, ever."""
        return save_records(
            self.to_records(), path, source=self.provenance.source, overwrite=overwrite
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "provenance": asdict(self.provenance),
            "rows": len(self),
            "fingerprint": self.fingerprint(),
            "problems": [asdict(p) for p in self.problems],
        }

    def _repr_html_(self) -> str:
        import html

        p = self.provenance
        return (
            f"<div><b>ChatDataset</b> {html.escape(p.sample or p.source)}"
            f" &middot; {len(self)} conversations &middot; format {html.escape(p.format)}"
            f" &middot; {len(self.problems)} problem(s)</div>"
        )


def list_samples() -> list[str]:
    """Names of the demo datasets shipped with the package."""
    return sorted(p.name for p in SAMPLES_DIR.iterdir() if (p / "train.jsonl").is_file())


def sample_path(name: str, split: str = "train") -> Path:
    """Path of a shipped sample's split file: `train`, `eval`, or another `<split>.jsonl` it ships
    (`orders-json` has `handwritten`, orders written by hand)."""
    folder = SAMPLES_DIR / name
    if not folder.is_dir():
        raise DataError(f"Unknown sample {name!r}. Shipped samples: {', '.join(list_samples())}.")
    path = folder / f"{split}.jsonl"
    if not path.is_file():
        raise DataError(f"Sample {name!r} has no {split!r} split (looked for {path}).")
    return path


def sample_schema(name: str) -> dict[str, Any] | None:
    """The JSON Schema shipped with a sample (e.g. `orders-json`), or None."""
    path = SAMPLES_DIR / name / "schema.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_records(
    records: list[dict[str, Any]], path: str | Path, *, source: str, overwrite: bool = False
) -> Path:
    """JSONL of `records` written atomically to a new file; never over `source` (the data it
    was loaded from), and over another file only with `overwrite`."""
    path = Path(path).resolve()
    src = Path(source)
    if src.exists() and src.resolve() == path:
        raise DataError(f"{path}: refusing to overwrite the source dataset; save to a new file.")
    if path.exists() and not overwrite:
        raise DataError(f"{path}: file exists; pass overwrite=True or choose a new name.")
    lines = (json.dumps(r, ensure_ascii=False) for r in records)
    return write_text_atomic(path, "\n".join(lines) + "\n")


def load_dataset(
    source: Any,
    *,
    format: str = "auto",
    split: str | None = None,
    columns: dict[str, str] | None = None,
    on_error: str = "report",
    max_rows: int | None = None,
) -> ChatDataset:
    """Load `source` into a ChatDataset. See the module docs for formats and error handling.

    source: a path (.jsonl/.json/.csv/.tsv/.parquet), a sample name, a datasets.Dataset/DatasetDict,
    a pandas DataFrame, a list of dicts, or a ChatDataset (returned as is).
    format: auto | chat | alpaca | prompt_completion | sharegpt | text.
    split: for samples and DatasetDicts (`train` / `eval`).
    columns: maps the format's field names to the user's column names, e.g. {"prompt": "question"}.
    on_error: "report" keeps good rows and lists the bad ones in `.problems`; "raise" fails on the first.

    Only DataError escapes, with a message naming the source (and line and field where there is one).
    """
    columns = dict(columns or {})
    _check_options(format=format, on_error=on_error, columns=columns, max_rows=max_rows)
    if isinstance(source, ChatDataset):
        return source.head(max_rows)
    src = _open(source, split=split)
    return _load_rows(src, format=format, columns=columns, on_error=on_error, max_rows=max_rows)


def _check_options(*, format: str, on_error: str, columns: dict, max_rows: int | None) -> None:
    if format != "auto" and format not in FORMATS:
        raise DataError(f"Unknown format {format!r}. Use auto or one of: {', '.join(FORMATS)}.")
    if on_error not in ("report", "raise"):
        raise DataError(f"on_error must be 'report' or 'raise', got {on_error!r}.")
    unknown = sorted(k for k in columns if k not in known_fields())
    if unknown or not all(isinstance(v, str) for v in columns.values()):
        raise DataError(
            f"columns= maps format fields to your column names (both strings); unknown field(s) "
            f"{', '.join(map(repr, unknown)) or '(none)'}. Known fields: {', '.join(sorted(known_fields()))}."
        )
    if max_rows is not None and (
        isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1
    ):
        raise DataError(f"max_rows must be a positive integer or None, got {max_rows!r}.")


def _load_rows(
    src: Source, *, format: str, columns: dict[str, str], on_error: str, max_rows: int | None
) -> ChatDataset:
    """Detect the format from the first rows, normalise every row, collect (or raise) problems."""
    rows = list(itertools.islice(src.rows, max_rows))
    if not rows:
        raise DataError(f"{src.label}: no rows found (the source is empty).")
    fmt = _detect(src, rows, columns) if format == "auto" else format
    conversations: list[Conversation] = []
    row_ids: list[int] = []
    problems: list[LoadProblem] = []
    for line, row in rows:
        try:
            conversations.append(_normalise(src, line, row, fmt, columns))
            row_ids.append(line)
        except _Bad as bad:
            if on_error == "raise":
                raise DataError(str(bad.problem)) from None
            problems.append(bad.problem)
    if not conversations:
        first = "; ".join(str(p) for p in problems[:3])
        raise DataError(
            f"{src.label}: none of the {len(rows)} row(s) could be loaded. First problems: {first}"
        )
    if problems:
        log.warning(
            "%s: loaded %d of %d rows; %d problem(s), first: %s",
            src.label,
            len(conversations),
            len(rows),
            len(problems),
            problems[0],
        )
    prov = Provenance(
        source=src.label,
        format=fmt,
        sha256=src.sha256,
        rows_read=len(rows),
        rows_loaded=len(conversations),
        sample=src.sample,
        split=src.split,
    )
    return ChatDataset(
        conversations=conversations, provenance=prov, problems=problems, row_ids=row_ids
    )


class _Bad(Exception):
    def __init__(self, problem: LoadProblem):
        self.problem = problem


def _normalise(src: Source, line: int, row: Any, fmt: str, columns: dict[str, str]) -> Conversation:
    if isinstance(row, BadRow):
        raise _Bad(LoadProblem(src.label, line, None, row.message, row.hint))
    try:
        return normalise(row, fmt, columns)
    except RowError as exc:
        hint = exc.hint or f"Expected {fmt} format."
        raise _Bad(LoadProblem(src.label, line, exc.field, exc.message, hint)) from None


def _detect(src: Source, rows: list[tuple[int, Any]], columns: dict[str, str]) -> str:
    """The format of the first readable rows; DataError (saying what was seen) when none fits."""
    first = [row for _, row in rows if isinstance(row, Mapping)][:DETECT_ROWS]
    fmt = detect_format(first, columns)
    if fmt is not None:
        log.debug("%s: detected %s format", src.label, fmt)
        return fmt
    if not first:
        line, bad = rows[0]
        why = (
            bad.message
            if isinstance(bad, BadRow)
            else f"expected an object, got {type(bad).__name__}"
        )
        raise DataError(f"{src.label}: no readable rows (line {line}: {why})")
    seen = sorted({str(k) for row in first for k in row})[:20]
    if {"chosen", "rejected"} <= set(seen):
        raise DataError(
            f"{src.label}: these rows are preference pairs (chosen/rejected), not examples: "
            "train on them with objective='dpo', or load them with load_preferences()."
        )
    raise DataError(
        f"{src.label}: could not recognise the format from the fields {', '.join(seen) or '(none)'}. "
        f"Supported: {_format_list()}. Pass format= and columns={{format field: your column}}."
    )


def _format_list() -> str:
    return ", ".join(f"{fmt} ({'/'.join(REQUIRED[fmt])})" for fmt in FORMATS)


def _open(source: Any, *, split: str | None) -> Source:
    """A path, a sample name, a folder holding <split>.jsonl, or an in-memory table."""
    if not isinstance(source, (str, Path)):
        return open_object(source, split=split)
    path = Path(source).expanduser()
    try:
        is_file, is_dir = path.is_file(), path.is_dir()
    except OSError as exc:  # e.g. a name too long for the file system
        raise DataError(f"{str(source)[:200]}: not a usable path ({exc.strerror or exc}).") from exc
    if is_file:
        return open_file(path)
    if is_dir:
        candidate = path / f"{split or 'train'}.jsonl"
        if candidate.is_file():
            return open_file(candidate)
        raise DataError(f"{path}: is a folder; pass a file, or a folder holding {candidate.name}.")
    check_path(path)  # a FIFO, a device, a symlink loop: say what it is, not "no such file"
    if isinstance(source, str) and source in list_samples():
        src = open_file(sample_path(source, split or "train"))
        src.sample, src.split = source, split or "train"
        return src
    raise DataError(
        f"{source}: no such file, and not a shipped sample. Samples: {', '.join(list_samples())}."
    )
