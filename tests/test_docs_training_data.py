"""The data card documents the data that trained the run, not whatever notebook 01 inspected."""

from __future__ import annotations

from standins import train_result

from workbench.config import TrainConfig
from workbench.data.dataset import load_dataset
from workbench.documents.writer import write_run_docs
from workbench.inspection.report import clean, inspect_dataset
from workbench.rundir import RunDir


def _run(tmp_path, dataset: str, *, inspected: str = "messy-support"):
    rd = RunDir(tmp_path / "run").ensure()
    messy = load_dataset(inspected)
    report = inspect_dataset(messy, tokenizer_or_model=None)
    report.save(rd.inspect_dir)
    clean(messy, report=report).save(rd.clean_copy, overwrite=True)
    cfg = TrainConfig(model="tiny-random", dataset=dataset, max_steps=2, run_dir=str(rd.root))
    train_result(cfg).save(rd.root)
    write_run_docs(run_dir=rd.root)
    return rd, report


def test_data_card_names_the_training_data_when_01_inspected_another(tmp_path):
    rd, report = _run(tmp_path, "orders-json")
    card = (rd.docs_dir / "data_card.md").read_text()
    assert card.startswith("# Data card: orders-json")
    assert "trained on `orders-json`, but notebook 01 inspected `messy-support`" in card
    assert report.provenance["sha256"] not in card  # messy-support's hash is not the run's
    assert "PII finding" not in card and "clean_log" not in card
    record = (rd.docs_dir / "ai_act_record.md").read_text()
    assert "notebook 01 inspected `messy-support`" in record


def test_data_card_keeps_the_inspection_and_cleaning_of_the_cleaned_copy(tmp_path):
    rd, report = _run(tmp_path, str(RunDir(tmp_path / "run").clean_copy))
    card = (rd.docs_dir / "data_card.md").read_text()
    assert report.provenance["sha256"] in card and "PII finding" in card
    assert "train.clean.clean_log.json" in card and "inspected `" not in card
