"""Notebook 02 in the browser: the advisor form gives a recommendation and changes it when the
answers change; the memory chart renders, and the estimate panel recomputes it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PARAMS = dict(run_probe=False)  # the probe is real training in a subprocess: tested elsewhere


def test_advisor_and_memory_chart(open_notebook):
    notebook = open_notebook("02_choose_technique.ipynb", **PARAMS)
    notebook.run_all(timeout_s=240)

    form = notebook.output_of("AdvisorForm(")
    advice = form.locator(".widget-html", has_text="Recommendation:")
    expect(advice).to_contain_text("(recommended)")
    before = advice.locator("h4").inner_text()
    for label in ("change often", "cite their sources"):  # facts that change, with citations: RAG
        box = form.locator(".widget-checkbox", has_text=label).locator("input")
        box.check()
        expect(box).to_be_checked()
    for label in ("fixed output format", "Many calls a day", "stay in-house"):
        form.locator(".widget-checkbox", has_text=label).locator("input").uncheck()
    form.locator(".jupyter-button", has_text="Advise").click()
    expect(advice.locator("h4")).not_to_have_text(before)
    notebook.screenshot(form, "02_advisor")

    chart = notebook.output_of("memory_figure(estimates)").locator(".js-plotly-plot")
    expect(chart).to_be_visible()
    assert notebook.plot_points(chart) > 0, "the memory chart has no bars"

    panel = notebook.output_of("EstimatePanel(")
    table = panel.locator(".widget-html table")
    expect(table.locator("tr")).not_to_have_count(0)
    expect(panel.locator(".widget-output .js-plotly-plot")).to_be_visible()
    lora_peak = _row(table, "lora").locator("td").nth(2)
    start = _gb(lora_peak.inner_text())
    batch = notebook.field(panel, "batch")
    bigger = str(int(batch.input_value()) * 4)
    batch.fill(bigger)
    # an int field sends its value on Enter or blur: commit it before clicking Estimate
    batch.press("Enter")
    expect(batch).to_have_value(bigger)
    _estimate_until(panel, lambda: _gb(lora_peak.inner_text()) > start)  # bigger batch, more memory
    expect(panel.locator(".widget-output .js-plotly-plot")).to_be_visible()

    # cpu_low_memory: on this CPU the estimate drops the freed blocks the allocator would keep
    high = _gb(lora_peak.inner_text())
    panel.locator(".widget-checkbox", has_text="cpu_low_memory").locator("input").check()
    _estimate_until(panel, lambda: _gb(lora_peak.inner_text()) < high)
    panel.locator(".widget-checkbox", has_text="cpu_low_memory").locator("input").uncheck()

    # an 8B model on a 24 GB GPU: neither full fine-tuning nor LoRA fits, QLoRA does
    notebook.field(panel, "model").fill("llama-3.1-8b")
    notebook.field(panel, "hardware").select_option("l4-24gb")
    batch.fill("2")
    batch.press("Enter")
    expect(batch).to_have_value("2")
    fits = {tech: _row(table, tech).locator("td").nth(3) for tech in ("full", "lora", "qlora")}
    verdicts = {"full": "no", "lora": "no", "qlora": "yes"}
    _estimate_until(panel, lambda: all(fits[t].inner_text() == v for t, v in verdicts.items()))
    expect(panel.locator(".widget-output .js-plotly-plot")).to_be_visible()
    notebook.screenshot(panel, "02_choose_technique", docs=True)
    assert notebook.errors() == []


def _estimate_until(panel, condition, tries: int = 8) -> None:
    """Click Estimate until `condition()` holds (polled for 1.5 s after each click). ipywidgets
    buffers a field's new value while the kernel is busy and a click can reach the kernel first:
    that estimate is of the old values, and the next click sees the new ones."""
    for _ in range(tries):
        panel.locator(".jupyter-button", has_text="Estimate").click()
        for _ in range(15):
            panel.page.wait_for_timeout(100)
            if condition():
                return
    raise AssertionError(f"the estimate never met the condition after {tries} clicks")


def _row(table, technique: str):
    """The table row whose first cell is exactly `technique`."""
    first = table.page.locator("td:first-child", has_text=re.compile(rf"^{technique}$"))
    return table.locator("tr").filter(has=first)


def _gb(text: str) -> float:
    return float(text.replace("GB", "").replace(",", "").strip())
