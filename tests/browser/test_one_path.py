"""Notebooks 01-05 in order, as a workshop participant runs them: 1,280 x 800, file browser open.

Checks the issue's done-when list on the tiny model: one dataset named everywhere (and in the data
card), visible progress and a Stop reported at the next step in 03, no widget wider than its output
area, no library warning in any output.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SMALL = {"width": 1280, "height": 800}
DATASET = "orders-json"

# widgets (and tables) whose right edge passes the right edge of their output area
_JS_OVERFLOWS = """() => {
  const out = [];
  document.querySelectorAll('.jp-OutputArea-output').forEach((area) => {
    const right = area.getBoundingClientRect().right + 1;
    area.querySelectorAll('.jupyter-widgets, .widget-box, table, button').forEach((el) => {
      const box = el.getBoundingClientRect();
      if (box.width > 0 && box.right > right)
        out.push(`${el.className || el.tagName}: ${Math.round(box.right - right)} px too wide`);
    });
  });
  return out;
}"""
_JS_STDERR = """() => Array.from(document.querySelectorAll(
  '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')).map((e) => e.innerText)"""


def _open_with_file_browser(open_notebook, name: str, **params):
    notebook = open_notebook(name, **params)
    page = notebook.page
    page.set_viewport_size(SMALL)
    page.evaluate("() => window.jupyterapp.shell.activateById('filebrowser')")
    page.wait_for_timeout(500)
    return notebook


def _check_page(notebook) -> None:
    page = notebook.page
    page.wait_for_timeout(500)  # let JupyterLab lay the outputs out
    assert page.evaluate(_JS_OVERFLOWS) == []
    warnings = [t for t in page.evaluate(_JS_STDERR) if "Warning" in t or "warn(" in t]
    assert warnings == [], warnings
    assert notebook.errors() == []


def test_one_run_through_the_five_notebooks(open_notebook, tmp_path):
    run = str(tmp_path / "run")

    nb = _open_with_file_browser(open_notebook, "01_inspect_data.ipynb", run_dir=run)
    nb.run_all(timeout_s=240)
    expect(nb.outputs().filter(has_text=f"{DATASET}:").first).to_be_visible()
    _check_page(nb)

    nb = _open_with_file_browser(
        open_notebook,
        "02_choose_technique.ipynb",
        run_dir=run,
        model=None,
        max_steps=400,
        batch_size=2,
        log_every=1,
        max_eval_rows=2,
    )
    nb.run_all(timeout_s=240)
    run_line = nb.outputs().filter(has_text="The run:").first
    expect(run_line).to_contain_text(f"data {DATASET} (as inspected in notebook 01)")
    expect(run_line).to_contain_text("tiny-random")
    expect(nb.outputs().filter(has_text="Probe skipped").first).to_be_visible()
    _check_page(nb)

    nb = _open_with_file_browser(open_notebook, "03_train.ipynb", run_dir=run, model=None)
    nb.run_all(timeout_s=120)
    expect(nb.outputs().filter(has_text="The run:").first).to_contain_text(DATASET)
    panel = nb.output_of("TrainPanel(cfg)")
    status = panel.locator(".widget-html").first
    progress = panel.locator(".widget-hbox .widget-html")
    clicked = time.monotonic()
    panel.locator(".jupyter-button", has_text="Train").click()
    expect(progress).to_contain_text("step", timeout=5_000)  # progress within 5 s
    live = panel.locator(".js-plotly-plot")
    expect(live.locator(".legendtext").first).to_be_visible()  # a legend from the start
    while nb.plot_points(live) < 2 and time.monotonic() - clicked < 120:
        nb.page.wait_for_timeout(250)
    assert "ETA" in progress.inner_text()
    panel.locator(".jupyter-button", has_text="Stop").click()
    expect(status).to_contain_text("Stopped at step", timeout=10_000)  # within one (tiny) step
    expect(status).to_contain_text("stopped:", timeout=120_000)
    assert not [t for t in live.locator(".xtick text").all_inner_texts() if "." in t]
    _check_page(nb)

    nb = _open_with_file_browser(
        open_notebook,
        "04_compare.ipynb",
        run_dir=run,
        max_eval_prompts=4,
        max_new_tokens=16,
        max_probe_prompts=2,
        batch_size=2,
    )
    nb.run_all(timeout_s=300)
    expect(nb.outputs().filter(has_text=f"Base vs tuned on {DATASET}").first).to_be_visible()
    _check_page(nb)

    nb = _open_with_file_browser(
        open_notebook, "05_document.ipynb", run_dir=run, bias_pairs=2, bias_max_new_tokens=8
    )
    nb.run_all(timeout_s=240)
    expect(
        nb.outputs().filter(has_text="describe the data that trained this run").first
    ).to_contain_text(DATASET)
    card = (tmp_path / "run" / "docs" / "data_card.md").read_text()
    assert card.startswith(f"# Data card: {DATASET}") and "notebook 01 inspected" not in card
    _check_page(nb)
