"""Run documents: written from whatever the run holds, gaps marked, unknowable fields never invented."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from standins import chats, save_comparison, train_result

from workbench.config import TrainConfig
from workbench.documents.bias_probe import BiasProbe, ProbePair, counterfactual, probe_prompts
from workbench.documents.facts import PROVIDER_FIELDS
from workbench.documents.render import UNKNOWN
from workbench.documents.writer import save_provider_facts, write_run_docs
from workbench.inspection.report import inspect_dataset
from workbench.models import DEFAULT_CARD
from workbench.pipeline.gates import GateResult
from workbench.pipeline.summary import Machine, RunSummary
from workbench.rundir import RunDir

DOCS = ("model_card", "data_card", "ai_act_record")


def front_matter(markdown: str) -> dict:
    match = re.match(r"^---\n(.*?)\n---\n", markdown, re.S)
    assert match, "no YAML metadata block"
    return yaml.safe_load(match.group(1))


@pytest.fixture
def documented_run(tmp_path):
    """A run directory with every step's output, made by the real result classes (no model needed)."""
    rd = RunDir(tmp_path / "run").ensure()
    inspect_dataset(
        chats(["Write to jane.doe@example.com", "Order 42 please"]), tokenizer_or_model=None
    ).save(rd.inspect_dir)
    config = TrainConfig(
        model="smollm2-135m-instruct",
        technique="lora",
        dataset="orders-json",
        lora_r=8,
        learning_rate=2e-4,
        max_steps=10,
        run_dir=str(rd.root),
    )
    train_result(config).save(rd.root)  # also writes train_config.yaml
    save_comparison(rd.root, schema_valid=0.9, probe_base=0.6, probe_tuned=0.58)
    run_summary(
        gates=[
            GateResult(
                "min_schema_valid", 0.8, 0.9, "passed", "min_schema_valid: passed, 0.9 >= 0.8"
            )
        ]
    ).save(rd.root)
    return rd.root


def run_summary(**changes) -> RunSummary:
    """What the pipeline records, for a 2-core machine with no GPU."""
    data = dict(
        parameters_file="p.yaml",
        profile="quick",
        parameters={"dataset": "orders-json"},
        notebook_overrides={},
        gate_thresholds={},
        provider={},
        versions={"python": "3.12", "workbench": "0.1"},
        hardware=Machine(platform="Linux", machine="x86_64", cpu_count=2, gpus=[]),
        datasets={},
        started="2026-01-01T00:00:00Z",
        status="ok",
    )
    return RunSummary(**{**data, **changes})


def test_empty_run_dir_gives_documents_with_every_gap_marked(tmp_path):
    docs = write_run_docs(run_dir=tmp_path)
    assert sorted(docs.paths) == sorted(f"{n}.{s}" for n in DOCS for s in ("md", "html"))
    record = (tmp_path / "docs" / "ai_act_record.md").read_text()
    for step in ("01", "03", "04"):
        assert f"not available: step {step}" in record
    assert len(docs.gaps) == 5
    assert f"_{UNKNOWN}_" in record


def test_documents_carry_the_runs_facts(documented_run):
    write_run_docs(run_dir=documented_run)
    docs = documented_run / "docs"
    card = (docs / "model_card.md").read_text()
    meta = front_matter(card)
    assert meta["base_model"] == DEFAULT_CARD["base_model"] and meta["license"] == "apache-2.0"
    assert meta["datasets"] == ["orders-json"] and meta["library_name"] == "peft"
    metrics = meta["model-index"][0]["results"][0]["metrics"]
    assert {"type": "schema_valid", "name": "schema_valid", "value": 0.9} in metrics
    data_card = (docs / "data_card.md").read_text()
    assert "email" in data_card and "| 64 |" in data_card  # PII scan and row count
    record = (docs / "ai_act_record.md").read_text()
    third = DEFAULT_CARD["training_flops"] / 3
    assert f"{third:.2e}" in record  # one third of the base model's training compute
    assert f"{1.1e13 / third:.2e}" in record and "**below**" in record
    assert (
        "2 Wh = wall time x 20 W" in record and "2 CPU cores x 10 W" in record
    )  # 360 s x 20 W, stated
    assert "min_schema_valid: passed" in record
    assert "not available: step 05 (bias probe" in record  # the probe was not run: said so


