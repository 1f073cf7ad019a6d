"""Fault injection: kill -9 a training run at random moments, rerun it, get the uninterrupted run.

The moments are drawn per seed over the whole run after the model is loaded: steps, evaluations,
checkpoint staging and publishing, the final evaluation, saving the adapter, writing the result.
Whatever the moment, the rerun must end `completed` with the same steps, losses, token count and
adapter weights as a run that was never interrupted, and leave no staging folder behind.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.training.checkpoints import REPLACED, STAGING

REPO = Path(__file__).resolve().parents[1]
SEEDS = range(8)

CHILD = """
import sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from workbench.training.events import Callback
from test_train import config, run

class Begin(Callback):
    def on_train_begin(self, state):
        print("begin", flush=True)

cfg = config(Path(sys.argv[1]), max_steps=8, save_every=2, log_every=1, eval_every=4,
             eval_at_start=False, lora_dropout=0.1)
run(cfg, callbacks=[Begin()])
"""


def _start(run_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    code = CHILD.format(tests=str(REPO / "tests"))
    return subprocess.Popen(
        [sys.executable, "-c", code, str(run_dir)],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _wait_begin(proc: subprocess.Popen) -> None:
    line = proc.stdout.readline()
    assert line.strip() == "begin", f"the child never started training (got {line!r})"


def _result(run_dir: Path) -> dict:
    return json.loads((run_dir / "train_result.json").read_text())


def _losses(result: dict) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in result["history"] if r["kind"] == "train"}


def _adapter(run_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(run_dir / "adapter" / "adapter_model.safetensors"))


@pytest.fixture(scope="module")
def straight(tiny_model_dir, tmp_path_factory) -> tuple[Path, float]:
    """The uninterrupted run, and how long it ran after training began."""
    run_dir = tmp_path_factory.mktemp("straight")
    proc = _start(run_dir)
    _wait_begin(proc)
    began = time.monotonic()
    assert proc.wait(timeout=600) == 0
    return run_dir, time.monotonic() - began


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_a_kill_at_a_random_moment_then_a_rerun_equals_the_uninterrupted_run(
    straight, tmp_path, seed
):
    import torch

    reference, duration = straight
    run_dir = tmp_path / "killed"
    proc = _start(run_dir)
    _wait_begin(proc)
    time.sleep(random.Random(seed).uniform(0.0, duration * 1.05))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    rerun = _start(run_dir)
    assert rerun.wait(timeout=600) == 0
    a, b = _result(reference), _result(run_dir)
    assert b["status"] == "completed" and b["steps"] == a["steps"] == 8
    assert sorted(_losses(b)) == list(range(1, 9))
    for step, loss in _losses(a).items():
        assert _losses(b)[step] == pytest.approx(loss, rel=1e-4, abs=1e-5), step
    assert b["tokens_seen"] == a["tokens_seen"]
    ta, tb = _adapter(reference), _adapter(run_dir)
    assert ta.keys() == tb.keys()
    for key in ta:
        torch.testing.assert_close(tb[key], ta[key], rtol=1e-4, atol=1e-5)
    left = [p.name for p in (run_dir / "checkpoints").iterdir()]
    assert not [n for n in left if n.startswith((STAGING, REPLACED))], left
