"""The public API: every exported name resolves, and functions are not shadowed by submodules."""

import importlib
import types

import pytest

import workbench


def test_every_export_resolves():
    for name in workbench.__all__:
        assert getattr(workbench, name) is not None, name


def test_functions_win_over_same_named_submodules():
    for name in ("estimate", "train", "compare"):
        module = importlib.import_module(f"workbench.{name}")
        assert isinstance(module, types.ModuleType)
        value = getattr(workbench, name)
        assert callable(value) and not isinstance(value, types.ModuleType), name
        assert value is getattr(module, name)


@pytest.mark.slow
def test_a_training_script_exported_before_the_regrouping_still_trains(tiny_model_dir, tmp_path):
    import json
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from workbench.config import TrainConfig

    folder = tmp_path / "scaleout"
    folder.mkdir()
    script = Path(__file__).parent / "fixtures" / "train_exported_before_the_regrouping.py"
    shutil.copy(script, folder / "train.py")
    run_dir = tmp_path / "run"
    TrainConfig(
        model="tiny-random",
        max_steps=2,
        batch_size=4,
        max_length=512,  # orders-json rows run to ~360 tokens; their answers come last
        eval_every=0,
        eval_at_start=False,
        log_every=1,
        max_train_rows=8,
        max_eval_rows=4,
        run_dir=str(run_dir),
    ).to_yaml(folder / "train_config.yaml")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, str(folder / "train.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((run_dir / "train_result.json").read_text())["status"] == "completed"
