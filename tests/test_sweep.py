"""Sweeps on the tiny model: a 4-variant grid through the engine, Optuna's pruner stops the clear loser."""

from __future__ import annotations

import pytest
from test_train import config, conversations

from workbench.errors import ConfigError
from workbench.pipeline.sweep import parse_grid, sweep, variants
from workbench.training.result import TrainResult

pytest.importorskip("optuna")


@pytest.mark.slow
def test_grid_of_four_prunes_the_losing_rate_and_ends_in_the_run_comparison(
    tiny_model_dir, tmp_path
):
    base = config(tmp_path / "sweep", max_steps=8, eval_every=2, log_every=2)
    grid = {"learning_rate": [2e-3, 5e-3, 1e-6], "lora_r": [8]}
    grid["learning_rate"].append(3e-3)  # 4 variants; the 1e-6 one cannot keep up
    result = sweep(
        base,
        grid,
        root=tmp_path / "sweep",
        train_data=conversations(),
        eval_data=conversations(8, offset=100),
    )
    names = [v.name for v in result.variants]
    assert names == [f"learning_rate={lr}-lora_r=8" for lr in grid["learning_rate"]]
    assert "learning_rate=1e-06-lora_r=8" in result.pruned, result.summary_lines()
    assert result.variants[0].status == "completed"  # the first sets the bar: never pruned
    for name in result.pruned:
        pruned = TrainResult.load(tmp_path / "sweep" / name)
        assert pruned.status == "stopped" and "Pruned by Optuna's median pruner" in pruned.message
        assert pruned.steps < 8
    done = [v for v in result.variants if v.status == "completed"]
    assert len(done) + len(result.pruned) == 4
    assert all(TrainResult.load(v.run_dir).steps == 8 for v in done)
    assert result.best == min(done, key=lambda v: v.best_eval_loss).name
    c = result.comparison
    assert [r.name for r in c.runs] == names
    assert set(c.config_diff) == {"learning_rate"}  # lora_r is the same everywhere


def test_grid_parsing_and_bad_fields_are_named(tmp_path):
    assert parse_grid(["learning_rate=1e-4,3e-4", "lora_r=8,16"]) == {
        "learning_rate": [1e-4, 3e-4],
        "lora_r": [8, 16],
    }
    with pytest.raises(ConfigError, match="FIELD=V1,V2"):
        parse_grid(["learning_rate"])
    base = config(tmp_path / "s")
    with pytest.raises(ConfigError, match="learning_rat .did you mean learning_rate"):
        variants(base, {"learning_rat": [1e-3]}, tmp_path)
    with pytest.raises(ConfigError, match="lora_r must be > 0"):
        variants(base, {"lora_r": [8, 0]}, tmp_path)  # refused before any variant trains
