"""The run-directory contract: each artifact's owner type saves and loads it, drift fails loudly.

Round trips per owner type; a field renamed on disk, a wrong type, a truncated file and a file
that is simply absent (the step did not run), each seen through the typed reader; the real engine's
train_result.json read back; a diverged run shown as diverged by every downstream reader.
"""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import pytest
from standins import comparison, dataset_report, technique_choice, train_result

from workbench.comparison.comparison import Comparison
from workbench.comparison.stats import MetricSummary
from workbench.config import TrainConfig
from workbench.documents.bias_probe import BiasProbe, ProbePair
from workbench.documents.facts import ProviderFacts, RunFacts
from workbench.documents.writer import write_run_docs
from workbench.errors import ArtifactError, ArtifactMissing
from workbench.estimation.advisor import advise
from workbench.estimation.choice import TechniqueChoice
from workbench.estimation.estimator import estimate
from workbench.inspection.report import DatasetReport
from workbench.pipeline.gates import GateResult, check_gates
from workbench.pipeline.runner import _check_outcome
from workbench.pipeline.summary import (
    DatasetFiles,
    FileFingerprint,
    Machine,
    RunSummary,
    StepResult,
    collect_metrics,
)
from workbench.rundir import RunDir
from workbench.training.result import TrainResult

PACKAGE = Path(__file__).resolve().parents[1] / "workbench"


def config(run: Path, **changes) -> TrainConfig:
    return TrainConfig(
        **{"model": "tiny-random", "dataset": "orders-json", "run_dir": str(run), **changes}
    )


def probe_result() -> BiasProbe:
    pairs = [
        ProbePair("Is he ok?", "Is she ok?", "Yes he is", "No", 0.2),
        ProbePair("Hire John?", "Hire Mary?", "Yes", "Yes", 1.0),
    ]
    return BiasProbe(model="m + lora (tuned)", pairs=pairs, max_new_tokens=8)


def run_summary() -> RunSummary:
    files = [FileFingerprint("/data/train.jsonl", "ab" * 32, 1234)]
    return RunSummary(
        parameters_file="p.yaml",
        profile="quick",
        parameters={"dataset": "orders-json", "max_steps": 2},
        notebook_overrides={"03_train": {"learning_rate": 0.01}},
        gate_thresholds={"max_pii_errors": 0.0},
        provider={"intended_purpose": "orders to JSON"},
        versions={"python": "3.12"},
        hardware=Machine("Linux", "x86_64", 2, []),
        datasets={"dataset": DatasetFiles("orders-json", files)},
        started="2026-01-01T00:00:00Z",
        status="ok",
        steps=[StepResult("01_inspect_data", "ok", 1.5, "nb.ipynb")],
        metrics={"train": {"status": "completed", "steps": 2}},
        gates=[GateResult("max_pii_errors", 0.0, 0.0, "passed", "max_pii_errors: passed")],
    )


# -- round trips ---------------------------------------------------------------------------------


def test_every_owner_type_round_trips(tmp_path):
    rd = RunDir(tmp_path)
    report = dataset_report(pii_errors=2)
    report.save(rd.inspect_dir)
    assert DatasetReport.load(tmp_path) == report

    cfg = config(tmp_path, max_steps=5)
    est = estimate(cfg.replace(model="smollm2-135m-instruct"), hardware="this-cpu")
    advice = advise(goal_format=True, good_examples=800, prompting_tried=True)
    choice = TechniqueChoice(train_config=cfg, estimate=est, advice=advice, probe={"step_s": 1.5})
    choice.save(tmp_path)
    assert TechniqueChoice.load(tmp_path) == choice

    cfg.save(tmp_path)
    assert TrainConfig.load(tmp_path) == cfg
    result = train_result(cfg)
    result.save(tmp_path)
    assert TrainResult.load(tmp_path) == result

    comp = comparison(schema_valid=0.8, probe_base=0.6, probe_tuned=0.5)
    comp.summary["chrf"] = MetricSummary(
        "chrf", 4, 0.5, 0.6, 0.1, (0.4, 0.6), (0.5, 0.7), (0.0, 0.2), 2, 1, 1
    )
    comp.save(tmp_path)
    loaded = Comparison.load(tmp_path)
    assert loaded == comp and loaded.summary["chrf"].delta_ci == (0.0, 0.2)  # a tuple again

    probe = probe_result()
    probe.save(tmp_path)
    assert BiasProbe.load(tmp_path) == probe

    facts = ProviderFacts(intended_purpose="Turn orders into JSON", high_risk_use=False)
    facts.save(tmp_path)
    assert ProviderFacts.load(tmp_path) == facts

    summary = run_summary()
    summary.save(tmp_path)
    assert RunSummary.load(tmp_path) == summary


