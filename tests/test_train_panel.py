"""The notebook-03 panel driven like a user would, without a browser: Train, Stop, static figure."""

from __future__ import annotations

import time

from test_train import conversations

from workbench.config import TrainConfig


def test_panel_trains_in_a_thread_stops_on_click_and_leaves_a_static_figure(
    tiny_model_dir, run_dir, tmp_path
):
    import json

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
        eval_every=0,
        eval_at_start=False,
        max_length=256,
    )
    panel = TrainPanel(cfg, min_interval=0.0)
    panel.train_button.click()
    assert (
        panel.thread is not None and panel.thread.is_alive()
    )  # the kernel is free: clicks get through
    assert panel.stop_button.disabled is False and panel.train_button.disabled is True
    deadline = time.monotonic() + 120
    while not panel.plot.records and time.monotonic() < deadline:
        time.sleep(0.2)
    assert panel.plot.records, "no loss point reached the live plot"
    panel.stop_button.click()
    result = panel.wait(timeout=120)
    assert result.status == "stopped" and 0 < result.steps < 500
    assert "stopped" in panel.status.value
    (output,) = panel.plot_box.children  # the live Output, holding the final static figure
    assert output is panel.plot.output and len(output.outputs) == 1
    figure = output.outputs[0]["data"]["application/vnd.plotly.v1+json"]
    train = next(t for t in figure["data"] if t["name"].startswith("train loss"))
    assert list(train["x"]) == [r["step"] for r in panel.plot.records if "loss" in r]
    assert list(train["x"])[-1] == result.steps  # every logged step, the last one included
    assert panel.train_button.disabled is False


def test_find_lr_button_shows_the_range_test_and_trains_at_its_suggestion(
    tiny_model_dir, run_dir, tmp_path
):
    import json

    from workbench.ui.train_panel import TrainPanel

    data = tmp_path / "chat.jsonl"
    data.write_text("".join(json.dumps({"messages": c}) + "\n" for c in conversations(32)))
    cfg = TrainConfig(
        model="tiny-random",
        dataset=str(data),
        run_dir=str(run_dir),
        max_steps=2,
        batch_size=4,
        eval_at_start=False,
        max_length=256,
        learning_rate=2e-4,
    )
    panel = TrainPanel(cfg, min_interval=0.0)
    panel.find_button.click()
    assert panel.train_button.disabled and panel.find_button.disabled  # one job at a time
    panel.thread.join(300)
    found = panel.lr_found
    assert found is not None and found.suggestion, panel.status.value
    assert panel.cfg.learning_rate == found.suggestion != 2e-4
    assert f"{found.suggestion:.2e}" in panel.status.value and not panel.train_button.disabled
    plot, note = panel.lr_box.children
    figure = plot.outputs[0]["data"]["application/vnd.plotly.v1+json"]
    assert figure["layout"]["title"]["text"] == "Learning-rate range test"
    assert "Suggested" in note.value
    panel.train_button.click()
    result = panel.wait(timeout=300)
    assert result.status == "completed", result.message
    assert TrainConfig.load(run_dir).learning_rate == found.suggestion
