"""Notebook 03's live views read well: whole steps, no negative LR axis, visible single points,
a legend from the start, an ETA without evaluation time, and Stop reported at the next step."""

from __future__ import annotations

import json
import time

from test_train import conversations

from workbench.config import TrainConfig
from workbench.training.events import ProgressLines, TrainState


def test_loss_figure_with_one_point_has_whole_steps_a_legend_and_no_negative_lr():
    from workbench.plots import loss_figure

    fig = loss_figure(
        [{"kind": "train", "step": 1, "loss": 2.0, "learning_rate": 1e-3}], max_steps=20
    )
    layout = fig.layout
    assert layout.showlegend is True
    assert layout.yaxis2.rangemode == "tozero" and layout.yaxis2.zeroline is False
    assert list(layout.xaxis.range) == [0, 20] and layout.xaxis.dtick == 2
    assert layout.xaxis.tickformat == "d"
    train, _, _, lr, *_ = fig.data
    assert "markers" in train.mode and "markers" in lr.mode  # one point is drawn, not hidden
    empty = loss_figure([], max_steps=3)  # the first frame, before any point
    assert empty.layout.showlegend is True and empty.layout.xaxis.dtick == 1


def test_live_plot_spans_the_whole_run_from_the_start():
    from workbench.ui.live import LiveLossPlot

    plot = LiveLossPlot(backend="widget", min_interval=0)
    widget = plot.show()
    plot.on_train_begin(TrainState(max_steps=20))
    assert list(widget.layout.xaxis.range) == [0, 20] and widget.layout.xaxis.dtick == 2
    plot.close()


def test_progress_line_eta_leaves_out_the_evaluation_and_says_it_runs():
    from workbench.ui.live import ProgressLine

    line = ProgressLine(min_interval=0, eval_first=True)
    state = TrainState(max_steps=11)
    line.on_train_begin(state)
    assert "evaluating the base model first" in line.text
    time.sleep(1.0)  # the initial evaluation
    line.on_evaluate(state, {"eval_loss": 1.0})
    time.sleep(0.1)  # one training step
    state.step, state.tokens_seen = 1, 100
    line.on_step_end(state)
    eta = float(line.text.split("ETA ")[1].rstrip("s"))
    assert eta <= 3, line.text  # about 10 x 0.1 s; counting the evaluation would give ~11 s
    state.stop_requested = True
    line.on_step_end(state)
    assert "final eval loss" in line.text


def test_progress_lines_eta_leaves_out_the_evaluation():
    lines: list[str] = []
    sink = ProgressLines(lines.append)
    state = TrainState(max_steps=11)
    sink.on_train_begin(state)
    time.sleep(1.0)
    sink.on_evaluate(state, {"eval_loss": 1.0})
    time.sleep(0.1)
    state.step = 1
    sink.on_step_end(state)
    sink.on_log(state, {"loss": 1.0})
    assert float(lines[-1].split("eta ")[1].split(" s")[0]) <= 3, lines[-1]


def test_panel_reports_stop_at_the_next_step(tiny_model_dir, run_dir, tmp_path):
    from workbench.ui.train_panel import TrainPanel

    data = tmp_path / "chat.jsonl"
    data.write_text("".join(json.dumps({"messages": c}) + "\n" for c in conversations(32)))
    cfg = TrainConfig(
        model="tiny-random",
        dataset=str(data),
        run_dir=str(run_dir),
        max_steps=500,
        batch_size=4,
        log_every=1,
        max_length=128,
    )
    panel = TrainPanel(cfg, min_interval=0.0)
    seen: list[str] = []
    panel.status.observe(lambda change: seen.append(change["new"]), "value")
    panel.train_button.click()
    deadline = time.monotonic() + 120
    while not any(r["kind"] == "train" for r in panel.plot.records) and time.monotonic() < deadline:
        time.sleep(0.05)
    clicked_at = max(r["step"] for r in panel.plot.records)
    panel.stop_button.click()
    result = panel.wait(timeout=120)
    assert result.status == "stopped"
    (report,) = [s for s in seen if s.startswith("Stopped at step")]
    step = int(report.split()[3])
    assert clicked_at <= step <= clicked_at + 2 and step == result.steps
    assert seen.index(report) < len(seen) - 1  # shown before the run's final status


def test_the_output_backend_redraws_as_widget_state():
    """The panel's plot is an Output whose whole content is the latest figure: a page that renders
    it late still draws every point so far (a FigureWidget's updates are transient messages)."""
    from workbench.ui.live import LiveLossPlot

    plot = LiveLossPlot(backend="output", min_interval=0)
    output = plot.show()
    state = TrainState(max_steps=4)
    plot.on_train_begin(state)
    for step in (1, 2, 3):
        state.step = step
        plot.on_log(state, {"loss": 1.0 / step, "learning_rate": 1e-3})

    def drawn() -> dict:
        (bundle,) = output.outputs  # one output, replaced at each redraw
        return bundle["data"]["application/vnd.plotly.v1+json"]

    train = drawn()["data"][0]
    assert list(train["x"]) == [1, 2, 3] and list(train["y"]) == [1.0, 0.5, 1.0 / 3]
    assert list(drawn()["layout"]["xaxis"]["range"]) == [0, 4]
    fig = plot.close()
    assert list(fig.data[0].x) == [1, 2, 3] and drawn()["data"][0]["x"] == train["x"]


def test_progress_line_leaves_the_sample_answers_out_of_the_eta_and_says_they_run():
    from workbench.ui.live import ProgressLine

    line = ProgressLine(min_interval=0, samples=True)
    state = TrainState(max_steps=11)
    line.on_train_begin(state)
    line.on_evaluate(state, {"eval_loss": 1.0})
    assert "answering the sample prompts" in line.text
    time.sleep(1.0)  # generating the sample answers
    line.on_samples(state, [])
    assert "answering" not in line.text
    time.sleep(0.1)  # one training step
    state.step, state.tokens_seen = 1, 100
    line.on_step_end(state)
    eta = float(line.text.split("ETA ")[1].rstrip("s"))
    assert eta <= 3, line.text  # about 10 x 0.1 s; counting the answers would give ~11 s


def test_a_dpo_run_draws_its_reward_margin_and_preference_accuracy():
    from workbench.plots import loss_figure

    start = {"eval_loss": 0.693, "eval_reward_margin": 0.0, "eval_preference_accuracy": 0.5}
    history = [
        {"kind": "eval", "step": 0, **start},
        {
            "kind": "train",
            "step": 2,
            "loss": 0.6,
            "reward_margin": 0.4,
            "preference_accuracy": 0.75,
        },
        {"kind": "train", "step": 4, "loss": 0.4, "reward_margin": 1.1, "preference_accuracy": 1.0},
    ]
    traces = {t.name: t for t in loss_figure(history).data}
    assert list(traces["reward margin"].x) == [2, 4]
    assert list(traces["reward margin"].y) == [0.4, 1.1]
    assert list(traces["eval reward margin"].y) == [0.0]
    assert list(traces["preference accuracy"].y) == [0.75, 1.0]
    assert list(traces["eval preference accuracy"].x) == [0]
    dpo = ("reward margin", "eval reward margin", "preference accuracy", "eval preference accuracy")
    assert all(traces[name].showlegend for name in dpo)
    plain = {t.name: t for t in loss_figure([{"kind": "train", "step": 1, "loss": 2.0}]).data}
    assert all(plain[name].showlegend is False and list(plain[name].x) == [] for name in dpo)
