"""Classification runs: the metrics, the label-likelihood baseline, training a head, the comparison, gates."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from workbench.comparison.label_metrics import (
    accuracy,
    confusion,
    macro_f1,
    paired_intervals,
    per_class,
)
from workbench.config import TrainConfig
from workbench.errors import ConfigError, DataError

WORDS = {
    "refund": ["money back", "refund please", "return the charge", "reimburse me"],
    "shipping": ["parcel late", "where is my package", "delivery missing", "courier lost it"],
    "login": ["cannot sign in", "password reset", "locked out", "two factor fails"],
}
FILLER = ["hello", "team", "today", "order", "thanks", "again", "urgent", "please", "hi", "sorry"]


def rows(n: int, seed: int) -> list[dict[str, str]]:
    """Texts whose label is told by one key phrase among filler words (a tiny model can learn it)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = list(WORDS)[i % len(WORDS)]
        words = rng.sample(FILLER, 3) + [rng.choice(WORDS[label])] + rng.sample(FILLER, 2)
        out.append({"text": " ".join(words), "label": label})
    return out


def config(tiny_model_dir, run_dir, **over) -> TrainConfig:
    base = dict(
        model=str(tiny_model_dir),
        task="classification",
        technique="lora",
        dataset="given",
        max_steps=60,
        batch_size=8,
        learning_rate=3e-3,
        lora_r=8,
        lora_alpha=16,
        warmup_ratio=0.0,
        log_every=5,
        eval_every=30,
        max_length=32,
        run_dir=str(run_dir),
        report_to="none",
    )
    return TrainConfig(**{**base, **over})


# -- metrics --------------------------------------------------------------------------------------


def test_macro_f1_weighs_every_class_the_same():
    truth = [0, 0, 0, 0, 0, 0, 0, 0, 1, 2]
    always_zero = [0] * 10
    assert accuracy(truth, always_zero) == pytest.approx(0.8)
    # class 0: precision 0.8, recall 1 -> F1 8/9; classes 1, 2: F1 0 -> macro (8/9) / 3
    assert macro_f1(truth, always_zero, 3) == pytest.approx((8 / 9) / 3)
    assert macro_f1(truth, truth, 3) == pytest.approx(1.0)
    assert confusion(truth, always_zero, 3) == [[8, 0, 0], [1, 0, 0], [1, 0, 0]]
    scores = per_class([0, 1, 1], [0, 1, 0], 3)
    assert scores["support"] == [1, 2, 0] and scores["present"] == [True, True, False]
    # a class nobody has and nobody predicts is left out of the average
    assert macro_f1([0, 1], [0, 1], 5) == pytest.approx(1.0)


def test_paired_interval_of_identical_predictors_is_zero_and_of_a_better_one_positive():
    rng = random.Random(0)
    truth = [rng.randrange(3) for _ in range(200)]
    good = [t if rng.random() < 0.9 else (t + 1) % 3 for t in truth]
    bad = [t if rng.random() < 0.5 else (t + 1) % 3 for t in truth]
    ci = paired_intervals(
        truth, {"good": good, "same": list(good), "bad": bad}, 3, score=macro_f1, n_boot=300
    )
    assert ci["good - same"] == (0.0, 0.0)
    assert ci["good - bad"][0] > 0.2
    assert ci["bad - good"][1] < -0.2
    assert ci["good"][0] <= macro_f1(truth, good, 3) <= ci["good"][1]


# -- config ---------------------------------------------------------------------------------------


def test_classification_refuses_options_that_shape_generated_answers():
    with pytest.raises(ConfigError, match="packing"):
        TrainConfig(task="classification", packing=True)
    with pytest.raises(ConfigError, match="objective"):
        TrainConfig(task="classification", objective="dpo")
    with pytest.raises(ConfigError, match="task must be one of"):
        TrainConfig(task="regression")
    cfg = TrainConfig.from_yaml("task: classification\nlabels: [refund, shipping, login]\n")
    assert cfg.label_set() == ["refund", "shipping", "login"]


# -- the prompt baseline --------------------------------------------------------------------------