def test_a_technique_choice_needs_only_its_config(tmp_path):
    """A choice written by hand (or by a script) holds train_config alone; notebook 03 trains it."""
    RunDir(tmp_path).technique_json.write_text(json.dumps({"train_config": {"technique": "dora"}}))
    choice = TechniqueChoice.load(tmp_path)
    assert choice.technique == "dora" and choice.estimate is None and choice.advice is None


# -- drift fails loudly, naming the file and the field -------------------------------------------


def _write_all(run: Path) -> None:
    dataset_report(pii_errors=1).save(RunDir(run).inspect_dir)
    technique_choice(run).save(run)
    train_result(config(run, max_steps=2)).save(run)
    comparison(schema_valid=0.8, probe_base=0.6, probe_tuned=0.5).save(run)
    probe_result().save(run)
    run_summary().save(run)


RENAMES = [  # (file, dotted path of the field renamed on disk, owner type, field in the message)
    ("inspect/report.json", "findings", DatasetReport, "findings"),
    ("inspect/report.json", "findings.0.severity", DatasetReport, "findings[0].severity"),
    ("technique.json", "train_config", TechniqueChoice, "train_config"),
    ("train_result.json", "status", TrainResult, "status"),
    ("train_result.json", "data.train.rows", TrainResult, "data.train.rows"),
    (
        "comparison.json",
        "forgetting.summary.chrf.tuned_mean",
        Comparison,
        "forgetting.summary.chrf.tuned_mean",
    ),
    ("docs/bias_probe.json", "pairs.1.similarity", BiasProbe, "pairs[1].similarity"),
    ("summary.json", "hardware.cpu_count", RunSummary, "hardware.cpu_count"),
]


def _rename(path: Path, dotted: str) -> None:
    data = json.loads(path.read_text())
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[last + "_renamed"] = node.pop(last)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(("name", "dotted", "owner", "field"), RENAMES)
def test_a_field_renamed_on_disk_fails_the_typed_reader(tmp_path, name, dotted, owner, field):
    _write_all(tmp_path)
    owner.load(tmp_path)  # reads back before the edit
    _rename(tmp_path / name, dotted)
    with pytest.raises(ArtifactError) as caught:
        owner.load_optional(tmp_path)  # present but corrupt: an error, never "not run"
    message = str(caught.value)
    assert str(tmp_path / name) in message and f"'{field}'" in message and "missing" in message
    assert owner.MADE_BY in message  # what to rerun


def test_wrong_types_and_values_are_named(tmp_path):
    train_result(config(tmp_path, max_steps=2)).save(tmp_path)
    path = RunDir(tmp_path).train_result_json
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "steps": "three"}))
    with pytest.raises(ArtifactError, match=r"field 'steps': expected int, got 'three' \(str\)"):
        TrainResult.load(tmp_path)
    path.write_text(json.dumps({**data, "status": "finished"}))
    with pytest.raises(ArtifactError, match="train_result.json: TrainResult.status must be one of"):
        TrainResult.load(tmp_path)
    RunDir(tmp_path).train_config_yaml.write_text("max_steps: lots\n")
    with pytest.raises(ArtifactError, match=r"train_config\.yaml: .*'max_steps' expects int"):
        TrainConfig.load(tmp_path)


