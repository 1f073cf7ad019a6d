"""Notebook 03 headless (papermill): trains with its parameters, leaves the artifacts and a static figure."""

from __future__ import annotations

import json

import nbformat
import pytest
from conftest import run_notebook


@pytest.mark.slow
def test_notebook_03_trains_headless(tiny_model_dir, run_dir, tmp_path):
    data = tmp_path / "chat.jsonl"
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Say {i}."},
                {"role": "assistant", "content": f"{i}"},
            ]
        }
        for i in range(24)
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    # notebook 02's choice is the base; the notebook's parameters override it
    chosen = {
        "model": "tiny-random",
        "technique": "lora",
        "dataset": str(data),
        "max_length": 256,
        "batch_size": 4,
        "log_every": 1,
        "eval_every": 0,
        "max_steps": 50,
    }
    (run_dir / "technique.json").write_text(json.dumps({"train_config": chosen}))
    out = run_notebook("03_train.ipynb", run_dir, max_steps=3)
    result = json.loads((run_dir / "train_result.json").read_text())
    assert result["status"] == "completed" and result["steps"] == 3
    assert result["config"]["dataset"] == str(data)
    assert (run_dir / "adapter" / "adapter_model.safetensors").is_file()
    assert (run_dir / "figures" / "loss.html").is_file() and (
        run_dir / "scaleout" / "train.py"
    ).is_file()
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    plotly = [o for o in outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert plotly, "the static loss figure is missing from the executed notebook"
    traces = plotly[-1]["data"]["application/vnd.plotly.v1+json"]["data"]
    assert len(traces[0]["x"]) == 3  # the final state, not the first point
    assert not nb.metadata.get("widgets"), "no widget state in a headless run"
    assert any("TrainResult" in o.get("data", {}).get("text/html", "") for o in outputs)


@pytest.mark.slow
def test_notebook_03_finds_its_learning_rate_headless(tiny_model_dir, run_dir, tmp_path):
    from workbench import LRFinderResult, TrainConfig

    data = tmp_path / "chat.jsonl"
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Say {i}."},
                {"role": "assistant", "content": f"{i}"},
            ]
        }
        for i in range(24)
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = run_notebook(
        "03_train.ipynb",
        run_dir,
        use_technique_json=False,
        model="tiny-random",
        dataset=str(data),
        max_length=128,
        batch_size=4,
        max_steps=3,
        learning_rate="find",
    )
    found = LRFinderResult.load(run_dir)
    assert found.suggestion and TrainConfig.load(run_dir).learning_rate == found.suggestion
    nb = nbformat.read(out, as_version=4)
    texts = [
        o.get("data", {}).get("text/markdown", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    ]
    assert any(t.startswith(f"**Learning rate found**: {found.suggestion:.2e}") for t in texts)