def test_label_likelihood_with_a_shared_cache_equals_scoring_each_label_in_full(tiny_model_dir):
    import torch

    from workbench.comparison.label_prompting import label_log_likelihoods, label_prompt
    from workbench.models import load_model

    model, tok = load_model(str(tiny_model_dir), technique="full")
    names = ["refund", "shipping_delay", "login"]
    prompts = [label_prompt("my parcel is late", names, [("locked out", "login")])]
    fast = label_log_likelihoods(model, tok, prompts, names)[0]
    ids = tok.apply_chat_template(
        prompts[0], add_generation_prompt=True, tokenize=True, return_dict=False
    )
    for c, name in enumerate(names):
        label = tok(name, add_special_tokens=False)["input_ids"]
        full = torch.tensor([ids + label])
        with torch.no_grad():
            logp = torch.log_softmax(model(full).logits[0].float(), dim=-1)
        slow = sum(float(logp[len(ids) - 1 + j, t]) for j, t in enumerate(label))
        assert fast[c] == pytest.approx(slow, abs=1e-4)


# -- training -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lora_run(tiny_model_dir, tmp_path_factory):
    from workbench import train

    run_dir = tmp_path_factory.mktemp("cls") / "run"
    cfg = config(tiny_model_dir, run_dir)
    result = train(cfg, train_data=rows(96, 1), eval_data=rows(30, 2))
    return cfg, result


def test_a_lora_classifier_learns_the_labels_and_saves_its_head(lora_run):
    from workbench.rundir import RunDir

    cfg, result = lora_run
    assert result.status == "completed", result.message
    rd = RunDir(cfg.run_dir)
    assert json.loads(rd.labels_json.read_text())["labels"] == ["login", "refund", "shipping"]
    evals = [r for r in result.history if r["kind"] == "eval"]
    assert {"eval_loss", "eval_accuracy", "eval_macro_f1"} <= set(evals[-1])
    assert evals[0]["step"] == 0 and evals[-1]["step"] == 60
    assert evals[-1]["eval_loss"] < evals[0]["eval_loss"]
    assert result.metrics["eval_accuracy"] >= 0.9, result.metrics
    assert result.metrics["first_eval_accuracy"] < result.metrics["eval_accuracy"]
    weights = json.loads((rd.adapter_dir / "adapter_config.json").read_text())
    assert weights["task_type"] == "SEQ_CLS"
    from safetensors import safe_open

    with safe_open(str(rd.adapter_dir / "adapter_model.safetensors"), "pt") as f:
        keys = list(f.keys())
    assert any("score" in k for k in keys), keys  # the new head is saved with the adapter
    assert result.data["train"].rows == 96 and result.data["eval"].rows == 30


def test_the_saved_classifier_reloads_and_predicts_what_training_measured(lora_run):
    import torch

    from workbench.comparison.classification import load_classifier
    from workbench.comparison.label_metrics import accuracy as acc

    cfg, result = lora_run
    model, tok = load_classifier(cfg.run_dir)
    evals = rows(30, 2)
    names = ["login", "refund", "shipping"]
    batch = tok([r["text"] for r in evals], padding=True, return_tensors="pt")
    with torch.no_grad():
        predicted = model(**batch).logits.argmax(-1).tolist()
    truth = [names.index(r["label"]) for r in evals]
    assert acc(truth, predicted) == pytest.approx(result.metrics["eval_accuracy"])


@pytest.mark.parametrize("technique", ["freeze", "full"])
def test_freeze_and_full_train_the_new_head(tiny_model_dir, tmp_path, technique):
    import torch

    from workbench.models import load_model
    from workbench.techniques import get_technique

    cfg = config(tiny_model_dir, tmp_path / "run", technique=technique, freeze_keep_last=1)
    model, _ = load_model(cfg.model, technique=technique, labels=["a", "b"])
    model = get_technique(technique).prepare(model, cfg)
    assert model.score.weight.requires_grad
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert bool(frozen) == (technique == "freeze")
    assert isinstance(model.score.weight, torch.nn.Parameter)


