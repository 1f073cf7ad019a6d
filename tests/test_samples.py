"""Sample generations during training: fixed eval prompts answered greedily at every evaluation.

On the tiny model: one entry per prompt per evaluation in samples.jsonl, the answers at the last
step equal to what `generate` gives for the saved weights (LoRA and full), the first ones equal to
the base model's, training itself unchanged, resume neither doubling nor losing answers, the
tracker holding them, the views receiving them; off by default (no generation at all).
"""

from __future__ import annotations

import json

import pytest
from test_train import At, conversations

from workbench.comparison.generation import GenerationSettings, generate, load_run
from workbench.config import TrainConfig
from workbench.errors import ConfigError
from workbench.rundir import RunDir, to_plain
from workbench.training.engine import notebook_config, train
from workbench.training.events import Callback
from workbench.training.samples import prompts_of, read_samples

EVAL = conversations(8, offset=100)
PROMPTS = [c[:-1] for c in EVAL[:2]]  # the first two eval rows without their answers


def config(run_dir, **over) -> TrainConfig:
    """12 steps, evaluations at 0, 6 and 12: enough for the answers to change on the tiny model."""
    base = dict(
        model="tiny-random",
        run_dir=str(run_dir),
        max_steps=12,
        batch_size=4,
        log_every=2,
        eval_every=6,
        max_length=256,
        learning_rate=1e-2,
        warmup_ratio=0.0,
        sample_prompts=2,
        sample_max_new_tokens=24,
    )
    return TrainConfig(**{**base, **over})


def run(cfg: TrainConfig, **kw):
    return train(cfg, train_data=conversations(), eval_data=EVAL, **kw)


class Received(Callback):
    """What a view is sent: (step, answers) per on_samples event."""

    def __init__(self):
        self.events = []

    def on_samples(self, state, answers):
        self.events.append((state.step, [a.answer for a in answers]))


@pytest.fixture(scope="module")
def sampled(tiny_model_dir, tmp_path_factory):
    received = Received()
    cfg = config(tmp_path_factory.mktemp("samples") / "run")
    result = run(cfg, callbacks=[received])
    assert result.completed, result.message
    return cfg, result, received


def _by_step(answers) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for a in answers:
        out.setdefault(a.step, []).append(a.answer)
    return out


def test_one_answer_per_prompt_per_evaluation(sampled):
    cfg, result, received = sampled
    answers = read_samples(cfg.run_dir)
    assert [(a.step, a.index) for a in answers] == [(s, i) for s in (0, 6, 12) for i in (0, 1)]
    assert all(a.prompt == PROMPTS[a.index] for a in answers)
    assert answers[0].question == PROMPTS[0][-1]["content"]
    assert all(a.seconds > 0 for a in answers)
    evals = [r["step"] for r in result.history if r["kind"] == "eval"]
    assert evals == [0, 6, 12]
    assert received.events == [(s, texts) for s, texts in _by_step(answers).items()]
    assert _by_step(answers)[12] != _by_step(answers)[0]  # training changed what it says


def test_the_last_answers_are_the_saved_adapters_and_the_first_the_base_models(sampled):
    cfg, _, _ = sampled
    answers = _by_step(read_samples(cfg.run_dir))
    pair = load_run(cfg.run_dir)
    settings = GenerationSettings(max_new_tokens=cfg.sample_max_new_tokens)
    with pair.use("tuned") as model:
        assert generate(model, pair.tokenizer, PROMPTS, settings=settings) == answers[12]
    with pair.use("base") as model:
        assert generate(model, pair.tokenizer, PROMPTS, settings=settings) == answers[0]


def test_sampling_leaves_training_unchanged_and_is_off_by_default(sampled, tmp_path, monkeypatch):
    cfg, result, _ = sampled
    assert TrainConfig().sample_prompts == 0

    def refuse(*args, **kwargs):
        raise AssertionError("generate was called with sample_prompts=0")

    monkeypatch.setattr("workbench.comparison.generation.generate", refuse)
    plain = run(config(tmp_path / "plain", sample_prompts=0))
    assert plain.completed, plain.message
    assert not RunDir(tmp_path / "plain").samples_jsonl.exists()
    losses = [(r["step"], r.get("loss"), r.get("eval_loss")) for r in result.history]
    assert [(r["step"], r.get("loss"), r.get("eval_loss")) for r in plain.history] == losses


def test_full_fine_tuning_samples_from_its_own_weights(tiny_model_dir, tmp_path):
    cfg = config(tmp_path / "full", technique="full", max_steps=4, eval_every=0, learning_rate=1e-3)
    result = run(cfg)
    assert result.completed, result.message
    answers = _by_step(read_samples(cfg.run_dir))
    assert sorted(answers) == [0, 4]  # the initial evaluation and the end of the epoch
    pair = load_run(cfg.run_dir)
    settings = GenerationSettings(max_new_tokens=cfg.sample_max_new_tokens)
    with pair.use("tuned") as model:
        assert model.training is False and not hasattr(model, "disable_adapter")
        assert generate(model, pair.tokenizer, PROMPTS, settings=settings) == answers[4]


