"""Notebook 01 in the browser: the dataset report renders with its plots, the example browser
pages through rows and filters them, a personal-data finding is shown, and a cleaned copy is saved."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_inspect_data(open_notebook, tmp_path):
    notebook = open_notebook("01_inspect_data.ipynb", dataset="messy-support")
    notebook.run_all(timeout_s=240)

    report = notebook.output_of("display(report)").locator(".jp-RenderedHTMLCommon")
    expect(report).to_contain_text("Dataset report: messy-support")
    expect(report).to_contain_text("Personal data")
    plots = notebook.output_of("inspect_figures(report)").locator(".js-plotly-plot")
    expect(plots.first).to_be_visible()
    assert notebook.plot_points(plots.first) > 0, "the length histogram is empty"

    browser = notebook.output_of("InspectBrowser(")
    position = browser.locator(".widget-text input")
    where = browser.locator(".widget-html", has_text="filter")
    row = browser.locator(".widget-html", has=notebook.page.locator("h4"))
    expect(position).to_have_value("1")
    first_row = row.locator("h4").inner_text()
    total = int(re.search(r"of (\d+)", where.inner_text()).group(1))
    assert total > 1, "the filter should select several rows of messy-support"

    browser.locator(".jupyter-button", has_text="next").click()
    expect(position).to_have_value("2")
    expect(row.locator("h4")).not_to_have_text(first_row)
    browser.locator(".jupyter-button", has_text="previous").click()
    expect(position).to_have_value("1")
    expect(row.locator("h4")).to_have_text(first_row)
    notebook.screenshot(browser, "01_browser")

    select = browser.locator(".widget-dropdown select")
    select.select_option(select.locator("option", has_text="pii").get_attribute("value"))
    expect(where).to_contain_text("filter pii")
    expect(row.locator("td", has_text=re.compile(r"^pii$")).first).to_be_visible()
    expect(row).to_contain_text("redact it or drop the row")
    # the header sits over its column, like the report's own table (a browser centres <th>)
    header = row.locator("th", has_text="message").first
    assert header.evaluate("(e) => getComputedStyle(e).textAlign") == "left"
    notebook.screenshot(browser, "01_inspect_data", docs=True)

    browser.locator(".jupyter-button", has_text="Save a cleaned copy").click()
    status = browser.locator(".widget-html", has_text="Saved")
    expect(status).to_contain_text("The source file is unchanged")
    assert (tmp_path / "run" / "inspect" / "train.clean.jsonl").exists()
    notebook.screenshot(report, "01_report", max_height=900)
    assert notebook.errors() == []
