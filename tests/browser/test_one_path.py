"""Notebooks 01-05 in order, as a workshop participant runs them: 1,280 x 800, file browser open.

Checks the issue's done-when list on the tiny model: one dataset named everywhere (and in the data
card); something on screen within 5 s of every long action (02's probe cell, 03's Train, 04's
comparison and its own-prompt box); the initial evaluation said in words and the first loss point
at the first log step; sample answers under the plot during the run; an ETA that leaves the evaluation out; Stop reported within one step; an
interrupted comparison keeping the rows answered so far; no widget wider than its output area; no
library warning in any output.

Times come from the page (performance.now()): a watcher records when each code cell finished and
its outputs each time they change; another records the training panel's status and progress line
on every change, so a line shown for a tenth of a second is not missed by polling.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SMALL = {"width": 1280, "height": 800}
DATASET = "orders-json"
PROMPT_S = 5.0  # the promise: a long action says something within 5 s, however slow it is
STEPS, LOG_EVERY = 400, 2  # long enough that Stop, not the schedule, ends notebook 03's run

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
# every 50 ms, per code cell: when it finished (its prompt got a number) and its output text on
# each change. Run All starts a cell when the code cell before it has finished.
_JS_WATCH_CELLS = """() => {
  const notebook = window.jupyterapp.shell.currentWidget.content;
  const seen = window.__wbCells = {};
  const text = (o) => [].concat(o.text || (o.data && (o.data['text/markdown'] || o.data['text/plain'])) || []).join('');
  const record = () => {
    const now = performance.now();
    notebook.widgets.forEach((cell, i) => {
      if (cell.model.type !== 'code') return;
      const c = seen[i] = seen[i] || {done: null, outputs: []};
      if (c.done === null && cell.model.executionCount !== null) c.done = now;
      const out = cell.model.outputs.toJSON().map(text).join('');
      const last = c.outputs[c.outputs.length - 1];
      if (out && (!last || last[1] !== out)) c.outputs.push([now, out]);
    });
  };
  record();
  clearInterval(window.__wbCellTimer);
  window.__wbCellTimer = setInterval(record, 50);
}"""
_JS_CELL_INDEX = """(marker) => window.jupyterapp.shell.currentWidget.content.widgets.findIndex(
  (cell) => cell.model.type === 'code' && cell.model.sharedModel.getSource().includes(marker))"""
# the training panel: [time, status, progress line] on every change of either
_JS_WATCH_PANEL = """(area) => {
  const seen = window.__wbPanel = [];
  const record = () => {
    const status = area.querySelector('.widget-html');
    const progress = area.querySelector('.widget-hbox .widget-html');
    const entry = [performance.now(), status ? status.innerText : '', progress ? progress.innerText : ''];
    const last = seen[seen.length - 1];
    if (!last || last[1] !== entry[1] || last[2] !== entry[2]) seen.push(entry);
  };
  new MutationObserver(record).observe(area, {subtree: true, childList: true, characterData: true});
  record();
  return performance.now();
}"""
_JS_NOW = "() => performance.now()"
_JS_INTERRUPT = "() => window.jupyterapp.commands.execute('notebook:interrupt-kernel')"
_JS_TRACES = "(gd) => (gd.data || []).map((t) => [t.name, Array.from(t.x || [])])"
_STEP = re.compile(r"step (\d+)/(\d+)")
_ETA = re.compile(r"ETA (?:(\d+)m)?(\d+)s")


def _open_with_file_browser(open_notebook, name: str, **params):
    notebook = open_notebook(name, **params)
    page = notebook.page
    page.set_viewport_size(SMALL)
    page.evaluate("() => window.jupyterapp.shell.activateById('filebrowser')")
    page.wait_for_timeout(500)
    page.evaluate(_JS_WATCH_CELLS)
    return notebook


def _check_page(notebook) -> None:
    page = notebook.page
    page.wait_for_timeout(500)  # let JupyterLab lay the outputs out
    assert page.evaluate(_JS_OVERFLOWS) == []
    warnings = [t for t in page.evaluate(_JS_STDERR) if "Warning" in t or "warn(" in t]
    assert warnings == [], warnings
    assert notebook.errors() == []


def _cell(notebook, marker: str) -> tuple[int, dict]:
    """Index and watch record of the code cell whose source holds `marker`."""
    index = notebook.page.evaluate(_JS_CELL_INDEX, marker)
    assert index >= 0, f"no code cell holds {marker!r}"
    return index, notebook.page.evaluate("() => window.__wbCells")[str(index)]


def _seconds_to_first_output(notebook, marker: str, text: str) -> float:
    """Seconds from the start of the cell holding `marker` (Run All: the code cell before it
    finished) to its first output holding `text`."""
    index, cell = _cell(notebook, marker)
    cells = notebook.page.evaluate("() => window.__wbCells")
    started = cells[str(max(int(i) for i in cells if int(i) < index))]["done"]
    shown = next((t for t, out in cell["outputs"] if text in out), None)
    assert shown is not None, f"{marker!r}: never showed {text!r}; it showed {cell['outputs']}"
    return (shown - started) / 1000


def _eta_s(progress: str) -> float:
    minutes, seconds = _ETA.search(progress).groups()
    return 60 * int(minutes or 0) + int(seconds)


def test_one_run_through_the_five_notebooks(open_notebook, tmp_path):
    run = tmp_path / "run"

    nb = _open_with_file_browser(open_notebook, "01_inspect_data.ipynb", run_dir=str(run))
    nb.run_all(timeout_s=240)
    expect(nb.outputs().filter(has_text=f"{DATASET}:").first).to_be_visible()
    _check_page(nb)

    nb = _open_with_file_browser(
        open_notebook,
        "02_choose_technique.ipynb",
        run_dir=str(run),
        model=None,
        max_steps=STEPS,
        batch_size=2,
        log_every=LOG_EVERY,
        max_eval_rows=48,  # an initial evaluation long enough to tell whether the ETA counts it
    )
    nb.run_all(timeout_s=240)
    run_line = nb.outputs().filter(has_text="The run:").first
    expect(run_line).to_contain_text(f"data {DATASET} (as inspected in notebook 01)")
    expect(run_line).to_contain_text("tiny-random")
    assert _seconds_to_first_output(nb, "if not run_probe:", "Probe skipped") < PROMPT_S
    _check_page(nb)

    nb = _open_with_file_browser(open_notebook, "03_train.ipynb", run_dir=str(run), model=None)
    nb.run_all(timeout_s=180)
    expect(nb.outputs().filter(has_text="The run:").first).to_contain_text(DATASET)
    _train_and_stop(nb)
    _check_page(nb)

    nb = _open_with_file_browser(
        open_notebook,
        "04_compare.ipynb",
        run_dir=str(run),
        max_eval_prompts=16,
        max_new_tokens=32,
        max_probe_prompts=2,
        batch_size=2,
    )
    _compare_and_interrupt(nb, run)
    _check_page(nb)

    nb = _open_with_file_browser(
        open_notebook, "05_document.ipynb", run_dir=str(run), bias_pairs=2, bias_max_new_tokens=8
    )
    nb.run_all(timeout_s=240)
    expect(
        nb.outputs().filter(has_text="describe the data that trained this run").first
    ).to_contain_text(DATASET)
    card = (run / "docs" / "data_card.md").read_text()
    assert card.startswith(f"# Data card: {DATASET}") and "notebook 01 inspected" not in card
    _check_page(nb)


def _train_and_stop(nb) -> None:
    """03: Train shows progress at once, says the initial evaluation in words, leaves it out of
    the ETA, starts the loss curve at the first log step, and Stop is reported within one step."""
    page = nb.page
    panel = nb.output_of("TrainPanel(cfg)")
    status = panel.locator(".widget-html").first
    progress = panel.locator(".widget-hbox .widget-html")
    clicked = panel.evaluate(_JS_WATCH_PANEL)
    panel.locator(".jupyter-button", has_text="Train").click()
    # loading the libraries, the model and the data takes many seconds on a busy CPU: the
    # progress line says so at once
    expect(progress).to_contain_text(re.compile(r"loading the model|step \d"), timeout=5_000)
    live = panel.locator(".js-plotly-plot")
    # a legend from the start (the first plotly widget loads plotly.js into the page: seconds)
    expect(live.locator(".legendtext").first).to_be_visible(timeout=60_000)
    expect(progress).to_contain_text("ETA", timeout=180_000)
    # the initial evaluation's sample answers, under the plot, while the run goes on
    expect(panel.locator(".wb-samples")).to_contain_text("step 0", timeout=30_000)
    page.wait_for_function(  # a few redraws with an ETA, to measure the time per step
        "(n) => window.__wbPanel.filter((e) => e[2].includes('ETA')).length >= n", arg=3
    )
    stop_clicked = page.evaluate(_JS_NOW)
    panel.locator(".jupyter-button", has_text="Stop").click()
    expect(status).to_contain_text("Stopped at step", timeout=30_000)
    expect(status).to_contain_text("stopped:", timeout=120_000)
    seen = page.evaluate("() => window.__wbPanel")

    first = next(t for t, _, line in seen if line.strip())
    assert (first - clicked) / 1000 < PROMPT_S, seen[:5]
    # the initial evaluation is said in words while it runs, and is over before the first ETA
    began = next(i for i, (_, _, line) in enumerate(seen) if "step 0/" in line)
    assert "evaluating the base model first" in seen[began][2], seen[began]
    evaluated = next(i for i in range(began, len(seen)) if "evaluating" not in seen[i][2])
    timed = [(t, line) for t, _, line in seen[evaluated:] if "ETA" in line]
    eval_s = (seen[evaluated][0] - seen[began][0]) / 1000
    t_eta, line = timed[0]
    step, total = map(int, _STEP.search(line).groups())
    left = (total - step) / step
    without_eval = (t_eta - seen[evaluated][0]) / 1000 * left
    with_eval = without_eval + eval_s * left
    assert with_eval - without_eval > 5, f"the initial evaluation ({eval_s:.2f} s) is too short"
    assert abs(_eta_s(line) - without_eval) < abs(_eta_s(line) - with_eval), (
        f"ETA {line!r}: {without_eval:.0f} s without the evaluation, {with_eval:.0f} s with it"
    )
    # Stop is reported at the end of the step that was running: one step, plus the page's delay
    (t_a, a), (t_b, b) = timed[0], timed[-1]
    step_s = (t_b - t_a) / 1000 / max(int(_STEP.search(b)[1]) - int(_STEP.search(a)[1]), 1)
    reported = next(t for t, s, _ in seen if "Stopped at step" in s)
    assert (reported - stop_clicked) / 1000 < step_s + 2, (reported - stop_clicked, step_s)
    # the first loss point is the first log step, the eval curve starts at step 0
    static = panel.locator(".widget-output .js-plotly-plot")  # the live widget was swapped out
    expect(static).to_be_visible(timeout=30_000)
    static.page.wait_for_function("(gd) => (gd.data || []).length > 0", arg=static.element_handle())
    traces = dict(static.evaluate(_JS_TRACES))
    assert traces["train loss"][0] == LOG_EVERY and traces["eval loss"][0] == 0, traces
    assert not [t for t in static.locator(".xtick text").all_text_contents() if "." in t]


def _compare_and_interrupt(nb, run) -> None:
    """04: the comparison says what it does at once and logs every batch; an interrupt during it
    keeps the rows answered so far, in the view and in comparison.json."""
    page = nb.page
    marker = "comparison = compare_run("
    index = page.evaluate(_JS_CELL_INDEX, marker)
    nb.start_all()
    page.wait_for_function(
        """(i) => (window.__wbCells[i] || {outputs: []}).outputs.some(
             ([, out]) => /answered [1-9]\\d* of 16 prompts/.test(out))""",
        arg=str(index),
        timeout=300_000,
        polling=100,
    )
    page.evaluate(_JS_INTERRUPT)
    nb.wait(timeout_s=300)
    assert _seconds_to_first_output(nb, marker, "Asking the base and the tuned model") < PROMPT_S
    out = nb.output_of(marker)
    expect(out).to_contain_text(f"Base vs tuned on {DATASET}")
    kept = re.search(
        r"Interrupted: the results below cover the first (\d+) prompts", out.inner_text()
    )
    assert kept, out.inner_text()
    rows = int(kept[1])
    assert 2 <= rows < 16
    assert len(json.loads((run / "comparison.json").read_text())["rows"]) == rows
    view = nb.output_of("ComparisonView(")
    expect(view.locator(".widget-html", has_text=re.compile(r"\d+ of \d+ prompts"))).to_have_text(
        f"{rows} of {rows} prompts"
    )
    prompt = nb.field(view, "prompt")
    wide = view.locator(".jp-OutputArea-output").first.bounding_box()["width"]
    assert prompt.bounding_box()["width"] > 0.8 * wide  # as wide as the view, and no wider
    prompt.fill("Where is my order? It was due on Monday.")
    view.locator(".jupyter-button", has_text="Ask both models").click()
    answers = view.locator(".widget-html", has=page.locator("th", has_text="tuned ("))
    expect(view.locator(".widget-html", has_text="Asking both models").or_(answers)).to_be_visible(
        timeout=PROMPT_S * 1000
    )
    expect(answers).to_be_visible(timeout=120_000)
