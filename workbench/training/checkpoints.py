"""Checkpoints you can trust: found only when complete, and the policy for resuming a run.

A checkpoint folder `checkpoint-N` counts only when it holds the completion marker, which is
written last, inside a staging folder, before one atomic rename (see trainer.py). A run resumes
from the newest complete one: automatically when the run directory holds an unfinished run with
the same config, on request otherwise.
"""

from __future__ import annotations

import contextlib
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
STAGING = ".staging-"  # where the Trainer writes a checkpoint before it is published
REPLACED = ".replaced-"  # a checkpoint of the same step, moved aside while the new one moves in
_CKPT = re.compile(r"^checkpoint-(\d+)$")


def complete_checkpoints(root: str | Path) -> list[Path]:
    """Complete checkpoints under `root`, oldest first (by step).

    Complete means marked and whole: the marker, a readable trainer_state.json and the weights.
    A folder that lost files (a kill while it was being replaced by older code, a user's cleanup)
    is passed over, so resuming falls back to the newest checkpoint that can really be loaded.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _CKPT.match(p.name))]
    return [p for _, p in sorted(found) if _whole(p)]


def _whole(folder: Path) -> bool:
    if not (folder / COMPLETE).is_file() or trainer_state(folder) is None:
        return False
    return any(folder.glob("*.safetensors")) or any(folder.glob("*.bin"))


def trainer_state(folder: Path) -> dict[str, Any] | None:
    """The Trainer's own record of a checkpoint (global_step, max_steps, log history), or None."""
    try:
        data = json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_final(checkpoint: Path) -> bool:
    """The checkpoint was saved after the last step: resuming it would have nothing left to train."""
    hs = trainer_state(checkpoint) or {}
    return 0 < int(hs.get("max_steps") or 0) <= int(hs.get("global_step") or 0)


def newest_checkpoint(root: str | Path) -> Path | None:
    found = complete_checkpoints(root)
    return found[-1] if found else None


def publish(staged: Path, final: Path) -> None:
    """Mark a fully written checkpoint complete and move it into place with renames only.

    A checkpoint of the same step (saved again after a resume) is renamed aside before the new
    one takes its name and deleted after: a kill at any point leaves either the old or the new
    one under the name, never a half-deleted folder that still holds the marker.
    """
    marker = staged / COMPLETE
    with open(marker, "w") as f:
        f.write("complete\n")
        f.flush()
        os.fsync(f.fileno())
    aside = final.with_name(f"{REPLACED}{final.name}")
    if final.exists():
        shutil.rmtree(aside, ignore_errors=True)
        os.replace(final, aside)
    os.replace(staged, final)
    shutil.rmtree(aside, ignore_errors=True)


def remove_leftovers(root: Path) -> None:
    """Staging and replaced folders a killed run left behind (never a complete checkpoint)."""
    if not root.is_dir():
        return
    for path in root.iterdir():
        if path.name.startswith((STAGING, REPLACED)) and path.is_dir():
            final = root / path.name.split("-", 1)[1]
            if path.name.startswith(REPLACED) and not final.exists() and _whole(path):
                os.replace(path, final)  # killed between the two renames: the old one is intact
            else:
                shutil.rmtree(path, ignore_errors=True)


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
    from ..errors import ArtifactError
    from .result import TrainResult

    try:
        result = TrainResult.load_optional(rd.root)
    except ArtifactError as exc:  # this run rewrites it: an unreadable old result is not "done"
        log.warning("%s", exc)
        return False
    return result is not None and result.completed


def _same_config(cfg: TrainConfig, rd: RunDir) -> bool:
    if not rd.train_config_yaml.is_file():
        return False
    try:
        return TrainConfig.from_yaml(rd.train_config_yaml, strict=False).to_dict() == cfg.to_dict()
    except ConfigError:
        return False


def clear_previous(rd: RunDir) -> None:
    """A fresh start: old checkpoints and logs of this run would mix with the new run.

    Removes only what training writes (checkpoint folders by their names, the log, the result);
    anything else a user put in checkpoints/ stays. `claim` has already refused a foreign folder.
    """
    root = rd.checkpoints_dir
    if root.is_dir():
        for path in root.iterdir():
            if _CKPT.match(path.name) or path.name.startswith((STAGING, REPLACED)):
                shutil.rmtree(path, ignore_errors=True)
        with contextlib.suppress(OSError):
            root.rmdir()  # only when nothing else is left in it
    for path in (rd.metrics_jsonl, rd.samples_jsonl, rd.train_result_json, rd.provenance_json):
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
