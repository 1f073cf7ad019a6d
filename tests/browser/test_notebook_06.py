"""Notebook 06 in the browser: three tiny runs that differ only in learning rate, each compared
(notebook 04's compare_run), side by side: the overlaid loss curves are drawn with a trace per run,
the config table shows learning_rate and nothing else, the best run is named with its 95%
interval, and the axis toggle redraws the curves. (tests/test_compare_runs.py runs 06 headless.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from three_runs import LOG_EVERY, RATES, STEPS, train_three_runs

pytestmark = pytest.mark.browser

NAMES = [name for name, _ in RATES]
# the runs are ranked on chrF: the short answers' codes are learned in part, never exactly
METRIC = "chrf"

_JS_TRACES = """(gd) => (gd.data || []).map((t) => ({name: t.name, points: (t.x || []).length}))"""
_JS_X_TITLE = """(gd) => {
  const title = gd.layout && gd.layout.xaxis && gd.layout.xaxis.title;
  return typeof title === 'string' ? title : (title && title.text) || '';
}"""


@pytest.fixture(scope="module")
def three_runs(tiny_model_dir, tmp_path_factory) -> list[Path]:
    """Three finished, compared tiny runs, as tests/test_compare_runs.py trains them."""
    return train_three_runs(tmp_path_factory.mktemp("runs"))


def test_three_runs_side_by_side(open_notebook, three_runs, tmp_path):
    from workbench.comparison.runs import compare_runs

    expected = compare_runs(three_runs, metric=METRIC)  # what 06 should name, read the same way
    assert expected.best in NAMES and "95% interval" in expected.best_reason

    notebook = open_notebook(
        "06_compare_runs.ipynb",
        run_dir=str(tmp_path / "compare"),
        run_dirs=[str(d) for d in three_runs],
        metric=METRIC,
    )
    notebook.run_all(timeout_s=180)

    # the overlaid loss curves: by step, tokens seen and wall time, train + eval per run
    curves = notebook.output_of("runs.figures()").locator(".js-plotly-plot")
    expect(curves).to_have_count(3)
    for i in range(3):
        plot = curves.nth(i)
        expect(plot).to_be_visible()
        traces = {t["name"]: t["points"] for t in plot.evaluate(_JS_TRACES)}
        assert set(traces) == {f"{n} {kind}" for n in NAMES for kind in ("train", "eval")}
        assert all(traces[f"{n} train"] == STEPS // LOG_EVERY for n in NAMES), traces
        assert all(traces[f"{n} eval"] >= 1 for n in NAMES), traces
        # the lines are in the SVG, not only in the data
        expect(plot.locator(".scatterlayer .trace")).to_have_count(6)
    notebook.screenshot(curves.first, "06_compare_curves")

    tables = notebook.output_of("display(runs)")
    # the best run, named with its interval
    best = tables.locator("b", has_text="Best run:").first
    expect(best).to_have_text(expected.best_reason)
    assert re.fullmatch(
        rf"Best run: ({'|'.join(NAMES)}), {METRIC} -?[\d.]+% \(95% interval -?[\d.]+% to -?[\d.]+%\)\.",
        best.inner_text().strip(),
    ), best.inner_text()

    # what the configs change: learning_rate, one column per run, and no other field
    diff = tables.locator("h4", has_text="What the configs change").locator(
        "xpath=following-sibling::table[1]"
    )
    expect(diff.locator("tr").first.locator("th")).to_have_text(["field", *NAMES])
    rows = diff.locator("tr").filter(has=notebook.page.locator("td"))
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td")).to_have_text(["learning_rate", *(str(lr) for _, lr in RATES)])

    # the paired differences: the best run against each of the other two
    paired = tables.locator("h4", has_text="Best run against the others").locator(
        "xpath=following-sibling::table[1]"
    )
    expect(paired.locator("tr").filter(has=notebook.page.locator("td"))).to_have_count(2)
    notebook.screenshot(tables, "06_compare_tables", max_height=760)

    # the axis toggle redraws the curves against the axis picked
    view = notebook.output_of("RunsView(runs)")
    plot = view.locator(".js-plotly-plot")
    expect(plot).to_be_visible()
    assert plot.evaluate(_JS_X_TITLE) == "step"
    view.locator(".widget-toggle-button", has_text="wall time").click()
    notebook.page.wait_for_function(  # the Output swaps in a new plot: look it up each time
        f"(view) => {{ const gd = view.querySelector('.js-plotly-plot');"
        f" return !!gd && ({_JS_X_TITLE})(gd) === 'wall time (s)'; }}",
        arg=view.element_handle(),
        timeout=30_000,
    )
    expect(plot).to_have_count(1)
    assert len(plot.evaluate(_JS_TRACES)) == 6

    assert (tmp_path / "compare" / "runs_comparison.html").is_file()
    assert notebook.errors() == []
