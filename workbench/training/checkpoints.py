"""Checkpoints you can trust: found only when complete, and the policy for resuming a run.

A checkpoint folder `checkpoint-N` counts only when it holds the completion marker, which is
written last, inside a staging folder, before one atomic rename (see trainer.py). A run resumes
from the newest complete one: automatically when the run directory holds an unfinished run with
the same config, on request otherwise.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

from ..config import TrainConfig
from ..errors import ConfigError
from ..io import write_text_atomic
from ..rundir import RunDir
from .events import read_jsonl

log = logging.getLogger(__name__)

COMPLETE = "WORKBENCH_CHECKPOINT_COMPLETE"
_CKPT = re.compile(r"^checkpoint-(\d+)$")


def complete_checkpoints(root: str | Path) -> list[Path]:
    """Complete checkpoints under `root`, oldest first (by step)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [
        (int(m.group(1)), p)
        for p in root.iterdir()
        if (m := _CKPT.match(p.name)) and (p / COMPLETE).is_file()
    ]
    return [p for _, p in sorted(found)]


def newest_checkpoint(root: str | Path) -> Path | None:
    found = complete_checkpoints(root)
    return found[-1] if found else None


def publish(staged: Path, final: Path) -> None:
    """Mark a fully written checkpoint complete and move it into place with one rename."""
    marker = staged / COMPLETE
    with open(marker, "w") as f:
        f.write("complete\n")
        f.flush()
        os.fsync(f.fileno())
    if final.exists():
        shutil.rmtree(final)
    os.replace(staged, final)


def resume_point(cfg: TrainConfig, rd: RunDir, resume: bool | str) -> Path | None:
    """The checkpoint to resume from, or None for a fresh start (see `train`'s `resume`).

    "auto" resumes only an unfinished run whose saved config equals `cfg` exactly: a changed
    setting (even max_steps) starts over rather than mixing two configurations in one curve.
    """
    if resume is False:
        return None
    if isinstance(resume, (str, Path)) and resume != "auto":
        path = Path(resume)
        if not path.is_dir():
            raise ConfigError(f"resume={str(resume)!r}: no such checkpoint folder.")
        return path
    found = newest_checkpoint(rd.checkpoints_dir)
    if resume is True:
        if found is None:
            raise ConfigError(
                f"resume=True but {rd.checkpoints_dir} holds no complete checkpoint. Use resume=False."
            )
        return found
    if found is None or _finished(rd) or not _same_config(cfg, rd):
        return None
    log.info("Resuming from %s", found)
    return found


def _finished(rd: RunDir) -> bool:
    if not rd.train_result_json.is_file():
        return False
    return json.loads(rd.train_result_json.read_text(encoding="utf-8")).get("status") == "completed"


def _same_config(cfg: TrainConfig, rd: RunDir) -> bool:
    if not rd.train_config_yaml.is_file():
        return False
    try:
        return TrainConfig.from_yaml(rd.train_config_yaml, strict=False).to_dict() == cfg.to_dict()
    except ConfigError:
        return False


def clear_previous(rd: RunDir) -> None:
    """A fresh start: old checkpoints and logs of this run dir would mix with the new run."""
    shutil.rmtree(rd.checkpoints_dir, ignore_errors=True)
    for path in (rd.metrics_jsonl, rd.train_result_json):
        path.unlink(missing_ok=True)


def kept_records(rd: RunDir, checkpoint: Path | None) -> list[dict[str, Any]]:
    """On resume: the log up to the checkpoint's step (later lines are replayed), rewritten in place."""
    if checkpoint is None:
        return []
    step = int(checkpoint.name.rsplit("-", 1)[-1])
    kept = [r for r in read_jsonl(rd.metrics_jsonl) if r.get("step", 0) <= step]
    write_text_atomic(rd.metrics_jsonl, "".join(json.dumps(r) + "\n" for r in kept))
    return kept


def newest(rd: RunDir) -> Path | None:
    """The run's newest complete checkpoint."""
    return newest_checkpoint(rd.checkpoints_dir)
