"""Notebook 05 in the browser: the run documents preview renders, and what a provider types is
saved and shows up in the regenerated documents."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PURPOSE = "Sorting customer e-mails into order queries (browser test)"


def test_report_preview(open_notebook, trained_run):
    notebook = open_notebook(
        "05_document.ipynb", run_dir=str(trained_run), bias_pairs=2, bias_max_new_tokens=8
    )
    notebook.run_all(timeout_s=240)

    preview = notebook.output_of("ReportPreview(")
    tabs = preview.locator(".widget-tab .lm-TabBar-tab")
    expect(tabs).to_have_text(["Model card", "Data card", "AI Act / GDPR record"])
    document = preview.locator(".widget-tab-contents .widget-html:visible")
    expect(document).to_contain_text("Training details")  # the model card is on show
    expect(document).not_to_contain_text("step 03")  # the trained run was found
    notebook.screenshot(preview, "05_document", docs=True, max_height=760)

    purpose = notebook.field(preview, "Intended purpose")
    purpose.fill(PURPOSE)
    preview.locator(".jupyter-button", has_text="Save and regenerate").click()
    expect(document).to_contain_text(PURPOSE)
    assert PURPOSE in (trained_run / "docs" / "provider.yaml").read_text()

    tabs.filter(has_text="AI Act").click()
    expect(document).to_contain_text("Role and scope")
    expect(document).to_contain_text(PURPOSE)
    assert notebook.errors() == []