def test_without_eval_data_a_stratified_share_of_every_label_is_held_out(tiny_model_dir, tmp_path):
    from workbench.training.classifier import load_label_splits

    data = rows(60, 3)
    cfg = config(tiny_model_dir, tmp_path / "run", eval_fraction=0.2)
    splits = load_label_splits(cfg, train_data=data)
    assert len(splits.eval) == 12 and len(splits.train) == 48
    for label in WORDS:  # 20% of each label's 20 rows
        assert splits.eval.labels.count(label) == 4 and splits.train.labels.count(label) == 16


# -- comparison and gates -------------------------------------------------------------------------


def test_compare_classifier_scores_every_arm_and_round_trips(lora_run):
    from workbench.comparison.classification import ClassificationComparison, compare_classifier

    cfg, _ = lora_run
    with pytest.raises(DataError, match="pass the same train_data"):
        compare_classifier(cfg.run_dir, few_shot_k=(0,), n_boot=10)
    result = compare_classifier(
        cfg.run_dir, few_shot_k=(0, 2), train_data=rows(96, 1), eval_data=rows(30, 2), n_boot=200
    )
    assert [a.name for a in result.arms] == ["tuned head", "zero-shot", "few-shot k=2"]
    assert len(result.truth) == 30
    tuned = result.tuned
    assert tuned.scores["accuracy"] >= 0.9
    assert sum(map(sum, tuned.confusion)) == 30
    assert result.best_prompt in ("zero-shot", "few-shot k=2")
    best = result.arm(result.best_prompt)
    assert result.lead["macro_f1"]["delta"] == pytest.approx(
        tuned.scores["macro_f1"] - best.scores["macro_f1"]
    )
    for i in result.wrong_to_right:
        assert best.predictions[i] != result.truth[i] == tuned.predictions[i]
    loaded = ClassificationComparison.load(cfg.run_dir)
    assert loaded.to_dict() == result.to_dict()
    page = (result.path_in(cfg.run_dir).with_suffix(".html")).read_text()
    assert "wb-confusion" in page and "forgetting probe does not apply" in page


def test_accuracy_and_macro_f1_gates_read_the_classification_comparison(lora_run):
    from workbench.comparison.classification import ClassificationComparison
    from workbench.pipeline.gates import check_gates

    cfg, _ = lora_run
    saved = ClassificationComparison.load_optional(cfg.run_dir)
    if saved is None:  # this test may run alone: compare first
        from workbench.comparison.classification import compare_classifier

        saved = compare_classifier(
            cfg.run_dir, few_shot_k=(0,), train_data=rows(96, 1), eval_data=rows(30, 2), n_boot=100
        )
    f1 = saved.tuned_score("macro_f1")
    passed = check_gates({"min_accuracy": 0.5, "min_macro_f1": f1}, run_dir=cfg.run_dir)
    assert [g.status for g in passed] == ["passed", "passed"]
    failed = check_gates({"min_macro_f1": min(f1 + 0.01, 1.01)}, run_dir=cfg.run_dir)
    assert failed[0].status == "failed"


