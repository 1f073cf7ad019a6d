"""compare_runs on three real tiny-model runs: curves, config diff, metrics with intervals, best run, links."""

from __future__ import annotations

from pathlib import Path

import pytest
from three_runs import LOG_EVERY, RATES, STEPS, train_three_runs

from workbench.comparison.comparison import Comparison, Row
from workbench.comparison.metrics import primary_metric
from workbench.comparison.runs import compare_runs, paired_difference, write_runs_page
from workbench.comparison.stats import summarise
from workbench.config import TrainConfig
from workbench.errors import ConfigError


@pytest.fixture(scope="module")
def three_runs(tiny_model_dir, tmp_path_factory) -> list[Path]:
    return train_three_runs(tmp_path_factory.mktemp("runs"))


@pytest.mark.slow  # its fixture trains three runs
def test_three_runs_side_by_side(three_runs, tmp_path):
    summary = compare_runs(three_runs).runs[0].comparison.summary
    assert compare_runs(three_runs).metric == primary_metric(summary)
    c = compare_runs(three_runs, metric="chrf")  # the tiny model's answers differ in chrF only
    assert [r.name for r in c.runs] == [n for n, _ in RATES]
    assert c.config_diff == {"learning_rate": [lr for _, lr in RATES]}  # only what differs
    assert c.best in {n for n, _ in RATES} and c.best in c.best_reason
    assert "95% interval" in c.best_reason
    assert len(c.differences) == 2 and all(d.run == c.best for d in c.differences)
    assert all(d.ci[0] <= d.delta <= d.ci[1] and d.n == 6 for d in c.differences)
    assert {m["run"] for m in c.metric_rows()} == {n for n, _ in RATES}
    assert len(c.forgetting_rows()) == 3
    # general-probe's unknown questions are asked too (capped like the probe): a net drop per run
    assert all(isinstance(f["net_drop"], float) for f in c.forgetting_rows())

    figures = c.figures()
    assert set(figures) == {"step", "tokens", "time"}
    by_tokens = figures["tokens"]
    assert len(by_tokens.data) == 6  # train + eval per run
    train_trace = by_tokens.data[0]
    assert list(train_trace.x) == sorted(train_trace.x) and train_trace.x[-1] > 0
    assert len(train_trace.x) == STEPS // LOG_EVERY

    page = write_runs_page(c, tmp_path / "runs.html")
    text = page.read_text()
    for name, _ in RATES:
        assert f"{name}/comparison.html" in text  # a link to each run's comparison page
    assert text.count("<h4>What the configs change</h4>") == 1
    assert "net drop (known + unknown)" in text
    assert "lora_r" not in text.split("Comparison metrics")[0]  # equal fields are not shown


def test_differences_are_paired_by_prompt_and_flagged_when_the_interval_excludes_zero():
    def comparison(scores: list[float]) -> Comparison:
        rows = [
            Row(i, [{"role": "user", "content": "q"}], "r", "b", "t", {"m": 0.0}, {"m": s})
            for i, s in enumerate(scores)
        ]
        return Comparison("d", rows, summarise(rows, ["m"]), None, {}, {})

    better = comparison([1.0] * 18 + [0.0] * 2)
    worse = comparison([0.0] * 18 + [1.0] * 2)
    n, delta, ci = paired_difference(better, worse, "m")
    assert n == 20 and delta == pytest.approx(0.8) and ci[0] > 0
    n, delta, ci = paired_difference(better, comparison([1.0] * 17 + [0.0] * 3), "m")
    assert ci[0] <= 0 <= ci[1]  # one prompt apart out of 20: not shown


