"""The probe's unknown questions: gains beside losses, the net change over both sets, its gate."""

from __future__ import annotations

import json

import pytest
from standins import comparison

from workbench.comparison.comparison import (
    Comparison,
    Forgetting,
    Row,
    _unknown_source,
)
from workbench.comparison.html import forgetting_section
from workbench.comparison.stats import summarise, summarise_metric
from workbench.data.dataset import SAMPLES_DIR
from workbench.pipeline.gates import check_gates

REF = "contains_reference"


def _rows(pairs: list[tuple[float, float]]) -> list[Row]:
    return [
        Row(i, [{"role": "user", "content": f"q{i}"}], "r", "b", "t", {REF: b}, {REF: t})
        for i, (b, t) in enumerate(pairs)
    ]


def _forgetting(known: list[tuple[float, float]], unknown: list[tuple[float, float]]) -> Forgetting:
    rows, extra = _rows(known), _rows(unknown)
    net = summarise_metric(rows + extra, REF, n_boot=200, seed=0) if extra else None
    summary = summarise(rows, [REF], n_boot=200, seed=0)
    return Forgetting("general-probe", rows, summary, {}, 0.05, 0.25, False, [], extra, net)


def test_flips_count_losses_among_known_and_gains_among_unknown():
    f = _forgetting([(1, 0), (1, 0), (1, 1), (1, 1)], [(0, 1), (0, 1), (0, 1), (0, 0)])
    assert f.flips == {
        "known": 4,
        "lost": 2,
        "gained_known": 0,
        "unknown": 4,
        "gained": 3,
        "lost_unknown": 0,
    }
    # 4 of 8 right before, 5 of 8 after: the known probe fell 50 points, general accuracy rose
    assert f.largest_drop == pytest.approx(0.5)
    assert f.net_drop == pytest.approx(-1 / 8)
    line = f.flips_line()
    assert line.startswith("lost 2 of the 4 questions the base answered right, gained 3 of the 4")
    assert "over all 8, 50.0% -> 62.5% (+12.5%" in line and "95% CI" in line


def test_without_unknown_questions_there_is_no_net_and_no_line():
    f = _forgetting([(1, 0), (1, 1)], [])
    assert f.net is None and f.net_drop is None and f.flips_line() is None
    assert f.flips["unknown"] == 0 and f.flips["lost"] == 1
    assert "Known and unknown" not in forgetting_section(f)


def test_the_unknown_rows_and_net_come_back_typed_and_an_older_file_still_loads(tmp_path):
    result = comparison(schema_valid=0.8, probe_base=0.6, probe_tuned=0.5)
    result.forgetting = _forgetting([(1, 0), (1, 1)], [(0, 1), (0, 0), (0, 1)])
    result.save(tmp_path)
    back = Comparison.load(tmp_path)
    assert back.forgetting == result.forgetting and back.forgetting.flips["gained"] == 2
    assert "Known and unknown questions: lost 1 of the 2" in forgetting_section(back.forgetting)
    assert any("gained 2 of the 3 it got wrong" in line for line in back.summary_lines())
    # a comparison.json written before the unknown split existed
    path = tmp_path / "comparison.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    del data["forgetting"]["unknown_rows"], data["forgetting"]["net"]
    path.write_text(json.dumps(data), encoding="utf-8")
    old = Comparison.load(tmp_path)
    assert old.forgetting.unknown_rows == [] and old.forgetting.net is None


def test_the_net_gate_reads_the_net_drop_and_skips_without_unknown_rows(tmp_path):
    result = comparison(schema_valid=0.8, probe_base=0.6, probe_tuned=0.5)
    # 10 of 20 right before: lost 3 known, gained 1 unknown -> 8 of 20, a net drop of 10 points
    result.forgetting = _forgetting([(1, 0)] * 3 + [(1, 1)] * 7, [(0, 1)] + [(0, 0)] * 9)
    result.save(tmp_path)
    (gate,) = check_gates({"max_net_forgetting_drop": 0.05}, run_dir=tmp_path)
    assert gate.status == "failed" and gate.value == pytest.approx(0.10)
    (gate,) = check_gates({"max_net_forgetting_drop": 0.10}, run_dir=tmp_path)
    assert gate.status == "passed"
    result.forgetting = _forgetting([(1, 0)], [])
    result.save(tmp_path)
    (gate,) = check_gates({"max_net_forgetting_drop": 0.05}, run_dir=tmp_path)
    assert gate.status == "skipped"


def test_general_probe_ships_unknown_questions_the_base_got_wrong():
    verified = json.loads(
        (SAMPLES_DIR.parents[2] / "scripts" / "general_probe_verified.json").read_text("utf-8")
    )
    wrong = {(r["question"], r["reference"]) for r in verified if r["why_not"] == "wrong answer"}
    lines = (SAMPLES_DIR / "general-probe" / "unknown.jsonl").read_text("utf-8").splitlines()
    unknown = [json.loads(line)["messages"] for line in lines]
    pairs = {(m[0]["content"], m[1]["content"]) for m in unknown}
    assert pairs == wrong and len(unknown) == len(wrong)
    known = (SAMPLES_DIR / "general-probe" / "eval.jsonl").read_text("utf-8")
    assert not any(json.dumps(q)[1:-1] in known for q, _ in pairs)
    assert _unknown_source("general-probe").name == "unknown.jsonl"
    assert _unknown_source("orders-json") is None and _unknown_source([["x"]]) is None


def test_the_model_card_reports_the_answers_lost_and_gained(tmp_path):
    from standins import train_result

    from workbench.config import TrainConfig
    from workbench.documents.writer import write_run_docs

    run = tmp_path / "run"
    config = TrainConfig(dataset="orders-json", max_steps=10, run_dir=str(run))
    train_result(config).save(run)
    result = comparison(schema_valid=0.8, probe_base=0.6, probe_tuned=0.5)
    result.forgetting = _forgetting([(1, 0), (1, 1)], [(0, 1), (0, 0), (0, 1)])
    result.save(run)
    write_run_docs(run_dir=run)
    card = (run / "docs" / "model_card.md").read_text(encoding="utf-8")
    assert "Known and unknown probe questions: lost 1 of the 2 questions" in card
    assert "gained 2 of the 3 it got wrong: over all 5, 40.0%" in card  # "->" is escaped
    assert "60.0% (+20.0%, 95% CI" in card