def test_workbench_compare_on_a_classifier_run_compares_with_prompting(lora_run, tmp_path, capsys):
    """`workbench compare RUN_DIR` finds the task in the run's config; a run trained from a file."""
    import shutil

    from workbench.cli import main

    cfg, _ = lora_run
    data = tmp_path / "tickets.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows(96, 1)))
    held = tmp_path / "held.csv"
    held.write_text("text,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in rows(30, 2)))
    run = Path(shutil.copytree(cfg.run_dir, tmp_path / "run"))
    saved = TrainConfig.load(run).replace(
        dataset=str(data), eval_dataset=str(held), run_dir=str(run)
    )
    (run / "train_config.yaml").write_text(saved.to_yaml())
    assert main(["compare", str(run), "--label-shots", "0"]) == 0
    out = capsys.readouterr().out
    assert "macro-F1" in out and "classification.json" in out
    assert main(["compare", str(run), "--label-shots", "zero"]) == 2
    assert "--label-shots" in capsys.readouterr().err


# -- the other stages for this task ---------------------------------------------------------------


def test_the_estimate_of_a_classifier_has_no_vocabulary_logits():
    from workbench.estimation.estimator import dataset_rows, dataset_tokens, estimate

    shape = dict(model="smollm2-135m-instruct", technique="lora", max_length=96, batch_size=16)
    chat = estimate(TrainConfig(**shape))
    head = estimate(TrainConfig(task="classification", labels="a,b,c", **shape))
    assert chat.breakdown["logits"] > 50e6 and head.breakdown["logits"] < 1e6
    assert head.breakdown["activations"] == chat.breakdown["activations"]
    assert head.tokens_per_s > chat.tokens_per_s  # no vocabulary projection to compute
    cfg = TrainConfig(task="classification", dataset="support-intent", max_length=96)
    assert dataset_rows("support-intent", config=cfg) == 800
    tokens = dataset_tokens("support-intent", max_length=96, config=cfg)
    assert 800 * 5 < tokens < 800 * 96


def test_the_lever_trial_sends_a_classifier_to_notebook_04(tmp_path):
    from workbench.estimation.lever_trial import lever_trial

    cfg = TrainConfig(task="classification", dataset="support-intent", run_dir=str(tmp_path))
    with pytest.raises(ConfigError, match="notebook 04"):
        lever_trial(cfg)


def test_the_classifier_bias_probe_counts_label_flips(lora_run, tmp_path):
    import shutil

    from workbench.documents.bias_probe import probe_classifier_bias

    cfg, _ = lora_run
    run = Path(shutil.copytree(cfg.run_dir, tmp_path / "run"))
    held = tmp_path / "held.jsonl"
    texts = ["he wants his money back", "John cannot sign in", "where is my package today"]
    held.write_text("".join(json.dumps({"text": t, "label": "refund"}) + "\n" for t in texts))
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows(96, 1)))
    saved = TrainConfig.load(run).replace(dataset=str(data), eval_dataset=str(held))
    probe = probe_classifier_bias(run, saved, n=3)
    # two held-out texts mention a person; the third pair comes from the templates
    assert [p.prompt for p in probe.pairs[:2]] == texts[:2]
    assert probe.pairs[0].swapped_prompt == "she wants her money back"
    assert all(p.answer in ("login", "refund", "shipping") for p in probe.pairs)
    for p in probe.pairs:
        assert p.similarity == float(p.answer == p.swapped_answer)


@pytest.mark.slow  # several trainings in one test
def test_micro_batches_give_the_loss_of_the_whole_batch(tiny_model_dir, tmp_path):
    """A batch run as micro-batches (what a CPU does with a batch of 16) trains like one pass."""
    from workbench import train

    losses = {}
    for micro in (8, 2):
        cfg = config(
            tiny_model_dir,
            tmp_path / f"micro{micro}",
            micro_batch_size=micro,
            max_steps=3,
            log_every=1,
            eval_every=0,
            lora_dropout=0.0,
        )
        result = train(cfg, train_data=rows(48, 1), eval_data=rows(12, 2))
        losses[micro] = [r["loss"] for r in result.history if r["kind"] == "train"]
    assert len(losses[8]) == 3
    assert losses[2] == pytest.approx(losses[8], rel=1e-3)
    assert losses[8][0] == pytest.approx(1.1, abs=0.3)  # about ln(3): a fresh head on 3 labels


def test_qlora_trains_a_full_precision_head_on_a_4bit_backbone(tiny_model_dir, tmp_path):
    import torch

    from workbench import train
    from workbench.comparison.classification import load_classifier

    cfg = config(tiny_model_dir, tmp_path / "run", technique="qlora", max_steps=4, eval_every=0)
    result = train(cfg, train_data=rows(48, 1), eval_data=rows(12, 2))
    assert result.status == "completed", result.message
    model, _ = load_classifier(cfg.run_dir)
    inner = model.base_model.model
    assert type(inner.model.layers[0].self_attn.q_proj.base_layer).__name__ == "Linear4bit"
    head = inner.score.modules_to_save["default"]
    assert type(head) is torch.nn.Linear and head.weight.dtype == torch.float32
    assert "eval_macro_f1" in result.metrics


