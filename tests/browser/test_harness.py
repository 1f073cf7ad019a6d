"""The browser harness itself: parameters reach the kernel, every cell is in the page, a button
click reaches the kernel, and a FigureWidget updated from a background thread moves in the page.

When a notebook test fails, this one says whether the harness or the notebook is to blame.
"""

from __future__ import annotations

import nbformat
import pytest
from playwright.sync_api import expect

from .labdriver import prepare_notebook

pytestmark = pytest.mark.browser

WIDGET_CELL = """\
import threading, time
import ipywidgets as widgets
import plotly.graph_objects as go

figure = go.FigureWidget(layout={"height": 260, "margin": {"t": 10}})
figure.add_scatter(x=[], y=[], mode="lines+markers")
status = widgets.Label(value=f"ready: {model}")
start, stop = widgets.Button(description="Start"), widgets.Button(description="Halt")
halt = threading.Event()

def feed():
    for step in range(600):
        if halt.is_set():
            break
        with figure.batch_update():
            figure.data[0].x += (step,)
            figure.data[0].y += (1 / (step + 1),)
        time.sleep(0.2)
    status.value = "halted" if halt.is_set() else "done"

def on_start(_):
    status.value = "feeding"
    threading.Thread(target=feed, daemon=True).start()

start.on_click(on_start)
stop.on_click(lambda _: halt.set())
widgets.VBox([widgets.HBox([start, stop, status]), figure])
"""


def _scratch_notebook(path):
    """A long notebook (so windowing would hide cells) ending in a threaded live plot."""
    params = nbformat.v4.new_code_cell('model = "default"\ninteractive = True')
    params.metadata["tags"] = ["parameters"]
    filler = [
        nbformat.v4.new_markdown_cell(f"## Section {i}\n\n" + "Text. " * 80) for i in range(30)
    ]
    notebook = nbformat.v4.new_notebook(
        cells=[params, *filler, nbformat.v4.new_code_cell(WIDGET_CELL)],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
    )
    nbformat.write(notebook, path)
    return path


def test_harness_widgets_and_threaded_plot(notebook, lab, tmp_path):
    source = _scratch_notebook(tmp_path / "harness.ipynb")
    notebook.open(prepare_notebook(source, lab, model="tiny-random"))  # asserts windowing is off
    notebook.run_all()

    status = notebook.outputs().locator(".widget-label")
    expect(status).to_have_text("ready: tiny-random")  # the injected parameter won
    notebook.button("Start").click()
    expect(status).to_have_text("feeding")
    plot = notebook.outputs().locator(".js-plotly-plot")
    expect(plot).to_be_visible()
    notebook.page.wait_for_function(
        "(gd) => gd.data && gd.data[0].x.length >= 3", arg=plot.element_handle()
    )
    before = notebook.plot_points(plot)
    notebook.page.wait_for_timeout(1500)
    assert notebook.plot_points(plot) > before, "the plot did not move while the thread ran"
    notebook.button("Halt").click()
    expect(status).to_have_text("halted")
    assert notebook.errors() == []
