"""The provenance index: which data subjects (as salted hashes) and which data files a run trained on.

Training writes it (`record_provenance`, called by the engine once the data is loaded), so every
run has one: provenance.json in the run directory. It holds, per subject, the hash, the kinds it
was found as, the splits it is in and how many rows carry it; per data file, its path, role and
sha256. Never a raw value: an erasure request hashes the requested value with the same salt.

What is scanned: every string of every loaded row (the conversations or preference pairs the run
trained and evaluated on, replay rows included), for the personal data inspection finds; and,
when `TrainConfig.subject_field` names one, that field of the source file's rows (a customer id,
a name column) as a value of kind "subject".
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..rundir import Artifact, RunDir
from .subjects import HASH_METHOD, Subject, normalise, read_salt, salt_id, subject_hash, subjects_in

log = logging.getLogger(__name__)


@dataclass
class DataFile:
    """One file a run read its rows from."""

    path: str
    roles: list[str]  # train, eval, replay
    sha256: str


@dataclass
class SubjectEntry:
    """One data subject: its salted hash, what it was found as, where, in how many rows."""

    hash: str
    kinds: list[str]
    splits: list[str]
    rows: int


@dataclass
class ProvenanceIndex(Artifact):
    """The salted hashes of the data subjects in a run's data, and the files it came from."""

    FILE = "provenance_json"
    MADE_BY = "training (notebook 03 or `workbench train`)"

    salt_id: str
    method: str
    subject_field: str | None
    files: list[DataFile] = field(default_factory=list)
    subjects: list[SubjectEntry] = field(default_factory=list)

    def holding(self, hashes: Iterable[str]) -> list[SubjectEntry]:
        """The entries whose hash is one of `hashes`."""
        wanted = set(hashes)
        return [s for s in self.subjects if s.hash in wanted]


def row_strings(obj: Any) -> Iterator[str]:
    """Every string inside a row: a conversation, a record, a preference pair."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from row_strings(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from row_strings(value)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        yield from row_strings(dataclasses.asdict(obj))


def row_subjects(row: Any, *, subject_field: str | None = None) -> set[Subject]:
    """The normalised subjects of one row (its PII; its `subject_field` value when it has one)."""
    found = {s for text in row_strings(row) for s in subjects_in(text)}
    if subject_field and isinstance(row, dict) and row.get(subject_field) not in (None, ""):
        found.add(normalise(str(row[subject_field]), "subject"))
    return found


def record_provenance(
    cfg: Any, rd: RunDir, *, train: Any, eval: Any, replay_rows: int = 0
) -> ProvenanceIndex:
    """Build and save the run's index from its loaded splits (ChatDataset, PreferenceDataset or
    LabelledDataset).

    `replay_rows`: how many rows at the end of `train` came from `cfg.replay` (their row ids
    point into the replay file, not the dataset).
    """
    salt = read_salt(rd.salt_file, create=True)
    found: dict[str, dict[str, Any]] = {}
    files: dict[str, DataFile] = {}
    for split, ds in (("train", train), ("eval", eval)):
        if ds is None:
            continue
        rows = list(
            getattr(ds, "conversations", None)
            or getattr(ds, "pairs", None)
            or getattr(ds, "texts", [])
        )
        task = len(rows) - (replay_rows if split == "train" else 0)
        extra = _field_values(ds, cfg.subject_field, task) if cfg.subject_field else {}
        for i, row in enumerate(rows):
            subjects = row_subjects(row) | extra.get(i, set())
            for subject in subjects:
                entry = found.setdefault(
                    subject_hash(subject.value, salt), {"kinds": set(), "splits": set(), "rows": 0}
                )
                entry["kinds"].add(subject.kind)
                entry["splits"].add(split)
                entry["rows"] += 1
        _note_file(files, ds.provenance, split)
    if replay_rows and cfg.replay:
        _note_replay(files, cfg.replay)
    index = ProvenanceIndex(
        salt_id=salt_id(salt),
        method=HASH_METHOD,
        subject_field=cfg.subject_field,
        files=list(files.values()),
        subjects=[
            SubjectEntry(h, sorted(e["kinds"]), sorted(e["splits"]), e["rows"])
            for h, e in sorted(found.items())
        ],
    )
    index.save(rd.root)
    log.info("%d data subjects indexed in %s", len(index.subjects), rd.provenance_json)
    return index


def _field_values(ds: Any, name: str, task_rows: int) -> dict[int, set[Subject]]:
    """Row position -> {the subject_field value} read from the source file's raw rows."""
    from ..data.sources import BadRow, open_file

    source = Path(ds.provenance.source)
    if not source.is_file():
        log.warning("subject_field=%r: %s is not a file; no subject values indexed", name, source)
        return {}
    raw = {
        line: row.get(name)
        for line, row in open_file(source).rows
        if not isinstance(row, BadRow) and isinstance(row, dict)
    }
    out: dict[int, set[Subject]] = {}
    for i, row_id in enumerate(ds.row_ids[:task_rows]):
        value = raw.get(row_id)
        if value not in (None, ""):
            out[i] = {normalise(str(value), "subject")}
    return out


def _note_file(files: dict[str, DataFile], provenance: Any, role: str) -> None:
    path = Path(provenance.source)
    if not path.is_file():
        return  # in-memory rows: nothing on disk to clean; the hashes are still indexed
    key = str(path.resolve())
    if key in files:
        if role not in files[key].roles:
            files[key].roles.append(role)
        return
    from ..data.dataset import file_sha256

    files[key] = DataFile(key, [role], provenance.sha256 or file_sha256(path))


def _note_replay(files: dict[str, DataFile], replay: str) -> None:
    from ..data.dataset import file_sha256, list_samples, sample_path

    path = sample_path(replay) if replay in list_samples() else Path(replay)
    if path.is_dir():
        path = path / "train.jsonl"
    if path.is_file():
        key = str(path.resolve())
        files.setdefault(key, DataFile(key, [], file_sha256(path))).roles.append("replay")