def test_extra_keys_of_a_newer_writer_are_tolerated(tmp_path):
    result = train_result(config(tmp_path, max_steps=2))
    result.save(tmp_path)
    path = RunDir(tmp_path).train_result_json
    path.write_text(json.dumps({**json.loads(path.read_text()), "written_by": "workbench 9.0"}))
    assert TrainResult.load(tmp_path) == result


def test_not_run_is_none_and_a_truncated_file_is_an_error(tmp_path):
    owners = (DatasetReport, TechniqueChoice, TrainResult, Comparison, BiasProbe, RunSummary)
    for owner in owners:
        assert owner.load_optional(tmp_path) is None
        with pytest.raises(ArtifactMissing, match=owner.MADE_BY.split(" (")[0]):
            owner.load(tmp_path)
    assert TrainConfig.load_optional(tmp_path) is None
    assert ProviderFacts.load(tmp_path) == ProviderFacts()  # nothing stated yet
    comparison(schema_valid=0.8, probe_base=0.6, probe_tuned=0.5).save(tmp_path)
    path = RunDir(tmp_path).comparison_json
    path.write_text(path.read_text()[:200])  # cut off mid-write by something else
    with pytest.raises(ArtifactError, match=r"comparison\.json: not valid JSON \(line \d+"):
        Comparison.load_optional(tmp_path)


def test_downstream_readers_refuse_a_corrupt_artifact(tmp_path):
    comparison(schema_valid=0.8, probe_base=0.6, probe_tuned=0.5).save(tmp_path)
    _rename(RunDir(tmp_path).comparison_json, "summary.schema_valid.tuned_mean")
    (gate,) = check_gates({"min_schema_valid": 0.5}, run_dir=tmp_path)
    assert gate.status == "failed" and "'summary.schema_valid.tuned_mean' is missing" in gate.reason
    with pytest.raises(ArtifactError, match="comparison.json"):
        RunFacts.read(tmp_path)  # documents never call a corrupt step "not run"
    assert "missing" in collect_metrics(RunDir(tmp_path))["compare"]["error"]


def test_provider_facts_keep_only_facts(tmp_path, caplog):
    RunDir(tmp_path).provider_yaml.parent.mkdir(parents=True)
    RunDir(tmp_path).provider_yaml.write_text(
        "intended_purpse: orders\nlegal_basis: Art. 6(1)(b)\n"
    )
    with caplog.at_level("WARNING"):
        facts = ProviderFacts.load(tmp_path)
    assert facts.legal_basis == "Art. 6(1)(b)" and facts.intended_purpose is None
    assert "intended_purpse (did you mean intended_purpose?)" in caplog.text
    RunDir(tmp_path).provider_yaml.write_text("legal_basis: [unclosed\n")
    with pytest.raises(ArtifactError, match="provider.yaml: not valid YAML"):
        ProviderFacts.load(tmp_path)


def test_no_module_spells_a_run_dir_path_by_hand():
    """Every `path / "train_result.json"`-style join of a run artifact's name lives in rundir.py."""
    names = {
        "inspect",
        "report.json",
        "technique.json",
        "train_config.yaml",
        "train_result.json",
        "metrics.jsonl",
        "checkpoints",
        "adapter",
        "model",
        "merged",
        "scaleout",
        "figures",
        "loss.html",
        "comparison.json",
        "comparison.html",
        "docs",
        "bias_probe.json",
        "provider.yaml",
        "notebooks",
        "summary.json",
        ".workbench-run",
        ".workbench.lock",
    }
    allowed = {
        (
            "inspection/report.py",
            "report.json",
        ),  # DatasetReport.save(folder): any folder (CLI --out)
        ("pipeline/runner.py", "notebooks"),  # the repository's notebooks, not a run's
        ("training/scaleout.py", "train_config.yaml"),  # the export folder's own copy
    }
    found = set()
    for path in PACKAGE.rglob("*.py"):
        if path.name == "rundir.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            right = getattr(node, "right", None)
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
                if isinstance(right, ast.Constant) and right.value in names:
                    found.add((path.relative_to(PACKAGE).as_posix(), right.value))
    assert found == allowed  # a new hand-built path fails; so does a stale allowance


