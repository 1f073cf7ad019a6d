"""Notebook 02 headless (papermill): advice, estimates, a probe on the tiny model, technique.json for notebook 03."""

from __future__ import annotations

import json

import nbformat
import pytest
from conftest import run_notebook

from workbench import TrainConfig


@pytest.mark.slow
def test_notebook_02_writes_technique_json(tiny_model_dir, run_dir):
    out = run_notebook(
        "02_choose_technique.ipynb",
        run_dir,
        model="tiny-random",
        technique="lora",
        max_length=32,
        batch_size=2,
        run_probe=True,
        probe_steps=2,
        hourly_price=0.5,
        goal_format=True,
        good_examples=400,
    )
    choice = json.loads((run_dir / "technique.json").read_text())
    assert set(choice) == {"train_config", "estimate", "advice", "probe"}
    cfg = TrainConfig.from_dict(choice["train_config"])  # notebook 03 reads exactly this
    assert (cfg.model, cfg.technique, cfg.max_length, cfg.batch_size) == (
        "tiny-random",
        "lora",
        32,
        2,
    )
    assert cfg.run_dir == str(run_dir)
    est = choice["estimate"]
    assert est["technique"] == "lora" and est["fits"] is True and est["peak_bytes"] > 0
    assert est["calibration"] and est["calibration"]["memory_ratio"] == pytest.approx(
        choice["probe"]["memory_ratio"]
    )
    assert est["wall_s"] > 0 and est["cost"] > 0
    assert choice["probe"]["peak_bytes"] > 0 and len(choice["probe"]["losses"]) == 2
    assert choice["advice"]["recommendation"] == "finetune"
    assert (run_dir / "figures" / "memory.html").is_file()
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in outputs)
    assert not nb.metadata.get("widgets"), "no widget state in a headless run"