def test_resume_neither_doubles_nor_loses_answers(sampled, tmp_path):
    cfg = config(tmp_path / "run")

    def stop(state):
        state.request_stop("stopped", "test stop")

    first = run(cfg, callbacks=[At(7, stop)])
    assert first.status == "stopped" and first.steps == 7, first.message
    assert [a.step for a in read_samples(cfg.run_dir)] == [0, 0, 6, 6, 7, 7]
    path = RunDir(cfg.run_dir).samples_jsonl  # as if a killed run had answered past its checkpoint
    stale = {**json.loads(path.read_text().splitlines()[-1]), "step": 9}
    path.write_text(path.read_text() + json.dumps(stale) + "\n")
    assert read_samples(cfg.run_dir)[-1].step == 9

    second = run(cfg)
    assert second.completed and second.resumed_from.endswith("checkpoint-7"), second.message
    resumed = read_samples(cfg.run_dir)
    assert [(a.step, a.index) for a in resumed] == [(s, i) for s in (0, 6, 7, 12) for i in (0, 1)]
    straight = _by_step(read_samples(sampled[0].run_dir))
    assert {s: _by_step(resumed)[s] for s in (0, 6, 12)} == straight  # as if never stopped


def test_the_tracker_run_holds_each_evaluations_answers(tiny_model_dir, tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    from workbench.training.tracking import TrackingRun

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = config(tmp_path / "runs" / "a", max_steps=2, eval_every=0, report_to="mlflow")
    result = run(cfg)
    assert result.completed, result.message
    tracker = TrackingRun.load(cfg.run_dir)
    client = mlflow.MlflowClient(tracking_uri=tracker.tracking_uri)
    names = {a.path for a in client.list_artifacts(tracker.run_id, "samples")}
    assert names == {"samples/step-000000.jsonl", "samples/step-000002.jsonl"}
    run_files = {a.path for a in client.list_artifacts(tracker.run_id, "run")}
    assert "run/samples.jsonl" in run_files
    local = client.download_artifacts(tracker.run_id, "samples/step-000002.jsonl", str(tmp_path))
    logged = [json.loads(line) for line in open(local, encoding="utf-8")]
    final = [to_plain(a) for a in read_samples(cfg.run_dir) if a.step == 2]
    assert logged == final and len(final) == 2


def test_prompts_are_the_first_eval_rows_that_have_one():
    from workbench.data.preferences import PreferencePair

    rows = [[{"role": "assistant", "content": "no question"}], *EVAL]
    assert prompts_of(rows, 2) == PROMPTS  # a row without a user turn is passed over
    pair = PreferencePair(prompt=[{"role": "user", "content": "Hi?"}], chosen="Hi", rejected="No")
    assert prompts_of([pair], 3) == [[{"role": "user", "content": "Hi?"}]]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"sample_prompts": -1}, "sample_prompts must be in 0..16"),
        ({"sample_prompts": 17}, "sample_prompts must be in 0..16"),
        ({"sample_max_new_tokens": 0}, "sample_max_new_tokens must be in 1..4096"),
        ({"sample_prompts": 2, "task": "classification"}, "writes no answers"),
    ],
)
def test_bad_sample_settings_are_named(change, words):
    with pytest.raises(ConfigError, match=words):
        TrainConfig(**change)


def test_notebook_03s_sample_prompts_leave_a_classifier_alone(tmp_path):
    """Notebook 03 turns sampling on for every run it trains; a classifier has no answers to sample."""
    chat = notebook_config({"run_dir": str(tmp_path), "sample_prompts": 2})
    assert chat.sample_prompts == 2
    classifier = notebook_config(
        {"run_dir": str(tmp_path), "sample_prompts": 2, "task": "classification"}
    )
    assert classifier.task == "classification" and classifier.sample_prompts == 0


def test_a_dpo_run_samples_its_pairs_prompts(tiny_model_dir, tmp_path):
    """Preference tuning answers the prompts of its first eval pairs, from the policy's weights."""
    from test_preference_train import config as dpo_config

    from workbench.data.preferences import load_preferences

    cfg = dpo_config(tmp_path / "dpo", max_steps=3, eval_every=0, sample_prompts=2)
    result = train(cfg)
    assert result.completed, result.message
    answers = read_samples(cfg.run_dir)
    assert [(a.step, a.index) for a in answers] == [(0, 0), (0, 1), (3, 0), (3, 1)]
    pair = load_run(cfg.run_dir)
    settings = GenerationSettings(max_new_tokens=cfg.sample_max_new_tokens)
    prompts = [a.prompt for a in answers if a.step == 3]
    with pair.use("tuned") as model:
        assert generate(model, pair.tokenizer, prompts, settings=settings) == [
            a.answer for a in answers if a.step == 3
        ]
    held_out = load_preferences("support-tone-pairs", split="eval")
    assert prompts == [p.prompt for p in held_out.pairs[:2]]  # the first eval pairs' prompts


def test_the_view_marks_what_changed_since_the_answer_before_and_escapes_everything():
    from workbench.training.events import TrainState
    from workbench.training.samples import SampleAnswer
    from workbench.ui.samples import SampleAnswersView, answer_diff_html

    assert answer_diff_html(None, "a <b>") == "a &lt;b&gt;"
    marked = answer_diff_html('{"id": 1}', '{"id": 2} done')
    assert ">1}</del>" in marked and ">2} done</ins>" in marked  # a replaced run of words
    assert marked.startswith("{&quot;id&quot;: ")

    view = SampleAnswersView(backend="widget")
    widget = view.show()
    assert "appear after the first evaluation" in widget.value
    prompt = [{"role": "user", "content": "Say <hi>"}]
    view.on_samples(TrainState(step=0), [SampleAnswer(0, 0, prompt, "hello there", 0.5)])
    assert "<ins" not in widget.value.split("<b>step 0</b>")[1] and "Say &lt;hi&gt;" in widget.value
    view.on_samples(TrainState(step=5), [SampleAnswer(5, 0, prompt, "hello world", 0.4)])
    latest, before = widget.value.split("<b>step 5</b>")[1].split("<b>step 0</b>")
    assert ">world</ins>" in latest and ">there</del>" in latest and "hello there" in before
