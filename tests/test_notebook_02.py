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


@pytest.mark.slow
def test_notebook_02_advises_dpo_for_a_tone_from_preference_pairs(tiny_model_dir, run_dir):
    run_notebook(
        "02_choose_technique.ipynb",
        run_dir,
        model="tiny-random",
        dataset="support-tone-pairs",
        objective="dpo",
        max_length=64,
        batch_size=2,
        goal_format=False,
        goal_tone=True,
    )
    choice = json.loads((run_dir / "technique.json").read_text())
    advice = choice["advice"]
    assert advice["answers"]["good_examples"] == 0  # pairs are counted as pairs, not examples
    assert advice["answers"]["preference_pairs"] >= 100
    assert advice["recommendation"] == "finetune" and advice["objective"] == "dpo"
    assert TrainConfig.from_dict(choice["train_config"]).objective == "dpo"
    assert choice["estimate"]["peak_bytes"] > 0  # the estimate of a DPO step (chosen + rejected)


@pytest.mark.slow
def test_notebook_02_runs_the_lever_trial_headless(tiny_model_dir, run_dir):
    from workbench import LeverTrial

    run_notebook(
        "02_choose_technique.ipynb",
        run_dir,
        model="tiny-random",
        dataset="product-jargon",
        max_length=128,
        batch_size=4,
        max_steps=2,
        max_train_rows=16,
        max_eval_rows=4,
        run_lever_trial=True,
        few_shot_k="1",
        lever_fractions="0.5,1",
        max_new_tokens=4,
    )
    trial = LeverTrial.load(run_dir)
    assert [a.name for a in trial.arms] == [
        "zero-shot",
        "few-shot k=1",
        "retrieval k=3",
        "lora 50%",
        "lora 100%",
    ]
    retrieval = trial.arms[2]
    assert retrieval.detail["searched"] == "catalogue.json"  # the sample's knowledge file
    assert [a.train_rows for a in trial.arms[3:]] == [8, 16]
    assert len(trial.row_ids) == 4 and trial.advisor  # the advisor's answer is kept beside it
    assert (run_dir / "technique.json").is_file()  # the trial does not stop the choice being saved
