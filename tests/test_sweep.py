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


def _study_with_a_finished_trial(losses: dict[int, float]):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(pruner=optuna.pruners.MedianPruner(n_startup_trials=1))
    first = study.ask()
    for step, loss in losses.items():
        first.report(loss, step)
    study.tell(first, min(losses.values()))
    return study


def test_a_run_within_the_margin_of_the_finished_median_is_not_pruned():
    """Optuna's median pruner prunes on any difference (0.1766 vs 0.1762 on the default model);
    the sweep prunes only beyond `margin` of the finished variants' median at that step."""
    from workbench.pipeline.sweep import PruneOnEval
    from workbench.training.events import TrainState

    study = _study_with_a_finished_trial({4: 0.26, 8: 0.1762})
    close = PruneOnEval(study.ask(), "median", margin=0.05)
    state = TrainState(step=8)
    close.on_evaluate(state, {"eval_loss": 0.1766})
    assert close.trial.should_prune()  # Optuna alone would prune it
    assert not close.pruned and not state.stop_requested and close.spared == [8]

    far = PruneOnEval(study.ask(), "median", margin=0.05)
    state = TrainState(step=4)
    far.on_evaluate(state, {"eval_loss": 0.64})
    assert far.pruned and state.stop_requested
    assert "more than 5% worse than the finished variants' median at this step (0.2600)" in (
        state.message
    )

    strict = PruneOnEval(study.ask(), "median", margin=0.0)  # margin 0: Optuna's decision
    state = TrainState(step=8)
    strict.on_evaluate(state, {"eval_loss": 0.1766})
    assert strict.pruned and state.stop_requested


def test_the_margin_is_checked(tmp_path):
    with pytest.raises(ConfigError, match="prune_margin must be in"):
        sweep(config(tmp_path / "s", eval_every=2), {"lora_r": [8]}, prune_margin=1.5)
