"""Notebook 04 headless on a real tiny LoRA run: comparison.json / .html and figures written, no widgets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_notebook

from workbench.config import TrainConfig
from workbench.data.dataset import load_dataset
from workbench.training.engine import train


def tiny_lora_run(run_dir: Path, dataset: str = "orders-json") -> Path:
    """A two-step LoRA run of the tiny model; its config names `dataset`, whose eval split is held out."""
    convs = load_dataset(dataset, split="train").conversations[:8]
    cfg = TrainConfig(
        model="tiny-random",
        dataset=dataset,
        run_dir=str(run_dir),
        max_steps=2,
        batch_size=4,
        log_every=1,
        max_length=1024,
    )
    result = train(cfg, train_data=convs, eval_data=convs[:2])
    assert result.status == "completed", result.message
    return run_dir


@pytest.mark.slow
def test_notebook_04_writes_the_comparison(tiny_model_dir, run_dir):
    tiny_lora_run(run_dir)
    out = run_notebook(
        "04_compare.ipynb", run_dir, max_eval_prompts=3, max_probe_prompts=2, max_new_tokens=6
    )
    data = json.loads((run_dir / "comparison.json").read_text(encoding="utf-8"))
    assert data["dataset"] == "orders-json" and len(data["rows"]) == 3
    assert {"json_parses", "schema_valid", "field_accuracy", "exact_match", "chrf"} <= set(
        data["summary"]
    )
    assert data["models"]["base_path"] == "adapter disabled"
    probe = data["forgetting"]
    n_probe = len(load_dataset("general-probe", split="eval"))
    assert probe["dataset"] == "general-probe" and len(probe["rows"]) == min(2, n_probe)
    assert probe["perplexity"]["base"] > 1 and probe["perplexity"]["tuned"] > 1
    assert isinstance(data["forgetting_flag"], bool)
    page = (run_dir / "comparison.html").read_text(encoding="utf-8")
    assert "Base vs tuned on orders-json" in page and "Forgetting probe" in page
    assert "plotly" in (run_dir / "figures" / "comparison.html").read_text(encoding="utf-8").lower()
    cells = json.loads(out.read_text())["cells"]
    [view_cell] = [
        c
        for c in cells
        if c["cell_type"] == "code" and "".join(c["source"]).startswith("if interactive")
    ]
    assert view_cell["outputs"] == []  # headless: no widgets
    assert "Base vs tuned on orders-json" in json.dumps(cells)  # the table is in the saved notebook


@pytest.mark.slow
def test_notebook_04_with_constrained_decoding_writes_both_comparisons(tiny_model_dir, run_dir):
    tiny_lora_run(run_dir)
    out = run_notebook(
        "04_compare.ipynb",
        run_dir,
        max_eval_prompts=2,
        probe_dataset=None,
        max_new_tokens=12,
        constrained_decoding=True,
    )
    free = json.loads((run_dir / "comparison.json").read_text(encoding="utf-8"))
    held = json.loads((run_dir / "constrained_comparison.json").read_text(encoding="utf-8"))
    assert free["generation"]["constrain"] is False and held["generation"]["constrain"] is True
    assert [r["row_id"] for r in held["rows"]] == [r["row_id"] for r in free["rows"]]
    # cut at 12 tokens, yet held to the schema from the first one
    assert all(r["tuned"].startswith('{"customer":') for r in held["rows"])
    assert held["forgetting"] is None
    assert "decoded against the task's JSON schema" in out.read_text()


@pytest.mark.slow
def test_notebook_04_skips_constrained_decoding_for_data_without_a_schema(tiny_model_dir, run_dir):
    tiny_lora_run(run_dir, dataset="support-tone")
    out = run_notebook(
        "04_compare.ipynb", run_dir, max_eval_prompts=1, probe_dataset=None, max_new_tokens=4
    )
    assert (run_dir / "comparison.json").is_file()
    assert not (run_dir / "constrained_comparison.json").exists()
    assert "Skipped: Constrained decoding needs a JSON schema, and support-tone has none" in (
        out.read_text()
    )
