"""The lever trial: few-shot and retrieval prompts, the learning curve, the decision, and a real run on the tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.config import TrainConfig
from workbench.errors import ConfigError, DataError
from workbench.estimation import prompting as P
from workbench.estimation.learning_curve import fit_curve
from workbench.estimation.lever_decision import decide
from workbench.estimation.lever_result import Arm, LeverTrial
from workbench.estimation.lever_trial import lever_trial, sample_knowledge
from workbench.pipeline.gates import check_gates

SYSTEM = {"role": "system", "content": "Answer with the colour only."}


def chat(question: str, answer: str) -> list[dict[str, str]]:
    return [SYSTEM, {"role": "user", "content": question}, {"role": "assistant", "content": answer}]


# -- prompts --------------------------------------------------------------------------------------


def test_few_shot_shows_the_most_similar_rows_nearest_the_question():
    train = [
        chat("What colour is the winch?", "orange"),
        chat("What colour is the purifier?", "blue"),
        chat("How heavy is the pump?", "12 kg"),
    ]
    shots = P.shots_from(train)
    finder = P.Retriever([P.query_text(s.turns) for s in shots])
    prompt = [SYSTEM, {"role": "user", "content": "Which colour does the purifier come in?"}]
    picked = [shots[i] for i in finder.top(P.query_text(prompt), 2)]
    assert picked[0].answer == "blue"  # the purifier row ranks first
    shown = P.few_shot_prompt(prompt, picked)
    assert shown[0] == SYSTEM and shown[-1] == prompt[-1]  # system first, the question last
    assert [m["role"] for m in shown] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert shown[-2]["content"] == "blue"  # the best shot sits right before the question
    assert all(m["role"] != "system" for m in shown[1:])  # the shots' system messages are dropped


def test_retrieval_adds_notes_to_the_system_message_or_makes_one():
    prompt = [SYSTEM, {"role": "user", "content": "q"}]
    shown = P.with_notes(prompt, ["The XK-220 is orange."])
    assert (
        shown[0]["content"].startswith(SYSTEM["content"])
        and "- The XK-220 is orange." in shown[0]["content"]
    )
    assert shown[1:] == prompt[1:] and prompt[0] == SYSTEM  # the input is not changed
    bare = P.with_notes([{"role": "user", "content": "q"}], ["note"])
    assert bare[0]["role"] == "system" and P.NOTES_HEADER in bare[0]["content"]
    assert P.with_notes(prompt, []) == prompt


def test_knowledge_passages_from_each_file_kind(tmp_path: Path):
    catalogue = sample_knowledge("product-jargon")
    assert catalogue is not None and catalogue.name == "catalogue.json"
    passages = P.knowledge_passages(catalogue)
    products = json.loads(catalogue.read_text())["products"]
    assert len(passages) == len(products)  # one passage per product record
    assert products[0]["code"] in passages[0] and products[0]["kind"] in passages[0]
    finder = P.Retriever(passages)
    code = products[5]["code"]
    assert finder.top(f"What is the warranty on the {code}?", 1) == [5]

    (tmp_path / "notes.md").write_text("First paragraph\nwraps.\n\nSecond one.\n\n\n")
    assert P.knowledge_passages(tmp_path / "notes.md") == ["First paragraph wraps.", "Second one."]
    (tmp_path / "k.jsonl").write_text('{"text": "alpha"}\n\n{"name": "beta", "size": 3}\n')
    assert P.knowledge_passages(tmp_path / "k.jsonl") == ["alpha", "name: beta; size: 3"]
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\n{broken\n')
    with pytest.raises(DataError, match=r"bad.jsonl: line 2"):
        P.knowledge_passages(tmp_path / "bad.jsonl")
    (tmp_path / "k.csv").write_text("a,b\n")
    with pytest.raises(ConfigError, match=r"\.txt, \.md, \.json or \.jsonl"):
        P.knowledge_passages(tmp_path / "k.csv")
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(DataError, match="no text"):
        P.knowledge_passages(tmp_path / "empty.txt")


def test_training_answers_are_the_fallback_passages_once_each():
    train = [chat("a", "orange"), chat("b", "orange"), chat("c", "blue")]
    assert P.answers_of(train) == ["orange", "blue"]


# -- learning curve -------------------------------------------------------------------------------


def test_learning_curve_recovers_a_power_law_and_calls_a_flat_one_flat():
    rows = [10, 20, 40]
    curve = fit_curve("m", rows, [1 - 0.5 * n**-0.5 for n in rows])
    assert curve.slope == pytest.approx(0.5, abs=1e-9)
    assert curve.predict(160) == pytest.approx(1 - 0.5 * 160**-0.5, abs=1e-9)
    assert curve.forecast["2x"] == pytest.approx(1 - 0.5 * 80**-0.5, abs=1e-9)
    assert "twice the rows" in curve.verdict()
    flat = fit_curve("m", rows, [0.6, 0.6, 0.6])
    assert flat.slope == pytest.approx(0.0, abs=1e-9) and "flat" in flat.verdict()
    assert fit_curve("m", [10], [0.5]).slope is None  # one point: nothing to fit


# -- deciding -------------------------------------------------------------------------------------


def arm(name: str, lever: str, values: list[float], *, rows: int | None = None) -> Arm:
    mean = sum(values) / len(values)
    return Arm(
        name,
        lever,
        {"m": list(values)},
        {"m": mean},
        {"m": [mean, mean]},
        [""] * len(values),
        answer_s=1.0,
        prompt_tokens=10.0,
        train_rows=rows,
    )


def trial_of(*arms: Arm, margin: float = 0.05) -> LeverTrial:
    n = len(arms[0].scores["m"])
    return LeverTrial("d", "model", "m", list(range(n)), list(arms), margin, "", [])


def test_fine_tuning_is_recommended_only_when_it_clearly_beats_the_best_prompt_arm():
    zero = arm("zero-shot", "prompt", [0.0] * 20)
    rag = arm("retrieval k=3", "rag", [1.0] * 10 + [0.0] * 10)
    tuned = arm("lora 100%", "finetune", [1.0] * 18 + [0.0] * 2, rows=40)
    clear = decide(trial_of(zero, rag, tuned))
    assert clear.recommendation == "finetune"
    assert clear.finetune_lead == pytest.approx(0.4)  # against retrieval, the best prompt-only arm
    assert clear.finetune_lead_ci[0] > 0

    close = decide(trial_of(zero, rag, arm("lora 100%", "finetune", [1.0] * 11 + [0.0] * 9)))
    assert close.recommendation == "rag"  # +5 points on 20 rows: the interval reaches zero
    assert close.finetune_lead == pytest.approx(0.05)
    assert close.finetune_lead_ci[0] <= 0

    behind = decide(trial_of(zero, rag, arm("lora 100%", "finetune", [0.0] * 20)))
    assert behind.recommendation == "rag" and behind.finetune_lead == pytest.approx(-0.5)


def test_the_lead_is_paired_on_the_same_rows():
    # equal means, but fine-tuning wins exactly the rows prompting loses: the lead is 0 either way
    prompt = arm("few-shot k=3", "prompt", [1.0, 0.0] * 10)
    tuned = arm("lora 100%", "finetune", [0.0, 1.0] * 10)
    trial = decide(trial_of(prompt, tuned))
    assert trial.finetune_lead == pytest.approx(0.0) and trial.recommendation == "prompt"


def test_learning_curve_from_the_fine_tunes_and_the_advisor_beside_it():
    arms = [
        arm("zero-shot", "prompt", [0.0] * 8),
        arm("lora 25%", "finetune", [1.0] * 4 + [0.0] * 4, rows=10),
        arm("lora 100%", "finetune", [1.0] * 7 + [0.0], rows=40),
    ]
    t = trial_of(*arms)
    t.advisor = "Prompt engineering"
    decided = decide(t)
    assert decided.curve is not None and decided.curve.rows == [10, 40]
    assert decided.curve.scores == [0.5, 0.875]
    assert any("disagrees" in r for r in decided.reasons)  # measured fine-tune vs advised prompt


# -- a real trial on the tiny model ---------------------------------------------------------------

COLOURS = ["red", "green", "blue", "amber", "violet", "teal"]


def write_rows(path: Path, rows: list[list[dict[str, str]]]) -> Path:
    path.write_text("".join(json.dumps({"messages": r}) + "\n" for r in rows))
    return path


@pytest.mark.slow  # two fine-tunes
def test_lever_trial_runs_every_arm_and_saves_what_it_measured(tmp_path, tiny_model_dir):
    train = [chat(f"Item {i}: which colour?", COLOURS[i % 6]) for i in range(24)]
    evals = [chat(f"Item {i}: which colour?", COLOURS[i % 6]) for i in range(100, 106)]
    cfg = TrainConfig(
        model="tiny-random",
        dataset=str(write_rows(tmp_path / "train.jsonl", train)),
        eval_dataset=str(write_rows(tmp_path / "eval.jsonl", evals)),
        run_dir=str(tmp_path / "run"),
        max_steps=4,
        batch_size=4,
        max_length=128,
        learning_rate=2e-3,
        warmup_ratio=0.0,
        log_every=2,
    )
    trial = lever_trial(cfg, few_shot_k=(1, 2), fractions=(0.5, 1.0), max_new_tokens=4, n_boot=200)
    names = [a.name for a in trial.arms]
    assert names == [
        "zero-shot",
        "few-shot k=1",
        "few-shot k=2",
        "retrieval k=3",
        "lora 50%",
        "lora 100%",
    ]
    assert trial.metric == "chrf"  # no schema, no style: notebook 04's choice for free text
    assert trial.row_ids == [1, 2, 3, 4, 5, 6]
    assert all(
        len(a.scores["chrf"]) == len(evals) and len(a.answers) == len(evals) for a in trial.arms
    )
    by = {a.name: a for a in trial.arms}
    assert (
        by["few-shot k=2"].prompt_tokens
        > by["few-shot k=1"].prompt_tokens
        > by["zero-shot"].prompt_tokens
    )
    assert by["retrieval k=3"].detail["searched"] == "the training answers"
    assert [by["lora 50%"].train_rows, by["lora 100%"].train_rows] == [12, 24]
    assert [by["lora 50%"].steps, by["lora 100%"].steps] == [2, 4]  # the same epochs on each slice
    assert by["lora 100%"].train_s > 0 and by["zero-shot"].train_s == 0
    assert trial.recommendation in ("prompt", "rag", "finetune") and trial.reasons
    assert trial.curve is not None and trial.curve.rows == [12, 24]
    lead = trial.best("finetune").mean("chrf") - trial.best("prompt", "rag").mean("chrf")
    assert trial.finetune_lead == pytest.approx(lead)  # every arm scored every row: paired = means

    run = Path(cfg.run_dir)
    loaded = LeverTrial.load(run)
    assert loaded.to_dict() == trial.to_dict()
    assert (run / "lever_trial.html").is_file() and (run / "figures" / "lever_trial.html").is_file()
    assert (run / "lever_trial" / "lora-50" / "adapter").is_dir()
    assert "Measured recommendation" in (run / "lever_trial.html").read_text()
    table = trial.markdown_table().splitlines()
    assert len(table) == 2 + len(trial.arms) and table[2].startswith("| zero-shot | ")

    [gate] = check_gates({"min_finetune_lead": lead - 0.01}, run_dir=run)
    assert gate.status == "passed"
    [gate] = check_gates({"min_finetune_lead": lead + 0.01}, run_dir=run)
    assert gate.status == "failed" and "prompt-only" in gate.reason


def test_lever_trial_refuses_unknown_arms_and_bad_fractions(tmp_path):
    cfg = TrainConfig(model="tiny-random", dataset="orders-json", run_dir=str(tmp_path / "r"))
    with pytest.raises(ConfigError, match="Unknown lever-trial arm"):
        lever_trial(cfg, arms=("zero-shot", "magic"))
    with pytest.raises(ConfigError, match="fractions"):
        lever_trial(cfg, fractions=(0.0, 1.0))
    assert not (tmp_path / "r").exists()


@pytest.mark.slow  # two fine-tunes
def test_constrained_arms_decode_the_largest_prompt_and_fine_tune_against_the_schema(tmp_path):
    cfg = TrainConfig(
        model="tiny-random",
        dataset="orders-json",
        run_dir=str(tmp_path / "run"),
        max_train_rows=8,
        max_eval_rows=3,
        max_steps=2,
        batch_size=4,
        max_length=256,
        warmup_ratio=0.0,
    )
    trial = lever_trial(
        cfg,
        arms=("few-shot", "finetune", "constrained"),
        few_shot_k=(1,),
        fractions=(0.5, 1.0),
        max_new_tokens=24,
        n_boot=100,
    )
    by = {a.name: a for a in trial.arms}
    assert list(by) == [
        "few-shot k=1",
        "few-shot k=1 + schema",
        "lora 50%",
        "lora 100%",
        "lora 100% + schema",
    ]
    assert (
        by["few-shot k=1 + schema"].lever == "prompt"
        and by["lora 100% + schema"].lever == "finetune"
    )
    # held to the schema from the first token: every answer opens the order object
    for name in ("few-shot k=1 + schema", "lora 100% + schema"):
        assert all(a.startswith('{"customer":') for a in by[name].answers), by[name].answers
        assert by[name].detail["constrained"] is True
    assert not any(a.startswith('{"customer":') for a in by["lora 100%"].answers)
    assert trial.curve.rows == [4, 8]  # free decoding only: the constrained copy is no third point


def test_the_constrained_arm_needs_a_schema(tmp_path):
    cfg = TrainConfig(model="tiny-random", dataset="support-tone", run_dir=str(tmp_path / "r"))
    with pytest.raises(ConfigError, match="has none"):
        lever_trial(cfg, arms=("constrained",))