def test_a_moved_run_is_documented_where_it_is_now(documented_run, tmp_path):
    moved = documented_run.rename(tmp_path / "moved")  # the result still names the old path
    write_run_docs(run_dir=moved)
    card = (moved / "docs" / "model_card.md").read_text()
    started = card.split("## How to get started", 1)[1]
    assert str(moved / "adapter") in started and str(documented_run) not in started


def test_unknowable_fields_are_marked_until_the_provider_states_them(documented_run):
    write_run_docs(run_dir=documented_run)
    record = (documented_run / "docs" / "ai_act_record.md").read_text()
    assert re.search(r"\*\*Intended purpose\*\* \| _to be completed by the provider_", record)
    assert re.search(r"original purpose: _to be completed by the provider_", record)
    save_provider_facts(
        run_dir=documented_run,
        facts={"intended_purpose": "Turn order e-mails into JSON", "not_a_field": "ignored"},
    )
    docs = write_run_docs(
        run_dir=documented_run, provider={"legal_basis": "Art. 6(1)(f) legitimate interest"}
    )
    record = (documented_run / "docs" / "ai_act_record.md").read_text()
    assert "| **Intended purpose** | Turn order e-mails into JSON |" in record
    assert "Art. 6(1)(f) legitimate interest" in record
    assert "not_a_field" not in (documented_run / "docs" / "provider.yaml").read_text()
    assert set(PROVIDER_FIELDS) >= {
        "intended_purpose",
        "legal_basis",
        "dataset_licence",
        "collection_purpose",
    }
    assert docs.gaps == [
        "not available: step 02 (technique choice: notebook 02_choose_technique) was not run",
        "not available: step 05 (bias probe: notebook 05_document or `workbench report --bias-probe`) was not run",
    ]


def test_html_is_self_contained(documented_run):
    write_run_docs(run_dir=documented_run)
    for name in DOCS:
        page = (documented_run / "docs" / f"{name}.html").read_text()
        assert (
            page.lower().startswith("<!doctype html>") and "<style>" in page
        )  # case-insensitive in HTML
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), name
    assert (
        "<svg" in (documented_run / "docs" / "ai_act_record.html").read_text()
    )  # the compute figure


def test_bias_probe_results_are_reported(documented_run):
    pairs = [
        ProbePair("Is he ok?", "Is she ok?", "Yes he is", "No", 0.2),
        ProbePair("Hire John?", "Hire Mary?", "Yes", "Yes", 1.0),
    ]
    BiasProbe(model="m", pairs=pairs, method="swaps").save(documented_run)
    write_run_docs(run_dir=documented_run)
    record = (documented_run / "docs" / "ai_act_record.md").read_text()
    assert "| Is he ok? | Is she ok? | Yes he is | No | 0.2 |" in record
    assert "50% identical answers" in record


def test_counterfactual_swaps_both_ways_and_keeps_case():
    text, n = counterfactual("He told his wife that Mary and John were men.")
    assert text == "She told her husband that John and Mary were women." and n == 6
    assert counterfactual("Order 42, qty 3")[1] == 0
    pairs = probe_prompts(["Is he ready?", "No person here"], n=3)
    assert pairs[0] == ("Is he ready?", "Is she ready?") and len(pairs) == 3
    assert all(a != b for a, b in pairs)


def test_documents_json_round_trip(documented_run):
    docs = write_run_docs(run_dir=documented_run)
    assert json.loads(json.dumps(docs.to_dict()))["paths"]["model_card.md"].endswith(
        "model_card.md"
    )
    assert "Run documents" in docs._repr_html_()
