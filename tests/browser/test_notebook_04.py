"""Notebook 04 in the browser, on a finished tiny run: the side-by-side table renders and filters,
and the try-your-own-prompt box answers with both the base and the tuned model."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PARAMS = dict(max_eval_prompts=3, max_probe_prompts=2, max_new_tokens=12, batch_size=4)


def test_compare_table_and_own_prompt(open_notebook, trained_run):
    notebook = open_notebook("04_compare.ipynb", run_dir=str(trained_run), **PARAMS)
    notebook.run_all(timeout_s=300)

    view = notebook.output_of("ComparisonView(")
    table = view.locator(".widget-html .wb-cmp table").first
    expect(table).to_be_visible()
    count = view.locator(".widget-html", has_text=re.compile(r"\d+ of \d+ prompts"))
    expect(count).to_have_text(re.compile(r"^(\d+) of \1 prompts"))  # everything shown
    total = int(count.inner_text().split()[0])
    assert total >= 1
    expect(table.locator("tr")).to_have_count(total + 1)  # a header and one row per prompt
    notebook.screenshot(view, "04_compare", max_height=760)

    search = notebook.field(view, "search")
    search.fill("no-such-word-anywhere")
    expect(count).to_have_text(f"0 of {total} prompts")
    search.fill("")
    expect(count).to_have_text(f"{total} of {total} prompts")

    notebook.field(view, "prompt").fill("Where is my parcel? It was due on Monday.")
    view.locator(".jupyter-button", has_text="Ask both models").click()
    answers = view.locator(".widget-html", has=notebook.page.locator("th", has_text="tuned ("))
    expect(answers).to_be_visible(timeout=120_000)
    expect(answers.locator("th", has_text="base (")).to_be_visible()
    expect(answers.locator("td")).to_have_count(2)
    for cell in answers.locator("td").all():
        assert cell.inner_text().strip(), "an empty answer"
    notebook.screenshot(answers, "04_own_prompt")
    assert (trained_run / "comparison.json").exists()
    assert notebook.errors() == []
