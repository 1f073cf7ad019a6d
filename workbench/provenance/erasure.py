"""An erasure request: the runs whose data holds a subject, cleaned copies without their rows, a retrain.

    find_erasure(["ann@example.com"], runs="runs")   -> ErasureReport (a plan; nothing written)
    write_erasure(report)                             -> cleaned data, parameters, report files

A run is affected when its provenance index (index.py) holds the salted hash of a requested
value. In each data file the run read, a row is the subject's when any of its strings holds the
value (the same normalisation as the index: an e-mail in any case, a phone number in any
punctuation) or its `subject_field` equals it. The source files are never modified: for each
affected run, `<run>/erasure/<id>/` receives the cleaned files (a JSONL source keeps every other
line byte for byte, in order; other formats become JSONL of the kept records), a TrainConfig
YAML pointing at them with a new run_dir (`workbench train` it), and the report (JSON and
Markdown: runs, removed line numbers, files written, the old artifacts to delete). No file holds a
requested value: the report names rows by line number and subjects by hash prefix.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError
from ..io import write_json_atomic, write_text_atomic
from ..rundir import RunDir, decode, read_json, to_plain
from .index import ProvenanceIndex, row_strings, row_subjects
from .subjects import Subject, normalise, read_salt, salt_id, subject_hash

log = logging.getLogger(__name__)


@dataclass
class FileErasure:
    """One data file of an affected run: the subject's rows and the cleaned copy."""

    source: str
    roles: list[str]
    unchanged: bool  # its sha256 is still the one the run recorded
    lines: list[int]  # the subject's rows (line numbers in JSONL/CSV, row numbers otherwise)
    kept: int
    cleaned: str  # where the copy without those rows goes


@dataclass
class RunErasure:
    """One run whose data holds the subject."""

    run_dir: str
    kinds: list[str]  # what the subject was found as (email, phone, subject, ...)
    splits: list[str]  # train, eval
    files: list[FileErasure]
    params: str  # the retrain's TrainConfig YAML
    new_run_dir: str
    old_artifacts: list[str]  # derived from the data: delete after the retrain (--delete-old)
    notes: list[str] = field(default_factory=list)


@dataclass
class ErasureReport:
    """What one erasure request found and (once written) wrote. Saved per affected run."""

    id: str
    values: int  # how many values were requested (never the values)
    searched: str
    runs_searched: int
    runs: list[RunErasure]
    written: bool = False
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)

    @classmethod
    def load(cls, path: str | Path) -> ErasureReport:
        data = read_json(path)
        if data is None:
            raise ConfigError(f"{path}: not found; `workbench erase --write` writes it.")
        return decode(cls, data, file=path)

    def to_markdown(self) -> str:
        lines = [
            f"# Erasure request {self.id}",
            "",
            f"{self.values} value(s) requested; {self.runs_searched} run(s) searched under "
            f"`{self.searched}`; {len(self.runs)} affected. The values themselves are in no file.",
            "",
        ]
        for run in self.runs:
            lines += [
                f"## {run.run_dir}",
                "",
                f"- found as: {', '.join(run.kinds)}; in split(s): {', '.join(run.splits)}",
            ]
            for f in run.files:
                state = "" if f.unchanged else " (changed since the run)"
                lines.append(
                    f"- `{f.source}`{state}: rows removed at line(s) "
                    f"{', '.join(map(str, f.lines)) or 'none'}; {f.kept} kept -> `{f.cleaned}`"
                )
            lines += [
                f"- retrain: `workbench train {run.params}` (new run `{run.new_run_dir}`)",
                f"- then: `workbench erase --subject ... --verify {run.new_run_dir} --delete-old`",
                "- old artifacts to delete after the retrain:",
                *[f"  - `{a}`" for a in run.old_artifacts or ["(none present)"]],
                *[f"- note: {n}" for n in run.notes],
                "",
            ]
        lines += [f"- note: {n}" for n in self.notes]
        return "\n".join(lines).rstrip() + "\n"


# -- matching ------------------------------------------------------------------------------------


def request_subjects(values: Iterable[str]) -> list[Subject]:
    """The requested values, normalised; ConfigError for an empty one."""
    subjects = []
    for value in values:
        if not str(value).strip():
            raise ConfigError("--subject: an empty value; name the e-mail, phone or id to erase.")
        subjects.append(normalise(str(value)))
    if not subjects:
        raise ConfigError("--subject: name at least one value to erase.")
    return subjects


