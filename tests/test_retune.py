"""`workbench retune`: a finished run's parameters rerun on a new base through notebooks 01-05.

End to end on two tiny bases (the shipped tiny model and one built with another seed): the new
run has the same parameters but the model, both trainings' time is recorded, the model card says
the re-tune is a recurring cost, the two runs are compared, and the old run is left as it was.
"""

from __future__ import annotations

import hashlib
import json

import pytest
import yaml

from workbench.config import TrainConfig
from workbench.errors import ConfigError
from workbench.pipeline.retune import RetuneRecord, previous_parameters, retune
from workbench.pipeline.runner import run_pipeline
from workbench.pipeline.summary import RunSummary
from workbench.rundir import RunDir
from workbench.training.claim import claim

TINY_PIPELINE = {
    "model": "tiny-random",
    "dataset": "orders-json",
    "max_length": 512,  # the tiny tokenizer needs more tokens per row than the real one
    "technique": "lora",
    "max_train_rows": 16,
    "max_eval_rows": 4,
    "max_steps": 2,
    "batch_size": 4,
    "max_new_tokens": 8,
    "run_probe": False,
    "max_probe_prompts": 2,
    "bias_pairs": 2,
    "bias_max_new_tokens": 4,
    "sample_prompts": 0,
    "gates": {"max_truncated_share": 1.0},
}


def _hashes(folder) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def second_base(tmp_path):
    from workbench.models import build_tiny_model

    folder = tmp_path / "tiny-seed-1"
    folder.mkdir()
    return build_tiny_model(folder, seed=1)


@pytest.mark.slow
def test_retune_reruns_the_pipeline_on_a_new_base_and_compares(
    tmp_path, tiny_model_dir, second_base
):
    params = tmp_path / "p.yaml"
    params.write_text(yaml.safe_dump(TINY_PIPELINE))
    old = tmp_path / "runs" / "orders"
    first = run_pipeline(params, run_dir=old, profile=None)
    assert first.ok, first.reasons()
    before = _hashes(old)

    result = retune(old, model=str(second_base))
    assert result.ok, result.pipeline.reasons()
    new = RunDir(result.run_dir)
    assert new.root == old.with_name(f"orders-{second_base.name}")
    assert _hashes(old) == before  # the run it repeats is left as it was

    old_params, new_params = RunSummary.load(old).parameters, RunSummary.load(new.root).parameters
    assert new_params["model"] == str(second_base)
    assert {k: v for k, v in new_params.items() if k != "model"} == {
        k: v for k, v in old_params.items() if k != "model"
    }
    assert TrainConfig.from_yaml(new.train_config_yaml).model == str(second_base)

    record = RetuneRecord.load(new.root)
    assert (record.previous_run, record.previous_model) == (str(old), "tiny-random")
    assert record.status == "ok" and record.parameters_from.endswith("summary.json")
    assert record.previous_train_seconds > 0 and record.train_seconds > 0
    assert record.flops and record.previous_flops
    card = (new.docs_dir / "model_card.md").read_text()
    assert "Re-tuning on a new base" in card and "recurring cost" in card
    assert f"{record.train_seconds:.0f} s" in card  # the docs were rewritten with both trainings

    comparison = result.comparison
    assert [r.name for r in comparison.runs] == [
        "orders (tiny-random)",
        f"{new.root.name} ({second_base})",
    ]
    assert "model" in comparison.config_diff and "dataset" not in comparison.config_diff
    assert new.retune_comparison_html.is_file()
    assert json.loads(new.retune_json.read_text())["model"] == str(second_base)


def test_parameters_come_from_train_config_when_no_pipeline_ran(tmp_path):
    run = claim(RunDir(tmp_path / "trained"))
    cfg = TrainConfig(
        model="tiny-random", dataset="support-tone", max_steps=7, run_dir=str(run.root)
    )
    cfg.save(run.root)
    params, source, model = previous_parameters(run)
    assert source.endswith("train_config.yaml") and model == "tiny-random"
    assert params.shared["max_steps"] == 7 and params.shared["dataset"] == "support-tone"
    assert "run_dir" not in params.shared  # the new run gets its own


def test_what_retune_refuses(tmp_path):
    with pytest.raises(ConfigError, match="no summary.json and no train_config.yaml"):
        previous_parameters(RunDir(tmp_path))
    run = claim(RunDir(tmp_path / "trained"))
    TrainConfig(model="tiny-random", run_dir=str(run.root)).save(run.root)
    with pytest.raises(ConfigError, match="already trained on 'tiny-random'"):
        retune(run.root, model="tiny-random")
    with pytest.raises(ConfigError, match="must not overwrite the run it repeats"):
        retune(run.root, model="other", new_run_dir=run.root)
    foreign = tmp_path / "project"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="did not write"):
        retune(run.root, model="other", new_run_dir=foreign)
    assert (foreign / "notes.txt").read_text() == "mine" and sorted(foreign.iterdir()) == [
        foreign / "notes.txt"
    ]


def test_the_recurring_line_names_both_trainings():
    record = RetuneRecord(
        previous_run="/runs/orders",
        previous_model="smollm2-135m-instruct",
        model="smollm2-360m-instruct",
        parameters_from="/runs/orders/summary.json",
        started="2026-12-03T17:00:00Z",
        previous_train_seconds=1262.0,
        previous_flops=2.1e15,
    )
    line = record.recurring_line()
    assert "`orders` (base `smollm2-135m-instruct`)" in line and "1262 s (2.10e+15 FLOP)." in line
    record.train_seconds, record.flops = 2400.0, 5.5e15
    assert "; this one 2400 s (5.50e+15 FLOP)." in record.recurring_line()
    assert "recurring cost" in line
