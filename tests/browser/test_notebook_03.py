"""Notebook 03 in the browser: Train starts a run, the live loss plot gains points while it runs,
Stop ends it with status `stopped`, and the static figure is left in its place (and in Results)."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# long enough that the test, not the schedule, ends the run (tiny-random trains ~70 steps/s
# here: 500 steps once finished before Stop was pressed, on a CI run); small steps, points often
PARAMS = dict(
    dataset="support-tone",
    max_steps=20_000,
    batch_size=2,
    max_length=256,
    log_every=1,
    max_eval_rows=4,
    eval_every=0,
    save_every=0,
    use_technique_json=False,
)


def test_train_live_plot_and_stop(open_notebook, tmp_path):
    notebook = open_notebook("03_train.ipynb", **PARAMS)
    notebook.run_all(timeout_s=120)

    panel = notebook.output_of("TrainPanel(cfg)")
    status = panel.locator(".widget-html").first
    expect(status).to_contain_text("Ready: lora on tiny-random")
    stop = panel.locator(".jupyter-button", has_text="Stop")
    expect(stop).to_be_disabled()

    panel.locator(".jupyter-button", has_text="Train").click()
    expect(panel.locator(".jupyter-button", has_text="Train")).to_be_disabled()
    expect(status).to_contain_text("Training", timeout=60_000)
    expect(stop).to_be_enabled()
    live = panel.locator(".js-plotly-plot")
    expect(live).to_be_visible()
    seen = _wait_for_points(notebook, live, status, at_least=2)
    _wait_for_points(notebook, live, status, at_least=seen + 1)  # it moves while training runs
    notebook.screenshot(panel, "03_train_live", docs=True)

    stop.click()
    expect(status).to_contain_text("stopped", timeout=180_000)
    static = panel.locator(".widget-output .js-plotly-plot")  # the live widget was swapped out
    expect(static).to_be_visible()
    assert notebook.plot_points(static) >= seen
    expect(panel.locator(".jupyter-button", has_text="Train")).to_be_enabled()
    notebook.screenshot(panel, "03_train_stopped")

    notebook.run_cell("panel.result")  # the Results cell, run again once training has finished
    results = notebook.output_of("panel.result")
    expect(results).to_contain_text("stopped")
    expect(results.locator(".js-plotly-plot")).to_be_visible()
    assert (tmp_path / "run" / "train_result.json").exists()
    assert notebook.errors() == []


def _wait_for_points(notebook, plot, status, *, at_least: int, timeout_s: float = 180) -> int:
    """Wait until the live plot draws `at_least` points; fail at once if the run failed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert "failed" not in status.inner_text(), status.inner_text()
        points = notebook.plot_points(plot)
        if points >= at_least:
            return points
        notebook.page.wait_for_timeout(250)
    raise AssertionError(f"the live plot stayed at {points} points (wanted {at_least})")


_JS_TRACE_X = "(gd, name) => Array.from((gd.data || []).find((t) => t.name === name)?.x || [])"


def _wait_for_trace(notebook, plot, status, name: str, *, at_least: int, timeout_s: float = 120):
    """Wait until the live plot's trace `name` has `at_least` points. The locator is resolved
    afresh each time: each redraw replaces the plot's element (an element handle goes stale)."""
    deadline = time.monotonic() + timeout_s
    xs: list = []
    while time.monotonic() < deadline:
        assert "failed" not in status.inner_text(), status.inner_text()
        xs = plot.evaluate(_JS_TRACE_X, name)
        if len(xs) >= at_least:
            return xs
        notebook.page.wait_for_timeout(250)
    raise AssertionError(f"the live plot's {name!r} stayed at {len(xs)} points (wanted {at_least})")


def test_a_dpo_run_shows_its_reward_margin_live(open_notebook):
    """objective = "dpo" on preference pairs: the live plot draws the reward margin and the
    preference accuracy as the run logs them, and keeps them in the static figure after Stop."""
    params = {**PARAMS, "dataset": "support-tone-pairs", "objective": "dpo", "max_steps": 5_000}
    notebook = open_notebook("03_train.ipynb", **params)
    notebook.run_all(timeout_s=120)
    panel = notebook.output_of("TrainPanel(cfg)")
    status = panel.locator(".widget-html").first
    panel.locator(".jupyter-button", has_text="Train").click()
    live = panel.locator(".js-plotly-plot")
    legend = live.locator(".legendtext")
    expect(legend.filter(has_text="reward margin").first).to_be_visible(timeout=180_000)
    expect(legend.filter(has_text="preference accuracy").first).to_be_visible()
    _wait_for_trace(notebook, live, status, "reward margin", at_least=3)  # drawn while it runs
    panel.locator(".jupyter-button", has_text="Stop").click()
    expect(status).to_contain_text("stopped", timeout=180_000)
    static = panel.locator(".widget-output .js-plotly-plot")
    expect(static).to_be_visible()
    margins = static.evaluate(_JS_TRACE_X, "reward margin")
    assert len(margins) >= 3 and margins == sorted(margins), margins  # one per logged step
    assert static.evaluate(_JS_TRACE_X, "eval reward margin")[0] == 0  # the initial evaluation
    assert notebook.errors() == []
