"""Notebook 04 in the browser on a finished tiny classifier run: the comparison with prompting
renders, with a confusion matrix for the tuned head and for the best prompted baseline."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from .conftest import TINY

pytestmark = pytest.mark.browser


@pytest.fixture
def classifier_run(tmp_path):
    """A tiny LoRA classifier on support-intent, as notebook 03 would leave it."""
    import workbench
    from workbench.config import TrainConfig

    run_dir = tmp_path / "classifier"
    config = TrainConfig(
        model=TINY,
        task="classification",
        dataset="support-intent",
        technique="lora",
        max_steps=3,
        batch_size=8,
        max_length=96,
        max_train_rows=48,
        max_eval_rows=16,
        run_dir=str(run_dir),
    )
    result = workbench.train(config)
    assert result.status == "completed", f"preparing a classifier run failed: {result.message}"
    return run_dir


def test_classifier_comparison_shows_the_confusion_matrices(open_notebook, classifier_run):
    notebook = open_notebook(
        "04_compare.ipynb", run_dir=str(classifier_run), label_shots=[0, 1], max_eval_rows=16
    )
    notebook.run_all(timeout_s=300)

    out = notebook.output_of("compare_classifier(")
    names = json.loads((classifier_run / "labels.json").read_text())["labels"]
    tuned = out.locator("table.wb-confusion[data-arm='tuned head']")
    expect(tuned).to_be_visible()
    expect(tuned.locator("tr")).to_have_count(len(names) + 1)  # a header and one row per label
    for name in names:  # every true label names its row
        expect(tuned.locator("tr th", has_text=name[:9]).first).to_be_visible()
    cells = [int(c.inner_text()) for c in tuned.locator("td").all()]
    assert sum(cells) == 16  # every held-out text counted once
    expect(out.locator("table.wb-confusion")).to_have_count(2)  # the tuned head and the best prompt
    expect(out.get_by_text("forgetting probe does not apply")).to_be_visible()
    notebook.screenshot(out, "04_classifier", max_height=900)
    assert (classifier_run / "classification.json").exists()
    assert notebook.errors() == []
