"""Atomic file writes: a result is either complete on disk or absent, never half-written.

Temp files and folders are named `.<target>.<pid>-<host>-<random>.tmp`, so a later write of the same
target can tell a leftover of a killed process (its pid is gone) from one still being written.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

LEGACY_TEMP_AGE_S = 24 * 3600  # temps named before the pid was in the name: removed once a day old


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _default_file_mode() -> int:
    # mkstemp creates 0600 files; a result file should get the usual mode (0666 minus umask).
    return 0o666 & ~_umask()


@cache
def _host_tag() -> str:
    # pids are only comparable on one machine (a shared home folder is seen by several)
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def temp_prefix(target: str) -> str:
    """The prefix of this process's temp names for `target` (see the module docstring)."""
    return f".{target}.{os.getpid()}-{_host_tag()}-"


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write `text` to `path` via a temp file in the same folder and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path.parent, path.name)
    try:
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path.name), suffix=".tmp", dir=path.parent)
    except OSError as exc:
        exc.filename = str(path)  # the user knows the target, not the temp name
        raise
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _default_file_mode())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            _name(exc, path)
        raise
    return path


def write_json_atomic(path: str | Path, data: Any) -> Path:
    return write_text_atomic(
        path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"
    )


@contextmanager
def atomic_dir(final: str | Path) -> Iterator[Path]:
    """Yield a temp folder beside `final`; on success it replaces `final` in one rename."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(final.parent, final.name)
    try:
        tmp = Path(
            tempfile.mkdtemp(prefix=temp_prefix(final.name), suffix=".tmp", dir=final.parent)
        )
    except OSError as exc:
        exc.filename = str(final)  # the user knows the target, not the temp name
        raise
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700 folders
    try:
        yield tmp
        if final.exists():
            old = final.with_name(f".{final.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            _name(exc, final)
        elif isinstance(exc, Exception) and is_disk_full(exc):  # safetensors/torch wrap ENOSPC
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(final)) from exc
        raise


def _name(exc: OSError, path: Path) -> None:
    # a failed write() or fsync() carries no file name; the CLI's one-line message needs one
    if exc.filename is None:
        exc.filename = str(path)


# -- leftovers of killed processes ---------------------------------------------------------------


def remove_stale_temps(folder: str | Path, target: str) -> list[Path]:
    """Delete temp files/folders for `target` in `folder` whose writer is gone; returns them.

    Only names this module makes are touched: ones with a pid of this machine that is no longer
    running, and (from before the pid was in the name) ones a day old.
    """
    folder = Path(folder)
    ours = re.compile(rf"^\.{re.escape(target)}\.(\d+)-([0-9a-f]{{8}})-[A-Za-z0-9_]+\.tmp$")
    legacy = re.compile(rf"^\.{re.escape(target)}\.[A-Za-z0-9_]{{8}}\.tmp$")
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = ours.match(entry.name)
        stale = (
            _writer_gone(int(match[1]), match[2])
            if match
            else bool(legacy.match(entry.name)) and _older_than(entry, LEGACY_TEMP_AGE_S)
        )
        if stale and _remove(Path(entry.path)):
            removed.append(Path(entry.path))
    return removed


def _writer_gone(pid: int, host: str) -> bool:
    if host != _host_tag() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, owned by another user
        return False
    return False


def _older_than(entry: os.DirEntry, seconds: float) -> bool:
    try:
        return time.time() - entry.stat(follow_symlinks=False).st_mtime > seconds
    except OSError:
        return False


def _remove(path: Path) -> bool:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except OSError:
        return False
    return True


# -- describing a failed write -------------------------------------------------------------------

DISK_FULL_TEXT = ("No space left on device", "StorageFull", "os error 28", "Disk quota exceeded")


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC/EDQUOT, also when a library (safetensors, torch) wrapped it in its own error type."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return any(text in str(exc) for text in DISK_FULL_TEXT)


def describe_os_error(exc: BaseException) -> str | None:
    """One line saying what failed on disk and what to do, or None when `exc` is not such a failure."""
    path = getattr(exc, "filename", None) or "a file"
    if is_disk_full(exc):
        return (
            f"disk full while writing {path}: free space and rerun "
            "(a training run resumes from its last checkpoint)"
        )
    if not isinstance(exc, OSError):
        return None
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = "the file system is read-only" if exc.errno == errno.EROFS else "permission denied"
        return (
            f"cannot write {path}: {why}. Choose a folder you can write to, or fix its permissions"
        )
    if exc.errno in (errno.ENOTDIR, errno.EEXIST) and exc.filename:
        blocker = _file_in_the_way(Path(exc.filename))
        if blocker is not None:
            return f"{blocker} is a file, not a folder: move it away or choose another path"
    if isinstance(exc, FileNotFoundError):
        return f"{path}: not found. Check the path"
    return f"{path}: {exc.strerror or exc}"


def _file_in_the_way(path: Path) -> Path | None:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None
