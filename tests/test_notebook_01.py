"""Notebook 01 headless through papermill, and its browser widget driven from Python."""

from __future__ import annotations

import json

import pytest
from conftest import run_notebook

from workbench.data.dataset import sample_path
from workbench.inspection.report import inspect_dataset, load_splits


@pytest.fixture(scope="module")
def messy_report(tiny_model_dir):
    train, eval_split = load_splits("messy-support")
    return inspect_dataset(
        train, tokenizer_or_model=str(tiny_model_dir), max_length=512, eval_ds=eval_split
    )


@pytest.mark.slow
def test_headless_run_writes_report_figures_and_clean_copy(run_dir, tiny_model_dir):
    out = run_notebook(
        "01_inspect_data.ipynb",
        run_dir,
        dataset="messy-support",
        model=str(tiny_model_dir),
        save_clean=True,
    )
    report = json.loads((run_dir / "inspect" / "report.json").read_text())
    assert report["provenance"]["sample"] == "messy-support"
    assert report["severity_counts"]["error"] > 0 and report["leakage"]["exact"] == 3
    assert (run_dir / "inspect" / "report.html").read_text().startswith("<!doctype html>")
    figures = (run_dir / "figures" / "inspect_data.html").read_text()
    assert figures.count("Plotly.newPlot") == 3  # three figures ...
    assert "<script src=" not in figures and len(figures) > 1_000_000  # ... with plotly.js inline
    clean_rows = (run_dir / "inspect" / "train.clean.jsonl").read_text().splitlines()
    log = json.loads((run_dir / "inspect" / "train.clean.clean_log.json").read_text())
    assert len(clean_rows) == log["rows_after"] < log["rows_before"]
    executed = json.loads(out.read_text())
    assert not [
        o
        for c in executed["cells"]
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]


# -- the browser widget, driven as a user would ----------------------------------------------------


def _browser(report, tmp_path):
    from workbench.ui.inspect import InspectBrowser

    return InspectBrowser(report, clean_path=tmp_path / "clean.jsonl")


def test_filter_by_kind_and_page_through_rows(messy_report, tmp_path):
    b = _browser(messy_report, tmp_path)
    pii_rows = sorted({f.row for f in messy_report.findings_for(kind="pii")})
    b.kind.value = "pii"
    assert [messy_report.dataset.row_ids[i] for i in b.indices] == pii_rows
    assert b.position.value == 1 and b.position.max == len(pii_rows)
    assert f"Row {pii_rows[0]} " in b.view.value and "pii" in b.view.value
    b.next.click()
    assert f"Row {pii_rows[1]} " in b.view.value
    b.prev.click()
    b.prev.click()  # stays on the first item
    assert b.position.value == 1 and f"Row {pii_rows[0]} " in b.view.value
    b.position.value = len(pii_rows)
    b.next.click()  # stays on the last
    assert f"Row {pii_rows[-1]} " in b.view.value


def test_row_view_shows_template_and_mask(messy_report, tmp_path):
    b = _browser(messy_report, tmp_path)
    b.kind.value = "all rows"
    row = next(
        i
        for i in range(len(messy_report.dataset))
        if not messy_report.findings_for(row=messy_report.dataset.row_ids[i])
    )
    b.position.value = b.indices.index(row) + 1
    assert 'class="t"' in b.view.value and "&lt;|im_end|&gt;" in b.view.value
    assert "No findings." in b.view.value
    b.kind.value = "truncated"
    assert "cut here at max_length" in b.view.value
    b.kind.value = "load_error"  # the unreadable line is not in the dataset: its finding is shown
    assert b.indices == [] and "not valid JSON" in b.view.value


def test_save_button_writes_a_cleaned_copy_and_leaves_the_source(messy_report, tmp_path):
    source = sample_path("messy-support")
    before = source.read_bytes()
    b = _browser(messy_report, tmp_path)
    b.save.click()
    assert "Saved" in b.status.value and "unchanged" in b.status.value
    rows = [json.loads(line) for line in (tmp_path / "clean.jsonl").read_text().splitlines()]
    assert 0 < len(rows) < len(messy_report.dataset)
    assert "[EMAIL]" in json.dumps(rows) and "@example." not in json.dumps(rows)
    assert (tmp_path / "clean.clean_log.json").is_file()
    assert source.read_bytes() == before


def test_save_errors_show_in_the_widget(messy_report, tmp_path):
    from workbench.ui.inspect import InspectBrowser

    b = InspectBrowser(messy_report, clean_path=sample_path("messy-support"))  # the source itself
    before = sample_path("messy-support").read_bytes()
    b.save.click()
    assert "refusing to overwrite the source" in b.status.value
    assert sample_path("messy-support").read_bytes() == before
