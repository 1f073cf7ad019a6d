"""A run never loses a user's files or its own: claimed folders, locks, finite checkpoints, finishing.

Each test here reproduces a fault found by trying to break the workbench (see the reliability
issue) and fails on the code before its fix.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_train import At, config, run

from workbench.config import TrainConfig
from workbench.errors import ConfigError
from workbench.rundir import RunDir
from workbench.training.checkpoints import complete_checkpoints, newest_checkpoint
from workbench.training.claim import MARKER, claim, locked


def _tree(root: Path) -> dict[str, str]:
    """Every file under root with its bytes' hash: what 'unchanged' means."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _users_folder(root: Path) -> Path:
    (root / "checkpoints").mkdir(parents=True)
    (root / "checkpoints" / "thesis-draft.docx").write_bytes(b"years of work")
    (root / "metrics.jsonl").write_text('{"mine": 1}\n')
    (root / "train_result.json").write_text('{"not": "yours"}\n')
    (root / "notes.txt").write_text("keep me\n")
    return root


# -- 1. a folder the workbench did not make is never cleared ---------------------------------


def test_training_into_a_users_folder_is_refused_and_touches_nothing(tiny_model_dir, tmp_path):
    folder = _users_folder(tmp_path / "project")
    before = _tree(folder)
    with pytest.raises(ConfigError, match="did not write.*notes.txt"):
        run(config(folder, max_steps=2))
    assert _tree(folder) == before
    assert not (folder / MARKER).exists()


def test_a_marker_another_process_is_writing_is_not_a_users_file(tmp_path):
    # two processes of one launch claim the same empty folder: the first one's marker write leaves
    # its temp file for a moment, or the marker itself; neither is the user's (a race seen in CI)
    folder = tmp_path / "launched"
    folder.mkdir()
    pending = folder / f".{MARKER}.4242-0a1b2c3d-xyz.tmp"
    pending.write_text("{}")
    claim(RunDir(folder))
    assert (folder / MARKER).is_file() and pending.exists()  # another writer's file is left alone
    (folder / "notes.txt").write_text("keep me\n")
    assert claim(RunDir(folder)).root == folder  # a claimed folder stays claimed, as before
    other = tmp_path / "users"
    other.mkdir()
    (other / "notes.txt").write_text("keep me\n")
    (other / f".{MARKER}.4242-0a1b2c3d-xyz.tmp").write_text("{}")
    with pytest.raises(ConfigError, match="did not write.*notes.txt"):
        claim(RunDir(other))


def test_the_working_directory_is_refused(tiny_model_dir, tmp_path, monkeypatch):
    folder = _users_folder(tmp_path / "cwd")
    monkeypatch.chdir(folder)
    before = _tree(folder)
    with pytest.raises(ConfigError, match="did not write"):
        run(config(Path("."), max_steps=2))
    with pytest.raises(ConfigError, match="run_dir is empty"):
        TrainConfig(run_dir="")
    assert _tree(folder) == before


def test_a_folder_holding_only_look_alike_names_is_not_a_run(tmp_path):
    folder = tmp_path / "lookalike"
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "checkpoints" / "mine.bin").write_bytes(b"x")
    with pytest.raises(ConfigError, match="did not write"):
        claim(RunDir(folder))


def test_a_run_dir_without_marker_from_an_older_version_is_adopted(tmp_path):
    folder = tmp_path / "old-run"
    (folder / "inspect").mkdir(parents=True)
    (folder / "technique.json").write_text("{}")
    claim(RunDir(folder))
    assert (folder / MARKER).is_file()


def test_a_run_dir_that_is_a_file_is_refused(tmp_path):
    path = tmp_path / "run"
    path.write_text("a file")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        claim(RunDir(path))


@pytest.mark.slow  # two trainings
def test_a_fresh_start_keeps_what_a_user_put_into_the_runs_checkpoints(tiny_model_dir, run_dir):
    assert run(config(run_dir, max_steps=2, save_every=2)).status == "completed"
    stray = run_dir / "checkpoints" / "my-notes.txt"
    stray.write_text("mine")
    assert run(config(run_dir, max_steps=2, save_every=2), resume=False).status == "completed"
    assert stray.read_text() == "mine"


# -- 8. one trainer per run directory --------------------------------------------------------

HOLDER = """
import sys, time
from workbench.rundir import RunDir
from workbench.training.claim import claim, locked
with locked(claim(RunDir(sys.argv[1]))):
    print("locked", flush=True)
    time.sleep(60)
"""


@pytest.mark.slow
def test_a_second_trainer_on_the_same_run_dir_is_refused_naming_the_first(tiny_model_dir, run_dir):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(run_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ConfigError, match=rf"another process \(pid {holder.pid} on "):
            run(config(run_dir, max_steps=2))
        assert not (run_dir / "metrics.jsonl").exists()
    finally:
        holder.kill()
        holder.wait()
    assert run(config(run_dir, max_steps=2)).status == "completed"  # the kernel freed the lock


def test_the_lock_is_released_when_training_ends_or_fails(run_dir):
    rd = claim(RunDir(run_dir))
    with pytest.raises(RuntimeError), locked(rd):
        raise RuntimeError("boom")
    with locked(rd):  # free again
        pass


# -- 2. NaN weights are never a complete checkpoint -------------------------------------------


