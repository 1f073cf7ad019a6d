"""Event sinks without a model: history, JSONL log, NaN guard, early stopping, stop flag, live views."""

from __future__ import annotations

import math
import threading

from workbench.training.events import (
    EarlyStopping,
    History,
    JsonlLog,
    NanGuard,
    StopFlag,
    TrainState,
    read_jsonl,
)


def test_history_and_jsonl_log_record_the_same_events(tmp_path):
    state, history, log = TrainState(max_steps=10), History(), JsonlLog(tmp_path / "metrics.jsonl")
    for step in (5, 10):
        state.step = step
        for cb in (history, log):
            cb.on_log(state, {"loss": 2.0 / step, "learning_rate": 1e-3})
            cb.on_evaluate(state, {"eval_loss": 3.0 / step})
    assert read_jsonl(tmp_path / "metrics.jsonl") == history.snapshot()
    assert history.series("eval_loss") == ([5, 10], [0.6, 0.3])


def test_sinks_called_train_eval_interleaved_record_one_time_per_event(tmp_path):
    """The CI flake made deterministic: the clock moves between the two sinks' calls."""
    state, history, log = TrainState(max_steps=5), History(), JsonlLog(tmp_path / "metrics.jsonl")
    state.step = 5
    history.on_log(state, {"loss": 0.4})
    history.on_evaluate(state, {"eval_loss": 0.6})
    state.started_at -= 2.0  # two seconds pass before the second sink hears of the same events
    log.on_log(state, {"loss": 0.4})
    log.on_evaluate(state, {"eval_loss": 0.6})
    assert read_jsonl(tmp_path / "metrics.jsonl") == history.snapshot()


def test_read_jsonl_skips_a_torn_last_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"step": 1, "kind": "train", "loss": 1.0}\n{"step": 2, "ki')
    assert [r["step"] for r in read_jsonl(path)] == [1]


def test_nan_guard_marks_the_run_diverged_with_advice():
    state = TrainState(step=7)
    NanGuard().on_log(state, {"loss": 1.5, "grad_norm": 0.3})
    assert not state.stop_requested
    NanGuard().on_log(state, {"loss": math.nan, "grad_norm": 0.3})
    assert state.stop_requested and state.stop_status == "diverged"
    assert "step 7" in state.message and "learning_rate" in state.message


def test_diverged_wins_over_an_earlier_stop_request():
    state = TrainState()
    state.request_stop("stopped", "user")
    NanGuard().on_log(state, {"loss": math.inf})
    assert state.stop_status == "diverged"


def test_early_stopping_counts_evaluations_without_improvement():
    state, stopper = TrainState(), EarlyStopping(patience=2)
    for loss in (3.0, 2.0, 2.5):
        stopper.on_evaluate(state, {"eval_loss": loss})
    assert not state.stop_requested
    stopper.on_evaluate(state, {"eval_loss": 2.1})
    assert state.stop_requested and state.stop_status == "stopped"


def test_stop_flag_set_from_another_thread_stops_at_the_next_step():
    state, flag = TrainState(step=3), StopFlag()
    flag.on_step_end(state)
    assert not state.stop_requested
    t = threading.Thread(target=flag.set)
    t.start()
    t.join()
    flag.on_step_end(state)
    assert state.stop_requested and "step 3" in state.message


def test_live_plot_throttles_redraws_and_leaves_a_static_figure():
    import plotly.graph_objects as go

    from workbench.ui.live import LiveLossPlot

    plot = LiveLossPlot(backend="widget", min_interval=3600)
    widget = plot.show()
    state = TrainState(max_steps=100)
    for step in range(1, 51):
        state.step = step
        plot.on_log(state, {"loss": 1.0 / step, "learning_rate": 1e-3})
    assert plot.redraws == 1  # the first event draws; the rest fall inside the interval
    plot.on_train_end(state)
    assert list(widget.data[0].x)[-1] == 50  # the end always flushes
    fig = plot.close()
    assert type(fig) is go.Figure and len(fig.data) == 9 and plot.widget is None


def test_progress_line_reports_rate_and_eta():
    from workbench.ui.live import describe_progress

    state = TrainState(step=50, max_steps=100, tokens_seen=5000)
    text = describe_progress(state, started=state.started_at - 10)
    assert text.startswith("step 50/100") and "500 tok/s" in text and "ETA 10s" in text
    state.status = "stopped"  # after Stop there is no time left to predict
    text = describe_progress(state, started=state.started_at - 10)
    assert "ETA" not in text and text.endswith("stopped after 10s")


def test_progress_lines_reports_step_loss_and_eval():
    from workbench.training.events import ProgressLines, TrainState

    lines: list[str] = []
    sink = ProgressLines(lines.append)
    state = TrainState(max_steps=10, step=4, tokens_seen=400)
    sink.on_log(state, {"loss": 1.25, "learning_rate": 0.001})
    sink.on_evaluate(state, {"eval_loss": 0.5})
    assert lines[0].startswith("step 4/10") and "loss 1.25" in lines[0] and "tok/s" in lines[0]
    assert "eta" in lines[0]
    assert lines[1] == "step 4/10  eval  eval_loss 0.5"


def test_the_live_plot_shows_kl_to_base_once_a_run_logs_it():
    from workbench.ui.live import LiveLossPlot

    plot = LiveLossPlot(backend="widget", min_interval=0)
    widget = plot.show()
    kl = next(t for t in widget.data if t.name.startswith("KL to base"))
    state = TrainState(max_steps=10)
    state.step = 1
    plot.on_log(state, {"loss": 2.0, "learning_rate": 1e-3})
    assert list(kl.x) == [] and kl.showlegend is False  # a run without the term: no KL entry
    for step in (2, 3):
        state.step = step
        plot.on_log(state, {"loss": 1.5, "learning_rate": 1e-3, "kl_to_base": 0.01 * step})
    assert list(kl.x) == [2, 3] and list(kl.y) == [0.02, 0.03] and kl.showlegend is True
    plot.close()
