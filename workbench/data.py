"""Load any supported dataset into one normalised form: a list of chat conversations with provenance."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import DataError
from .io import write_text_atomic

ROLES = ("system", "user", "assistant")
SAMPLES_DIR = Path(__file__).parent / "samples"

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
        path = Path(path).resolve()
        src = Path(self.provenance.source)
        if src.exists() and src.resolve() == path:
            raise DataError(f"{path}: refusing to overwrite the source dataset; save to a new file.")
        if path.exists() and not overwrite:
            raise DataError(f"{path}: file exists; pass overwrite=True or choose a new name.")
        lines = (json.dumps(r, ensure_ascii=False) for r in self.to_records())
        return write_text_atomic(path, "\n".join(lines) + "\n")

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
    """Path of a shipped sample's split file (`train` or `eval`)."""
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

    source: a path (.jsonl/.json/.csv/.parquet), a sample name, a datasets.Dataset/DatasetDict,
    a pandas DataFrame, a list of dicts, or a ChatDataset (returned as is).
    format: auto | chat | alpaca | prompt_completion | sharegpt | text.
    split: for samples and DatasetDicts (`train` / `eval`).
    columns: maps the format's field names to the user's column names, e.g. {"prompt": "question"}.
    on_error: "report" keeps good rows and lists the bad ones in `.problems`; "raise" fails on the first.
    """
    raise NotImplementedError("filled in by the data loader work")
