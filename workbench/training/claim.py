"""Claiming a run directory: never clear a folder the workbench did not make, one trainer at a time.

Training clears a run's old checkpoints and logs on a fresh start, so it must be sure the folder is
a run directory. It is when it holds the marker file written when the workbench created it, or
when everything in it has a run artifact's name and one of them shows a run (a run from before
the marker existed, or one that notebooks 01-02 started). Anything else, the working directory
included, is refused before a byte is written.

The lock is an advisory `flock` on a file in the run directory: the kernel releases it when its
process dies (even after `kill -9`), so there is no stale lock to clean up.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .. import __version__
from ..errors import ConfigError
from ..io import write_text_atomic
from ..rundir import RunDir

try:
    import fcntl
except ImportError:  # Windows: no flock; runs there are not locked
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

MARKER = RunDir(".").marker_file.name
LOCK = RunDir(".").lock_file.name
# names a run directory holds (RunDir's paths and the engine's hidden files)
ARTIFACTS = frozenset(
    {
        MARKER,
        LOCK,
        "inspect",
        "technique.json",
        "lever_trial.json",
        "lever_trial.html",
        "lever_trial",
        "train_config.yaml",
        "train_result.json",
        "provenance.json",
        "erasure",
        "extraction_audit.json",
        "metrics.jsonl",
        "samples.jsonl",
        "checkpoints",
        "adapter",
        "model",
        "merged",
        "figures",
        "comparison.json",
        "comparison.html",
        "docs",
        "notebooks",
        "summary.json",
        "scaleout",
        "retune.json",
        "canaries",
        "canary_audit.json",
        "retune_comparison.html",
    }
)
# any one of these shows the folder is a run, not a project that happens to have docs/ or notebooks/
EVIDENCE = (
    "train_config.yaml",
    "train_result.json",
    "technique.json",
    "lever_trial.json",
    "inspect",
    "summary.json",
)
_NOTEBOOK = re.compile(r"^\d\d_\w+\.ipynb$")


def claim(rd: RunDir) -> RunDir:
    """Create `rd` (with its marker) or check that an existing folder is a workbench run directory."""
    root = rd.root
    if root.exists() and not root.is_dir():
        raise ConfigError(f"run_dir {root} is a file, not a folder: choose another run_dir.")
    if rd.marker_file.is_file():
        return rd
    # another process of the same launch (accelerate, torchrun) may be writing the marker right
    # now: its temp file is ours, not the user's
    pending = f".{rd.marker_file.name}."
    entries = sorted(
        p.name
        for p in (root.iterdir() if root.is_dir() else ())
        if not (p.name.startswith(pending) and p.name.endswith(".tmp"))
    )
    if rd.marker_file.is_file():  # ... or has just written it
        return rd
    foreign = [name for name in entries if name not in ARTIFACTS]
    if foreign or (entries and not _shows_a_run(root, entries)):
        shown = ", ".join(foreign[:5] or entries[:5]) + (" ..." if len(entries) > 5 else "")
        raise ConfigError(
            f"run_dir {root} already holds files the workbench did not write ({shown}); "
            "a run there could replace or delete them. Choose a new or empty folder as run_dir."
        )
    root.mkdir(parents=True, exist_ok=True)
    stamp = {"created_by": f"workbench {__version__}", "created_at": time.time()}
    write_text_atomic(rd.marker_file, json.dumps(stamp) + "\n")
    return rd


def _shows_a_run(root: Path, entries: list[str]) -> bool:
    if any(name in EVIDENCE for name in entries):
        return True
    # papermill writes the executed notebook there before notebook 03 trains
    books = RunDir(root).notebooks_dir
    return books.is_dir() and all(_NOTEBOOK.match(p.name) for p in books.iterdir())


@contextmanager
def locked(rd: RunDir) -> Iterator[None]:
    """Hold the run directory's lock; a second trainer on the same folder gets a ConfigError."""
    if fcntl is None:
        yield
        return
    fd = os.open(rd.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise ConfigError(
            f"run_dir {rd.root} is being trained by another process ({holder}). Wait for it to "
            "finish or stop it, or choose another run_dir."
        ) from None
    try:
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.ctime()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        yield
    finally:
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {info['pid']} on {info['host']}, since {info['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown"
