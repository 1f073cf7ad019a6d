"""Quality gates: measured on real inspection reports and comparisons; a failing gate fails the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from standins import chats, make_standin_notebooks, save_comparison

from workbench.errors import ConfigError
from workbench.inspection.report import inspect_dataset
from workbench.pipeline.gates import check_gates, validate_gates
from workbench.rundir import RunDir

REPO = Path(__file__).resolve().parents[1]


def _by_name(gates, run_dir):
    return {g.name: g for g in check_gates(gates, run_dir=run_dir)}


def test_pii_gate_counts_error_findings_of_a_real_inspection(tmp_path):
    ds = chats(
        ["Mail me at jane.doe@example.com please", "Call +44 20 7946 0958", "Nothing personal here"]
    )
    inspect_dataset(ds, tokenizer_or_model=None).save(RunDir(tmp_path).inspect_dir)
    (result,) = check_gates({"max_pii_errors": 0}, run_dir=tmp_path)
    assert result.status == "failed" and result.value >= 2
    assert result.reason.startswith("max_pii_errors: FAILED, PII findings of severity error is")
    assert check_gates({"max_pii_errors": 10}, run_dir=tmp_path)[0].status == "passed"


def test_truncation_gate_uses_the_real_token_lengths(tmp_path, tiny_model_dir):
    ds = chats(["short", "a much longer question " * 30, "another one"])
    inspect_dataset(ds, tokenizer_or_model="tiny-random", max_length=64).save(
        RunDir(tmp_path).inspect_dir
    )
    (result,) = check_gates({"max_truncated_share": 0.05}, run_dir=tmp_path)
    assert result.status == "failed" and result.value == pytest.approx(1 / 3, abs=0.01)
    assert check_gates({"max_truncated_share": 0.5}, run_dir=tmp_path)[0].status == "passed"


def test_schema_and_forgetting_gates_read_the_comparison(tmp_path):
    save_comparison(tmp_path, schema_valid=0.75, probe_base=0.6, probe_tuned=0.4)
    results = _by_name({"min_schema_valid": 0.9, "max_forgetting_drop": 0.1}, tmp_path)
    assert (
        results["min_schema_valid"].status == "failed" and results["min_schema_valid"].value == 0.75
    )
    assert results["max_forgetting_drop"].status == "failed"
    assert results["max_forgetting_drop"].value == pytest.approx(0.2)
    save_comparison(tmp_path, schema_valid=1.0, probe_base=0.6, probe_tuned=0.62)
    assert all(
        g.status == "passed"
        for g in check_gates(
            {"min_schema_valid": 0.9, "max_forgetting_drop": 0.1}, run_dir=tmp_path
        )
    )


def test_a_value_on_the_threshold_passes_whatever_the_float_rounding(tmp_path):
    # 57 of 60 probe answers still right after 60 of 60: a drop of 5 points, which the float
    # subtraction makes 0.050000000000000044; "within 5 points" must pass it
    save_comparison(tmp_path, schema_valid=0.9, probe_base=1.0, probe_tuned=0.95)
    results = _by_name({"min_schema_valid": 0.9, "max_forgetting_drop": 0.05}, tmp_path)
    assert results["max_forgetting_drop"].value > 0.05  # the rounding this test is about
    assert results["max_forgetting_drop"].status == "passed", results["max_forgetting_drop"].reason
    assert results["min_schema_valid"].status == "passed"
    # one answer more lost is a real failure, not rounding
    save_comparison(tmp_path, schema_valid=0.9, probe_base=1.0, probe_tuned=56 / 60)
    (result,) = check_gates({"max_forgetting_drop": 0.05}, run_dir=tmp_path)
    assert result.status == "failed"


def test_the_unseen_schema_gate_reads_the_out_of_template_rows_only(tmp_path):
    gates = {"min_schema_valid": 0.9, "min_schema_valid_unseen": 0.9}
    save_comparison(
        tmp_path, schema_valid=0.92, probe_base=0.6, probe_tuned=0.6, unseen_schema_valid=0.5
    )
    results = _by_name(gates, tmp_path)
    assert results["min_schema_valid"].status == "passed"  # the in-template rows carry the mean
    unseen = results["min_schema_valid_unseen"]
    assert unseen.status == "failed" and unseen.value == 0.5
    assert "out-of-template" in unseen.reason
    save_comparison(tmp_path, schema_valid=0.92, probe_base=0.6, probe_tuned=0.6)
    results = _by_name(gates, tmp_path)
    assert results["min_schema_valid_unseen"].status == "skipped"  # not split: not measured


def test_a_gate_without_its_measurement_is_skipped_not_passed(tmp_path):
    (result,) = check_gates({"min_schema_valid": 0.9}, run_dir=tmp_path)
    assert result.status == "skipped" and result.value is None and "04_compare" in result.reason


def test_gate_thresholds_are_validated():
    with pytest.raises(ConfigError, match="expected a number"):
        validate_gates({"max_pii_errors": "none"})


@pytest.mark.slow
def test_failing_gate_makes_workbench_run_exit_1_with_one_line_reason(tmp_path):
    nbdir = make_standin_notebooks(tmp_path / "repo")
    params = tmp_path / "params.yaml"
    params.write_text(
        yaml.safe_dump(
            {
                "dataset": "orders-json",
                "notebooks": {
                    "01_inspect_data": {"pii_errors": 3},
                    "04_compare": {"schema_valid": 0.97},
                },
                "gates": {"max_pii_errors": 0, "min_schema_valid": 0.95},
            }
        )
    )
    cmd = [
        sys.executable,
        "-m",
        "workbench",
        "run",
        str(params),
        "--profile",
        "quick",
        "--run-dir",
        str(tmp_path / "run"),
        "--notebooks-dir",
        str(nbdir),
        "--notebooks",
        "01,02,03,04",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 1, proc.stderr
    failed = [ln for ln in proc.stderr.splitlines() if "FAILED" in ln]
    assert failed == [
        "workbench: max_pii_errors: FAILED, PII findings of severity error is 3, must be <= 0"
    ]
    assert "min_schema_valid: passed" in proc.stdout