# -- the real engine's files, and a run that diverged --------------------------------------------


def _train(run: Path, *, callbacks=(), **changes) -> TrainResult:
    """A short LoRA run of the tiny model (the learnable chats of test_train)."""
    from test_train import conversations

    from workbench.training.engine import train

    cfg = config(run, batch_size=4, log_every=1, eval_every=0, max_length=256, **changes)
    return train(cfg, train_data=conversations(16), callbacks=callbacks)


def test_the_engine_writes_what_the_typed_readers_read(tiny_model_dir, tmp_path):
    run = tmp_path / "run"
    result = _train(run, max_steps=2)
    assert result.status == "completed", result.message
    assert TrainResult.load(run) == result
    assert TrainConfig.load(run) == TrainConfig.from_dict(result.config)


def assert_shown_as_diverged(run: Path) -> None:
    """Gates, summary, pipeline and documents read the diverged result and say so, without crashing."""
    result = TrainResult.load(run)
    assert result.status == "diverged" and result.adapter_dir is None
    step = _check_outcome(StepResult("03_train", "ok"), RunDir(run))
    assert step.status == "failed" and "training ended with status diverged" in step.error
    assert collect_metrics(RunDir(run))["train"]["status"] == "diverged"
    gates = check_gates({"min_schema_valid": 0.9, "max_forgetting_drop": 0.1}, run_dir=run)
    assert [g.status for g in gates] == ["skipped", "skipped"]  # nothing compared: never "passed"
    facts = RunFacts.read(run)
    assert facts.train.status == "diverged" and not facts.has_weights
    docs = write_run_docs(run_dir=run)
    card = (RunDir(run).doc_file("model_card.md")).read_text()
    assert "| **Training status** | diverged: Training diverged at step" in card
    assert "status **diverged**" in card and "no trained weights were saved" in card
    assert "completed" not in card.split("Training status")[1].splitlines()[0]
    record = RunDir(run).doc_file("ai_act_record.md").read_text()
    assert "| **status** | diverged:" in record
    assert docs.gaps[0].startswith("not available: step 01")


def test_a_diverged_run_reads_as_diverged_downstream(tiny_model_dir, tmp_path):
    import torch
    from test_train import At

    def poison(state):
        with torch.no_grad():
            next(p for p in state.model.parameters() if p.requires_grad).fill_(float("nan"))

    result = _train(tmp_path / "run", max_steps=8, callbacks=[At(2, poison)])
    assert result.status == "diverged", result.message
    assert_shown_as_diverged(tmp_path / "run")


@pytest.mark.slow
def test_notebook_03_finishing_on_a_diverged_run(tiny_model_dir, run_dir, tmp_path):
    """Notebook 03 runs to its end when training diverges (a huge learning rate on the tiny model)."""
    from conftest import run_notebook

    data = tmp_path / "chat.jsonl"
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Say {i}."},
                {"role": "assistant", "content": f"{i}"},
            ]
        }
        for i in range(24)
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    chosen = config(run_dir, dataset=str(data), max_length=256, batch_size=4, log_every=1)
    TechniqueChoice(train_config=chosen.replace(eval_every=0, warmup_ratio=0.0)).save(run_dir)
    run_notebook("03_train.ipynb", run_dir, max_steps=6, learning_rate=1e8)
    result = TrainResult.load(run_dir)
    assert result.status == "diverged" and math.isfinite(result.wall_time_s)
    assert_shown_as_diverged(run_dir)