def row_matches(row: Any, subjects: list[Subject], *, subject_field: str | None = None) -> bool:
    """Whether a raw row holds one of `subjects` (normalised match, see the module docstring)."""
    wanted = {s.value for s in subjects}
    if wanted & {s.value for s in row_subjects(row, subject_field=subject_field)}:
        return True
    free = [s.value for s in subjects if s.kind == "subject"]
    if not free:
        return False
    text = " ".join(normalise(t, "subject").value for t in row_strings(row))
    return any(re.search(rf"(?<!\w){re.escape(v)}(?!\w)", text) for v in free)


def subject_lines(
    path: str | Path, subjects: list[Subject], *, subject_field: str | None = None
) -> tuple[list[int], int, list[tuple[int, Any]]]:
    """(the subject's line numbers, rows kept, all readable rows as (line, row)) of a data file."""
    from ..data.sources import BadRow, open_file

    rows = [(n, r) for n, r in open_file(Path(path)).rows if not isinstance(r, BadRow)]
    hit = [n for n, r in rows if row_matches(r, subjects, subject_field=subject_field)]
    return hit, len(rows) - len(hit), rows


# -- the request ---------------------------------------------------------------------------------


def find_erasure(values: Iterable[str], *, runs: str | Path = "runs") -> ErasureReport:
    """Find the runs under `runs` whose data holds one of `values`; plan their cleaned data."""
    subjects = request_subjects(values)
    root = Path(runs)
    if not root.is_dir():
        raise ConfigError(f"--runs {root}: not a folder; name the folder that holds the runs.")
    indexed = sorted(p.parent.resolve() for p in root.glob("**/provenance.json"))
    request_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)
    report = ErasureReport(request_id, len(subjects), str(root), len(indexed), [])
    if not indexed:
        report.notes.append(f"no run under {root} has a provenance index (provenance.json)")
    for run in indexed:
        affected = _run_erasure(RunDir(run), subjects, request_id, report.notes)
        if affected is not None:
            report.runs.append(affected)
    return report


def _run_erasure(
    rd: RunDir, subjects: list[Subject], request_id: str, notes: list[str]
) -> RunErasure | None:
    index = ProvenanceIndex.load(rd.root)
    hits = index.holding(_hashes(rd, subjects, index, notes))
    if not hits:
        return None
    out = rd.erasure_request_dir(request_id)
    files = []
    for data in index.files:
        source = Path(data.path)
        if not source.is_file():
            notes.append(f"{rd.root}: data file {source} is gone; nothing to clean there")
            continue
        from ..data.dataset import file_sha256

        lines, kept, _ = subject_lines(source, subjects, subject_field=index.subject_field)
        if lines:
            cleaned = out / _cleaned_name(source, [f.cleaned for f in files])
            files.append(
                FileErasure(
                    str(source),
                    data.roles,
                    file_sha256(source) == data.sha256,
                    lines,
                    kept,
                    str(cleaned),
                )
            )
    new_run = rd.root.parent / f"{rd.root.name}-erased-{request_id}"
    run = RunErasure(
        run_dir=str(rd.root),
        kinds=sorted({k for h in hits for k in h.kinds}),
        splits=sorted({s for h in hits for s in h.splits}),
        files=files,
        params=str(rd.erasure_params(request_id)),
        new_run_dir=str(new_run),
        old_artifacts=[str(p) for p in old_artifacts(rd)],
    )
    if not files:
        run.notes.append(
            "the index holds the subject but no data file has a row with it now (the files "
            "changed, or the rows were passed in memory): retrain on data without them"
        )
    if rd.tracking_json.is_file():
        run.notes.append(
            f"the tracker run named in {rd.tracking_json} holds copies of the adapter and "
            "config: delete that tracker run too"
        )
    return run


def _hashes(rd: RunDir, subjects: list[Subject], index: ProvenanceIndex, notes: list[str]) -> set:
    salt = read_salt(rd.salt_file, create=False)
    if salt_id(salt) != index.salt_id:
        notes.append(
            f"{rd.root}: indexed with another salt than {rd.salt_file} (it was replaced or the "
            "run was moved): this run cannot be matched; restore the old salt file"
        )
        return set()
    return {subject_hash(s.value, salt) for s in subjects}


