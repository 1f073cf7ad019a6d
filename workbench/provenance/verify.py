"""After the retrain: check the new run holds no trace of the subject, then (when asked) delete the old.

Three checks, each with what it saw: the retrain completed; the new run's provenance index holds
none of the subject's salted hashes; no row of the new run's data files holds the subject. With
`audit`, a fourth: the retrained model, asked the removed rows' prompts with their personal data
redacted (inspection/pii.py `redact`, so nothing can be copied from the question), emits none of
the subject's values in its greedy answers. Only
when all pass, and only with `delete_old`, are the old run's derived artifacts (the list the
erasure report made) deleted. The result is saved as `<new run>/erasure/verification.json`
(and .md).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..io import write_text_atomic
from ..rundir import Artifact, RunDir
from .erasure import ErasureReport, request_subjects, subject_lines
from .index import ProvenanceIndex
from .subjects import read_salt, salt_id, subject_hash

log = logging.getLogger(__name__)


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class ErasureVerification(Artifact):
    """Whether a retrained run is free of the erased subject, and what was deleted after."""

    FILE = "erasure_verification_json"
    MADE_BY = "`workbench erase --verify`"

    run_dir: str
    erasure_id: str | None  # the request whose cleaned data the run trained on
    old_run_dir: str | None
    passed: bool
    checks: list[Check] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def to_markdown(self) -> str:
        lines = [
            f"# Erasure verification of {self.run_dir}",
            "",
            f"Request: {self.erasure_id or 'unknown'}; old run: {self.old_run_dir or 'unknown'}. "
            f"**{'passed' if self.passed else 'FAILED'}**",
            "",
            *[f"- [{'x' if c.passed else ' '}] {c.name}: {c.detail}" for c in self.checks],
        ]
        if self.deleted:
            lines += ["", "Deleted from the old run:", *[f"- `{p}`" for p in self.deleted]]
        return "\n".join(lines) + "\n"


def verify_erasure(
    values: Iterable[str], *, new_run: str | Path, delete_old: bool = False, audit: bool = False
) -> ErasureVerification:
    """Check `new_run` (retrained on an erasure's cleaned data) for the subject; see the module doc."""
    from ..training.result import TrainResult

    subjects = request_subjects(values)
    rd = RunDir(new_run)
    result = TrainResult.load(rd.root)
    index = ProvenanceIndex.load(rd.root)
    checks = [Check("retrain completed", result.completed, f"status {result.status}")]
    salt = read_salt(rd.salt_file, create=False)
    same_salt = salt_id(salt) == index.salt_id
    held = index.holding(subject_hash(s.value, salt) for s in subjects) if same_salt else []
    checks.append(
        Check(
            "provenance index holds none of the subject's hashes",
            same_salt and not held,
            f"{len(index.subjects)} subjects indexed, {len(held)} of them the subject's"
            if same_salt
            else f"indexed with another salt than {rd.salt_file}: cannot tell",
        )
    )
    found = {
        f.path: subject_lines(f.path, subjects, subject_field=index.subject_field)[0]
        for f in index.files
        if Path(f.path).is_file()
    }
    rows = sum(len(v) for v in found.values())
    checks.append(
        Check(
            "no row of the new run's data files holds the subject",
            bool(found) and rows == 0,
            f"{len(found)} file(s) scanned, {rows} row(s) with the subject"
            + "".join(f"; {p}: lines {v}" for p, v in found.items() if v),
        )
    )
    erasure_id, old = _origin(result.train_config.dataset)
    if audit:
        checks.append(_emission_check(rd, subjects, erasure_id, old))
    out = ErasureVerification(str(rd.root), erasure_id, old, all(c.passed for c in checks), checks)
    if delete_old:
        out.deleted = _delete_old(out, Path(result.train_config.dataset))
    out.save(rd.root)
    write_text_atomic(rd.erasure_verification_md, out.to_markdown())
    return out


def _emission_check(rd: RunDir, subjects: list, erasure_id: str | None, old: str | None) -> Check:
    from ..comparison.generation import GenerationSettings, generate, load_run
    from ..data.dataset import load_dataset
    from ..inspection.pii import redact
    from .erasure import row_matches

    name = "the retrained model emits none of the subject's values on the removed rows' prompts"
    if erasure_id is None or old is None:
        return Check(name, False, "not trained on an erasure's cleaned data: no removed rows")
    report = ErasureReport.load(RunDir(old).erasure_report_json(erasure_id))
    run = next(r for r in report.runs if Path(r.run_dir).resolve() == Path(old).resolve())
    prompts = []
    for f in run.files:
        ds = load_dataset(f.source)
        for conv, row in zip(ds.conversations, ds.row_ids, strict=True):
            if row in f.lines:
                turns = conv[:-1] if len(conv) > 1 and conv[-1]["role"] == "assistant" else conv
                prompts.append([{**m, "content": redact(m["content"])} for m in turns])
    if not prompts:
        return Check(name, False, "the removed rows could not be read back from their sources")
    pair = load_run(rd.root)
    with pair.use("tuned") as model:
        answers = generate(
            model, pair.tokenizer, prompts, settings=GenerationSettings(max_new_tokens=64)
        )
    emitted = sum(row_matches(a, subjects) for a in answers)
    return Check(name, emitted == 0, f"{len(prompts)} prompt(s) asked, {emitted} answer(s) emit it")


def _origin(dataset: str) -> tuple[str | None, str | None]:
    """(request id, old run) when `dataset` is a file an erasure wrote: <old>/erasure/<id>/x.jsonl."""
    path = Path(dataset)
    if len(path.parents) < 3 or path.parent.parent.name != RunDir(".").erasure_dir.name:
        return None, None
    old, request_id = RunDir(path.parents[2]), path.parent.name
    if old.erasure_report_json(request_id).is_file():
        return request_id, str(old.root)
    return None, None


def _delete_old(check: ErasureVerification, dataset: Path) -> list[str]:
    if not check.passed:
        raise ConfigError(
            f"{check.run_dir}: the verification failed, so nothing was deleted; see "
            f"{RunDir(check.run_dir).erasure_verification_md}."
        )
    if check.old_run_dir is None:
        raise ConfigError(
            f"{check.run_dir} was not trained on an erasure's cleaned data (dataset {dataset}); "
            "--delete-old only deletes the artifacts an erasure report listed."
        )
    report = ErasureReport.load(RunDir(check.old_run_dir).erasure_report_json(check.erasure_id))
    old = Path(check.old_run_dir).resolve()
    run = next(r for r in report.runs if Path(r.run_dir).resolve() == old)
    deleted = []
    for name in run.old_artifacts:
        path = Path(name).resolve()
        if old not in path.parents or not path.exists():
            continue  # only inside the old run, only what is still there
        shutil.rmtree(path) if path.is_dir() else path.unlink()
        deleted.append(str(path))
        log.info("Deleted %s", path)
    return deleted