@pytest.mark.slow  # two trainings
def test_a_save_between_two_logs_never_keeps_nan_weights(tiny_model_dir, run_dir):
    import torch

    def poison(state):
        with torch.no_grad():
            next(p for p in state.model.parameters() if p.requires_grad).fill_(float("nan"))

    # saves at 2, 4, 6; logs at 5, 10: the save at step 4 comes before NanGuard sees step 3's NaN
    cfg = config(run_dir, max_steps=20, save_every=2, log_every=5, eval_every=0)
    result = run(cfg, callbacks=[At(3, poison)])
    assert result.status == "diverged" and "NaN or infinite by step 4" in result.message
    assert result.steps == 4
    assert [p.name for p in complete_checkpoints(run_dir / "checkpoints")] == ["checkpoint-2"]
    assert result.adapter_dir is None
    rerun = run(cfg)
    assert rerun.status == "completed"  # resumed from step 3 or started over: not from NaNs


# -- 4. finishing is idempotent ---------------------------------------------------------------


def _adapter_tensors(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


@pytest.mark.slow
def test_killed_after_the_final_checkpoint_the_rerun_finishes_without_training(
    tiny_model_dir, tmp_path
):
    import torch

    straight = run(config(tmp_path / "straight", max_steps=4, save_every=2, eval_every=2))
    cut = tmp_path / "cut"
    first = run(config(cut, max_steps=4, save_every=2, eval_every=2))
    assert first.status == "completed"
    # the state a kill leaves between the final checkpoint and train_result.json
    (cut / "train_result.json").unlink()
    for name in ("adapter", "figures"):
        subprocess.run(["rm", "-rf", str(cut / name)], check=True)
    again = run(config(cut, max_steps=4, save_every=2, eval_every=2))
    assert again.status == "completed" and again.steps == 4 and again.max_steps == 4
    assert again.resumed_from and again.resumed_from.endswith("checkpoint-4")
    a, b = _adapter_tensors(Path(straight.adapter_dir)), _adapter_tensors(Path(again.adapter_dir))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    steps = [r["step"] for r in again.history if r["kind"] == "train"]
    assert max(steps) == 4 and len(steps) == len(set(steps))
    assert again.tokens_seen == straight.tokens_seen


# -- 6. checkpoint publish and its faults -----------------------------------------------------

PUBLISH_CHILD = """
import os, shutil, sys
from pathlib import Path
from workbench.training import checkpoints as C

root, kill_at = Path(sys.argv[1]), int(sys.argv[2])
calls = [0]
def dies(real):
    def call(*args, **kwargs):
        calls[0] += 1
        if calls[0] == kill_at:
            os._exit(9)  # no cleanup, no finally: what kill -9 leaves
        return real(*args, **kwargs)
    return call
os.replace = dies(os.replace)
shutil.rmtree = dies(shutil.rmtree)
C.publish(root / ".staging-checkpoint-4" / "checkpoint-4", root / "checkpoint-4")
"""


def _fake_checkpoint(folder: Path, step: int, tag: str, *, marked: bool = True) -> None:
    folder.mkdir(parents=True)
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step, "max_steps": 8}))
    (folder / "adapter_model.safetensors").write_text(tag)
    if marked:
        (folder / "WORKBENCH_CHECKPOINT_COMPLETE").write_text("complete\n")


@pytest.mark.slow  # subprocesses
@pytest.mark.parametrize("kill_at", range(1, 6))
def test_a_kill_anywhere_in_republish_leaves_one_whole_checkpoint(tmp_path, kill_at):
    from workbench.training.checkpoints import remove_leftovers

    root = tmp_path / "checkpoints"
    _fake_checkpoint(root / "checkpoint-2", 2, "two")
    _fake_checkpoint(root / "checkpoint-4", 4, "old four")
    _fake_checkpoint(root / ".staging-checkpoint-4" / "checkpoint-4", 4, "new four", marked=False)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    code = textwrap.dedent(PUBLISH_CHILD)
    subprocess.run([sys.executable, "-c", code, str(root), str(kill_at)], env=env, check=False)
    remove_leftovers(root)
    newest = newest_checkpoint(root)
    assert newest is not None and newest.name == "checkpoint-4"
    assert (newest / "adapter_model.safetensors").read_text() in ("old four", "new four")
    assert sorted(p.name for p in root.iterdir()) == ["checkpoint-2", "checkpoint-4"]


def test_a_marked_but_half_deleted_checkpoint_is_passed_over(tmp_path):
    root = tmp_path / "checkpoints"
    _fake_checkpoint(root / "checkpoint-2", 2, "two")
    half = root / "checkpoint-4"
    _fake_checkpoint(half, 4, "four")
    (half / "trainer_state.json").unlink()  # what an interrupted rmtree can leave
    assert newest_checkpoint(root) == root / "checkpoint-2"
    (half / "trainer_state.json").write_text("{not json")
    assert newest_checkpoint(root) == root / "checkpoint-2"


def test_leftover_staging_folders_are_removed_at_the_next_start(tiny_model_dir, run_dir):
    claim(RunDir(run_dir))
    stale = run_dir / "checkpoints" / ".staging-checkpoint-6"
    stale.mkdir(parents=True)
    (stale / "junk").write_bytes(b"0" * 1024)
    assert run(config(run_dir, max_steps=2)).status == "completed"
    assert not stale.exists()


# -- 9. a full disk mid-run is the caller's error, not a silent "failed" -----------------------


def test_disk_full_during_training_raises_the_os_error(tiny_model_dir, run_dir, monkeypatch):
    import errno

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    fill_disk = At(2, lambda state: monkeypatch.setattr(os, "fsync", full))
    with pytest.raises(OSError) as caught:  # the step-2 checkpoint cannot be published
        run(config(run_dir, max_steps=6, save_every=2), callbacks=[fill_disk])
    assert caught.value.errno == errno.ENOSPC
    assert not list((run_dir / "checkpoints").glob("checkpoint-*"))