def test_a_tie_names_no_best_run():
    """Equal scores: no run is called best by its name; the first listed is the reference."""
    from workbench.comparison.runs import RunView, _best

    def run(name: str, scores: list[float]) -> RunView:
        rows = [
            Row(i, [{"role": "user", "content": "q"}], "r", "b", "t", {"m": 0.0}, {"m": x})
            for i, x in enumerate(scores)
        ]
        comparison = Comparison("d", rows, summarise(rows, ["m"]), None, {}, {})
        return RunView(name, tmp_dir, None, [], "completed", comparison)

    tmp_dir = Path(".")
    tied = [run("zeta", [0.0, 1.0]), run("alpha", [1.0, 0.0]), run("mid", [0.0, 0.0])]
    best, reason = _best(tied, "m")
    assert best == "zeta" and reason.startswith("No single best run on m: zeta, alpha all score")
    best, reason = _best([run("b", [1.0, 1.0]), *tied], "m")
    assert best == "b" and reason.startswith("Best run: b, m 100.0%")


@pytest.mark.slow  # its fixture trains three runs
def test_runs_without_a_comparison_rank_by_eval_loss_and_bad_input_is_named(three_runs, tmp_path):
    with pytest.raises(ConfigError, match="no such run directory"):
        compare_runs([tmp_path / "missing"])
    with pytest.raises(ConfigError, match="No run has metric 'nope'"):
        compare_runs(three_runs, metric="nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="is it a run directory"):
        compare_runs([empty])


@pytest.mark.slow  # its fixture trains three runs
def test_the_view_redraws_against_the_axis_picked(three_runs):
    from workbench.ui.runs import RunsView

    view = RunsView(compare_runs(three_runs))
    assert view.figure().layout.xaxis.title.text == "step"
    view.axis.value = "time"
    assert view.figure().layout.xaxis.title.text == "wall time (s)"
    shown = view.out.outputs[-1]["data"]["application/vnd.plotly.v1+json"]
    assert shown["layout"]["xaxis"]["title"]["text"] == "wall time (s)"  # redrawn, not only built


@pytest.mark.slow
def test_notebook_06_headless_names_the_best_run_and_writes_the_page(three_runs, tmp_path):
    from conftest import run_notebook

    out_dir = tmp_path / "compare"
    dirs = [str(d) for d in three_runs]
    run_notebook("06_compare_runs.ipynb", out_dir, run_dirs=dirs, metric="chrf")
    page = (out_dir / "runs_comparison.html").read_text(encoding="utf-8")
    best = compare_runs(three_runs, metric="chrf")
    assert best.best_reason in page and "95% interval" in page
    assert page.count("comparison.html'") == 3


@pytest.mark.slow  # its fixture trains three runs
def test_tradeoff_has_one_point_per_compared_run_of_the_same_dataset(three_runs):
    from workbench.comparison.runs import runs_tradeoff
    from workbench.plots import tradeoff_figure

    points = runs_tradeoff(three_runs[0])  # the runs beside it, in folder order
    assert sorted(p.run for p in points) == sorted(n for n, _ in RATES)
    for p in points:
        run_dir = three_runs[0].parent / p.run
        comparison = Comparison.load(run_dir)
        summary = comparison.summary[p.metric]
        assert p.task == summary.tuned_mean and p.task_ci == summary.tuned_ci
        assert p.forgetting == comparison.forgetting.largest_drop
        assert p.flag == comparison.forgetting.flag
        assert p.settings["learning_rate"] == TrainConfig.load(run_dir).learning_rate
    c = compare_runs(three_runs)
    c.runs[1].config = c.runs[1].config.replace(dataset="support-tone")
    assert [p.run for p in c.tradeoff()] == ["lr-slow", "lr-fast"]  # another dataset: left out
    assert [p.run for p in c.tradeoff(dataset="support-tone")] == ["lr-mid"]

    fig = tradeoff_figure(points)
    shown = [(x, y) for trace in fig.data for x, y in zip(trace.x, trace.y, strict=True)]
    assert sorted(shown) == sorted((p.forgetting, p.task) for p in points)
    assert sorted(t for trace in fig.data for t in trace.text) == sorted(p.run for p in points)