def _cleaned_name(source: Path, taken: list[str]) -> str:
    name, n = f"{source.stem}.jsonl", 1
    while any(Path(t).name == name for t in taken):
        n += 1
        name = f"{source.stem}-{n}.jsonl"
    return name


def old_artifacts(rd: RunDir) -> list[Path]:
    """What the old run derived from its data and still holds: weights, exports, data copies,
    pages that quote rows. Its config, log and result (no data) stay for the record."""
    candidates = [
        rd.adapter_dir,
        rd.model_dir,
        rd.merged_dir,
        rd.checkpoints_dir,
        rd.export_dir,
        rd.clean_copy,
        *[p for p in rd.clean_logs() if p.parent == rd.inspect_dir],
        rd.inspect_report_json,
        rd.inspect_report_html,
        rd.comparison_json,
        rd.comparison_html,
        rd.comparison_figures_html,
        rd.constrained_comparison_json,
        rd.constrained_comparison_html,
        rd.lever_trial_dir,
        rd.notebooks_dir,
    ]
    return [p for p in candidates if p.exists()]


# -- writing -------------------------------------------------------------------------------------


def write_erasure(report: ErasureReport, values: Iterable[str]) -> list[Path]:
    """Write each affected run's cleaned files, retrain parameters and the report; the paths."""
    subjects = request_subjects(values)
    written: list[Path] = []
    report.written = True
    for run in report.runs:
        index = ProvenanceIndex.load(run.run_dir)
        for f in run.files:
            written.append(_write_cleaned(f, subjects, index.subject_field))
        written.append(_write_params(run))
    for run in report.runs:
        rd = RunDir(run.run_dir)
        written.append(write_json_atomic(rd.erasure_report_json(report.id), report.to_dict()))
        written.append(write_text_atomic(rd.erasure_report_md(report.id), report.to_markdown()))
    return written


def _write_cleaned(f: FileErasure, subjects: list[Subject], subject_field: str | None) -> Path:
    source = Path(f.source)
    lines, _, rows = subject_lines(source, subjects, subject_field=subject_field)
    if lines != f.lines:
        raise ConfigError(f"{source}: changed since the request was planned; run erase again.")
    drop = set(lines)
    if source.suffix.lower() == ".jsonl":  # every other line byte for byte, in order
        raw = source.read_bytes().splitlines(keepends=True)
        kept = [line for n, line in enumerate(raw, 1) if n not in drop]
        text = b"".join(kept).decode("utf-8", errors="replace")
    else:
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for n, r in rows if n not in drop)
    return write_text_atomic(f.cleaned, text)


def _write_params(run: RunErasure) -> Path:
    from ..config import TrainConfig

    rd = RunDir(run.run_dir)
    cfg = TrainConfig.from_yaml(rd.train_config_yaml, strict=False)
    cleaned = {str(Path(f.source).resolve()): f.cleaned for f in run.files}
    changes: dict[str, Any] = {"run_dir": run.new_run_dir}
    train_file = _resolve(cfg.dataset, "train")
    if train_file in cleaned:
        changes["dataset"] = cleaned[train_file]
    if cfg.eval_dataset:  # named evaluation data: a sample's (folder's) eval split, or a file
        eval_file = _resolve(cfg.eval_dataset, "eval") or _resolve(cfg.eval_dataset, "train")
    else:  # the dataset's own eval split, if it ships one (a file path stays a path: a
        eval_file = _resolve(cfg.dataset, "eval")  # cleaned copy would lose it)
        if eval_file is not None and "dataset" in changes:
            changes["eval_dataset"] = eval_file
    if eval_file in cleaned:
        changes["eval_dataset"] = cleaned[eval_file]
    if cfg.replay and _resolve(cfg.replay, "train") in cleaned:
        changes["replay"] = cleaned[_resolve(cfg.replay, "train")]
    cfg.replace(**changes).to_yaml(run.params)
    return Path(run.params)


def _resolve(value: str | None, split: str) -> str | None:
    """The file a dataset field reads for `split`: a sample's or a folder's split file; a plain
    file is the train split only. None when there is no such file."""
    from ..data.dataset import list_samples, sample_path

    if not value or value == "none":
        return None
    if value in list_samples():
        try:
            return str(sample_path(value, split).resolve())
        except DataError:  # the sample has no such split
            return None
    path = Path(value)
    if path.is_dir():
        path = path / f"{split}.jsonl"
    elif split != "train":
        return None
    return str(path.resolve()) if path.is_file() else None