def test_save_merged_keeps_the_head_and_shipping_refuses_a_classifier(lora_run, tmp_path):
    import shutil

    import torch

    from workbench.comparison.classification import predict_labels
    from workbench.models import load_model
    from workbench.shipping.cost import measure_cost
    from workbench.shipping.merged import load_tuned
    from workbench.shipping.serve import serve_target
    from workbench.training.saving import merge_adapter

    cfg, result = lora_run
    run = Path(shutil.copytree(cfg.run_dir, tmp_path / "run"))
    merged_dir = merge_adapter(run / "adapter", run / "merged", cfg=cfg, result=None)
    names = ["login", "refund", "shipping"]
    model, tok = load_model(str(merged_dir), technique="full", labels=names)
    assert isinstance(model.score, torch.nn.Linear)
    texts = [r["text"] for r in rows(30, 2)]
    truth = [names.index(r["label"]) for r in rows(30, 2)]
    predicted = predict_labels(model, tok, texts, max_length=cfg.max_length)
    assert accuracy(truth, predicted) == pytest.approx(result.metrics["eval_accuracy"])
    for call in (lambda: load_tuned(run), lambda: serve_target(run), lambda: measure_cost(run)):
        with pytest.raises(ConfigError, match="is a classifier"):
            call()


@pytest.mark.slow  # several trainings in one test
def test_a_stopped_classifier_resumes_with_the_same_losses(tiny_model_dir, tmp_path):
    """Stop at step 4 (a checkpoint is saved), train again: the curve of an uninterrupted run."""
    from test_train import At

    from workbench import train

    data = dict(train_data=rows(48, 1), eval_data=rows(12, 2))
    shape = dict(max_steps=8, log_every=1, eval_every=0, lora_dropout=0.0)
    straight = train(config(tiny_model_dir, tmp_path / "straight", **shape), **data)
    cfg = config(tiny_model_dir, tmp_path / "stopped", **shape)
    first = train(cfg, callbacks=[At(4, lambda s: s.request_stop("stopped", "test"))], **data)
    assert first.status == "stopped" and first.steps == 4
    second = train(cfg, **data)
    assert second.status == "completed" and second.resumed_from.endswith("checkpoint-4")
    a = {r["step"]: r["loss"] for r in straight.history if r["kind"] == "train"}
    b = {r["step"]: r["loss"] for r in second.history if r["kind"] == "train"}
    assert sorted(b) == list(range(1, 9))
    for step in range(1, 9):
        assert b[step] == pytest.approx(a[step], rel=1e-4, abs=1e-5), step
    assert second.metrics["eval_accuracy"] == pytest.approx(straight.metrics["eval_accuracy"])


def test_notebook_01_splits_and_cleans_labelled_data_as_labelled(tmp_path):
    """load_splits gives LabelledDatasets for text + label data; clean drops a copy and redacts
    personal data in the text, and the saved copy loads back with its labels."""
    from workbench.data.labelled import LabelledDataset, load_labelled
    from workbench.inspection.report import clean, inspect_dataset, load_splits

    train, held = load_splits("support-intent")
    assert isinstance(train, LabelledDataset) and isinstance(held, LabelledDataset)
    assert held.label_names == train.label_names and len(held) == 200
    data = tmp_path / "tickets.csv"
    data.write_text(
        "text,label\n"
        "mail me at jane.doe@example.com about the refund,refund\n"
        "where is my parcel,shipping\n"
        "where is my parcel,shipping\n"
        "cannot log in,login\n"
    )
    source = data.read_bytes()
    ds, none = load_splits(str(data), "none")
    assert none is None
    result = clean(ds, report=inspect_dataset(ds, tokenizer_or_model=None))
    assert result.dataset.texts == [
        "mail me at [EMAIL] about the refund",
        "where is my parcel",
        "cannot log in",
    ]
    assert result.counts() == {"redacted: email": 1, "dropped: exact_duplicate": 1}
    saved = result.save(tmp_path / "clean.jsonl")
    again = load_labelled(str(saved))
    assert again.labels == ["refund", "shipping", "login"]
    assert data.read_bytes() == source  # the user's file is never touched
    with pytest.raises(DataError, match="refusing to overwrite"):
        result.dataset.save(data, overwrite=True)
