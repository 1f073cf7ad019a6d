"""compare(): the adapter-off base path, full runs, batched generation, aggregation, forgetting flag, outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.comparison import metrics as M
from workbench.comparison.comparison import (
    Comparison,
    Row,
    compare,
    examples_from,
    forgetting_reasons,
    probe_forgetting,
    resolve_metrics,
)
from workbench.comparison.generation import (
    GenerationSettings,
    generate,
    load_run,
    perplexity,
    stop_token_ids,
)
from workbench.comparison.stats import MetricSummary, summarise_metric
from workbench.errors import ArtifactError, ConfigError, ModelError
from workbench.training.result import TrainResult

PROMPTS = [
    [{"role": "user", "content": "Hello there"}],
    [
        {"role": "system", "content": "Be brief"},
        {"role": "user", "content": "What is the capital of France?"},
    ],
    [{"role": "user", "content": "Zoë bought 2 café crèmes 🙂"}],
]
CONVS = [p + [{"role": "assistant", "content": "Paris"}] for p in PROMPTS]
SETTINGS = GenerationSettings(max_new_tokens=8, batch_size=2)


def _perturbed_tiny(out: Path, *, seed: int) -> Path:
    """The tiny random model with larger random weights, so greedy answers are varied text, not blank."""
    import torch

    from workbench.models import load_model

    model, tok = load_model("tiny-random", technique="full")
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0, 0.2)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def base_dir(tmp_path_factory) -> Path:
    return _perturbed_tiny(tmp_path_factory.mktemp("base") / "model", seed=0)


def _write_config(run: Path, model: str, technique: str) -> None:
    from workbench.config import TrainConfig

    TrainConfig(model=model, technique=technique, dataset="orders-json", run_dir=str(run)).to_yaml(
        run / "train_config.yaml"
    )


@pytest.fixture(scope="session")
def lora_run(tmp_path_factory, base_dir) -> Path:
    """A run directory as training leaves it: train_config.yaml + adapter/ (peft format, B weights non-zero)."""
    import torch
    from peft import LoraConfig, get_peft_model

    from workbench.models import load_model

    run = tmp_path_factory.mktemp("lora_run")
    model, _ = load_model(str(base_dir), technique="full")
    peft_model = get_peft_model(
        model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM")
    )
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    peft_model.save_pretrained(run / "adapter")
    _write_config(run, str(base_dir), "lora")
    TrainResult(
        status="completed", message="Trained.", run_dir=str(run), adapter_dir=str(run / "adapter")
    ).save(run)
    return run


def _fresh_answers(model_dir: Path, prompts=PROMPTS, settings=SETTINGS) -> list[str]:
    from workbench.models import load_model

    model, tok = load_model(str(model_dir), technique="full")
    return generate(model, tok, prompts, settings=settings)


# -- the base path --------------------------------------------------------------------------------


def test_adapter_disabled_base_equals_a_fresh_base_model(lora_run, base_dir):
    pair = load_run(lora_run)
    assert pair.shares_weights and pair.base is None  # one copy of the weights in memory
    result = compare(tuned=pair, prompts=CONVS, generation=SETTINGS)
    fresh = _fresh_answers(base_dir)
    assert [r.base for r in result.rows] == fresh
    assert any(a for a in fresh), "the fixture model should say something"
    assert [r.tuned for r in result.rows] != fresh, "the adapter should change the answers"
    assert result.models["base_path"] == "adapter disabled"


def test_adapter_is_back_on_after_the_base_answers(lora_run):
    pair = load_run(lora_run)
    tuned_before = generate(pair.tuned, pair.tokenizer, PROMPTS, settings=SETTINGS)
    compare(tuned=pair, prompts=CONVS, generation=SETTINGS)
    assert generate(pair.tuned, pair.tokenizer, PROMPTS, settings=SETTINGS) == tuned_before


def test_full_run_loads_two_models(tmp_path, base_dir):
    run = tmp_path / "run"
    run.mkdir()
    tuned_dir = _perturbed_tiny(run / "model", seed=7)
    _write_config(run, str(base_dir), "full")
    pair = load_run(run)
    assert not pair.shares_weights
    result = compare(tuned=pair, prompts=CONVS, generation=SETTINGS)
    assert [r.base for r in result.rows] == _fresh_answers(base_dir)
    assert [r.tuned for r in result.rows] == _fresh_answers(tuned_dir)
    assert result.models["base_path"] == "separate model"


def test_load_run_without_weights_says_what_is_missing(tmp_path):
    TrainResult(status="diverged", message="boom", run_dir=str(tmp_path)).save(tmp_path)
    with pytest.raises(ModelError, match="no trained weights.*'diverged': boom"):
        load_run(tmp_path)
    with pytest.raises(ConfigError, match="not found"):
        load_run(tmp_path / "nope")


def test_load_run_reads_train_result_typed_and_refuses_a_drifted_one(lora_run, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    data = TrainResult.load(lora_run).to_dict()
    data["adapter"] = data.pop("adapter_dir")  # a renamed field
    (run / "train_result.json").write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match=r"train_result\.json: required field 'adapter_dir'"):
        load_run(run)


def test_a_model_without_adapter_needs_a_base(base_dir):
    from workbench.models import load_model

    model, tok = load_model(str(base_dir), technique="full")
    with pytest.raises(ModelError, match="base="):
        compare(tuned=model, tokenizer=tok, prompts=CONVS, generation=SETTINGS)


# -- generation -----------------------------------------------------------------------------------


def test_batched_generation_equals_one_by_one_and_respects_max_new_tokens(base_dir):
    from workbench.models import load_model

    model, tok = load_model(str(base_dir), technique="full")
    batched = generate(
        model, tok, PROMPTS, settings=GenerationSettings(max_new_tokens=6, batch_size=3)
    )
    single = generate(
        model, tok, PROMPTS, settings=GenerationSettings(max_new_tokens=6, batch_size=1)
    )
    assert batched == single
    shorter = generate(
        model, tok, PROMPTS, settings=GenerationSettings(max_new_tokens=2, batch_size=3)
    )
    for short, long in zip(shorter, batched, strict=True):
        assert long.startswith(short) and len(short) < len(long)


def test_stop_tokens_include_end_of_turn(base_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base_dir)
    assert tok.convert_tokens_to_ids("<|im_end|>") in stop_token_ids(tok)


def test_sampling_is_seeded(base_dir):
    from workbench.models import load_model

    model, tok = load_model(str(base_dir), technique="full")
    s = GenerationSettings(max_new_tokens=8, do_sample=True, temperature=1.5, seed=3)
    assert generate(model, tok, PROMPTS, settings=s) == generate(model, tok, PROMPTS, settings=s)


def test_generation_settings_are_bounded():
    with pytest.raises(ConfigError):
        GenerationSettings(max_new_tokens=0)
    with pytest.raises(ConfigError):
        GenerationSettings(max_new_tokens=100_000)
    with pytest.raises(ConfigError):
        GenerationSettings(do_sample=True, temperature=0)


def test_perplexity_is_finite_and_batch_independent(base_dir):
    from workbench.models import load_model

    model, tok = load_model(str(base_dir), technique="full")
    a = perplexity(model, tok, CONVS, batch_size=3)
    b = perplexity(model, tok, CONVS, batch_size=1)
    assert a is not None and 1.0 < a < 1e6
    assert a == pytest.approx(b, rel=1e-4)
    assert perplexity(model, tok, PROMPTS) is None  # no assistant tokens to score


# -- inputs and metrics ---------------------------------------------------------------------------


def test_examples_split_at_the_last_assistant_turn():
    conv = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
        {"role": "assistant", "content": "d"},
    ]
    [ex] = examples_from([conv])
    assert ex.prompt == conv[:3] and ex.reference == "d" and ex.question == "c"
    [plain] = examples_from(["just a question"])
    assert (
        plain.prompt == [{"role": "user", "content": "just a question"}] and plain.reference == ""
    )
    assert len(examples_from(CONVS, max_rows=2)) == 2


def test_metrics_are_chosen_from_the_data():
    orders = [
        examples_from(
            [[{"role": "user", "content": "x"}, {"role": "assistant", "content": '{"a": 1}'}]]
        )[0]
    ]
    assert list(resolve_metrics(None, examples=orders, dataset="orders-json")) == [
        "json_parses",
        "schema_valid",
        "field_accuracy",
        "exact_match",
        "chrf",
    ]
    assert "schema_valid" not in resolve_metrics(None, examples=orders, dataset="mine.jsonl")
    tone = resolve_metrics(
        None, examples=orders[:0] or examples_from(["q"]), dataset="support-tone"
    )
    assert {"greeting", "sign_off", "no_banned_phrases", "length_ok"} <= set(tone)
    assert list(resolve_metrics(["chrf", len], examples=[], dataset="")) == ["chrf", "len"]
    with pytest.raises(ConfigError, match="Unknown metric 'bleu'"):
        resolve_metrics(["bleu"], examples=[], dataset="")
    with pytest.raises(ConfigError, match="schema"):
        resolve_metrics(["schema_valid"], examples=[], dataset="")


def _row(b: float | None, t: float | None) -> Row:
    return Row(1, [{"role": "user", "content": "q"}], "r", "b", "t", {"m": b}, {"m": t})


def test_summary_means_wins_and_interval():
    rows = [_row(0, 1), _row(0, 1), _row(1, 1), _row(1, 0), _row(None, 1)]
    s = summarise_metric(rows, "m", n_boot=500, seed=0)
    assert s.n == 4  # the None row is left out
    assert (s.base_mean, s.tuned_mean, s.delta) == (0.5, 0.75, 0.25)
    assert (s.wins, s.losses, s.ties) == (2, 1, 1)
    assert s.delta_ci[0] <= s.delta <= s.delta_ci[1]
    assert s.base_ci[0] <= 0.5 <= s.base_ci[1]
    assert summarise_metric(rows, "m", n_boot=500, seed=0) == s  # seeded
    empty = summarise_metric([_row(None, None)], "m")
    assert empty.n == 0 and empty.delta is None


def _summary(base: float, tuned: float) -> dict[str, MetricSummary]:
    return {"acc": MetricSummary("acc", 10, base, tuned, tuned - base, None, None, None, 0, 0, 10)}


def test_forgetting_reasons_use_the_margins():
    assert forgetting_reasons(_summary(0.9, 0.87), {}, margin=0.05, perplexity_margin=0.25) == []
    [reason] = forgetting_reasons(_summary(0.9, 0.7), {}, margin=0.05, perplexity_margin=0.25)
    assert "acc fell from 90.0% to 70.0%" in reason
    ppl = {"base": 10.0, "tuned": 14.0}
    [reason] = forgetting_reasons(_summary(0.9, 0.9), ppl, margin=0.05, perplexity_margin=0.25)
    assert "perplexity rose" in reason
    assert forgetting_reasons(_summary(0.9, 0.9), ppl, margin=0.05, perplexity_margin=0.5) == []


# -- the whole thing ------------------------------------------------------------------------------


def test_compare_with_probe_user_metric_and_saved_outputs(lora_run, tmp_path):
    def says_paris(output: str, reference: str) -> float:
        return float("paris" in output.lower())

    tricky = [
        [
            {"role": "user", "content": "<script>alert(1)</script> Zoë?"},
            {"role": "assistant", "content": "Grüße 🙂"},
        ],
        *CONVS,
    ]
    result = compare(
        tuned=lora_run,
        prompts=tricky,
        metrics=["exact_match", "chrf", says_paris],
        probe=CONVS,
        generation=SETTINGS,
        forgetting_margin=0.0,
        perplexity_margin=0.0,
        n_boot=200,
    )
    assert isinstance(result, Comparison)
    assert result.metric_names == ["exact_match", "chrf", "says_paris"]
    assert len(result.rows) == 4 and result.forgetting is not None
    ppl = result.forgetting.perplexity
    assert ppl["base"] != ppl["tuned"]
    # zero margins: any drop or perplexity rise flags; the flag must agree with the numbers
    dropped = any(s.delta is not None and s.delta < 0 for s in result.forgetting.summary.values())
    assert result.forgetting_flag == (dropped or ppl["tuned"] > ppl["base"])
    data = json.loads(json.dumps(result.to_dict()))
    assert data["forgetting_flag"] == result.forgetting_flag
    assert data["rows"][0]["prompt"][0]["content"].startswith("<script>")
    paths = result.save(tmp_path)
    page = paths["html"].read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Zoë?" in page and "Grüße 🙂" in page
    assert "<script>alert(1)" not in page
    assert json.loads(paths["json"].read_text(encoding="utf-8"))["dataset"] == result.dataset
    assert Comparison.load(tmp_path) == result  # rows, probe and summaries come back typed
    assert "Forgetting" in result._repr_html_()


def test_the_probe_answers_stay_short_whatever_the_task_allows(lora_run):
    from workbench.comparison.comparison import PROBE_MAX_NEW_TOKENS

    result = compare(  # the same prompts as task prompts and as probe questions
        tuned=lora_run,
        prompts=CONVS,
        probe=CONVS,
        generation=GenerationSettings(max_new_tokens=PROBE_MAX_NEW_TOKENS * 2, batch_size=1),
        n_boot=50,
    )
    cut = 0
    for task_row, probe_row in zip(result.rows, result.forgetting.rows, strict=True):
        task, probe = task_row.tuned, probe_row.tuned
        # greedy: the probe's answer is the task answer cut at PROBE_MAX_NEW_TOKENS
        assert task.startswith(probe.rstrip())
        cut += len(probe) < len(task)
    # the random tiny model stops by itself on some prompts; on the others the task answer runs on
    # to its own, longer cap, and the probe's must have been cut
    assert cut >= 1


# -- the interactive view (driven without a browser) ---------------------------------------------


def test_select_rows_filters_and_sorts():
    from workbench.ui.compare import BASE_BETTER, SAME, TUNED_BETTER, select_rows

    rows = [_row(0, 1), _row(1, 0), _row(0.5, 0.5), _row(None, 1), _row(0, 0.25)]
    for i, r in enumerate(rows):
        r.row_id, r.tuned = i + 1, f"answer {i + 1}"
    ids = lambda rs: [r.row_id for r in rs]  # noqa: E731
    assert ids(select_rows(rows, metric="m", show=TUNED_BETTER)) == [1, 5]
    assert ids(select_rows(rows, metric="m", show=BASE_BETTER)) == [2]
    assert ids(select_rows(rows, metric="m", show=SAME)) == [3]
    assert ids(select_rows(rows, metric="m", sort="difference (highest first)")) == [1, 5, 3, 2, 4]
    assert ids(select_rows(rows, metric="m", sort="difference (lowest first)")) == [2, 3, 5, 1, 4]
    assert ids(select_rows(rows, metric="m", text="ANSWER 3")) == [3]


def test_comparison_view_controls_and_try_your_own_prompt(lora_run):
    from workbench.ui.compare import TUNED_BETTER, ComparisonView

    pair = load_run(lora_run)
    result = compare(tuned=pair, prompts=CONVS, metrics=["chrf"], generation=SETTINGS)
    view = ComparisonView(result, pair=pair)
    assert view.table.value.count("<tr>") == len(CONVS) + 1
    view.show.value = TUNED_BETTER
    better = sum(1 for r in result.rows if (r.delta("chrf") or 0) > 0)
    assert view.table.value.count("<tr>") == better + 1
    assert view.count.value.startswith(f"{better} of {len(CONVS)}")
    view.prompt.value = "What is the capital of France?"
    view.ask.click()
    expected = compare(
        tuned=pair, prompts=[view.prompt.value], metrics=["chrf"], generation=SETTINGS
    ).rows[0]
    assert "base (" in view.answers.value and "tuned (" in view.answers.value
    plain = (
        view.answers.value.replace("<ins>", "")
        .replace("</ins>", "")
        .replace("<del>", "")
        .replace("</del>", "")
    )
    import html

    assert html.escape(expected.tuned) in plain and html.escape(expected.base) in plain


def test_cli_compare_writes_the_artifacts(lora_run, tmp_path, capsys):
    from workbench.cli import main

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "".join(json.dumps({"messages": c}, ensure_ascii=False) + "\n" for c in CONVS),
        encoding="utf-8",
    )
    code = main(
        [
            "compare",
            str(lora_run),
            "--eval-dataset",
            str(prompts),
            "--probe-dataset",
            "none",
            "--max-prompts",
            "2",
            "--max-new-tokens",
            "4",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "2 prompts" in printed and "chrf" in printed
    data = json.loads((lora_run / "comparison.json").read_text(encoding="utf-8"))
    assert (
        len(data["rows"]) == 2
        and data["forgetting"] is None
        and data["generation"]["max_new_tokens"] == 4
    )
    # the run trained on orders-json: a file of other prompts is scored by its schema too
    assert "schema_valid" in data["summary"], list(data["summary"])
    # and each failing answer says which rule it broke; the tiny model's answers are not JSON
    failures = Comparison.load(lora_run).schema_failures
    assert failures == data["schema_failures"] and set(failures) == {"base", "tuned"}
    for side in ("base", "tuned"):
        unparsed = sum(r[f"{side}_scores"]["json_parses"] == 0 for r in data["rows"])
        assert failures[side].get("not JSON", 0) == unparsed
    assert failures["tuned"]  # a tiny random model does not write schema-valid orders
    # these references are plain text: field accuracy has no fields to miss, and says so
    assert {r["tuned_scores"]["field_accuracy"] for r in data["rows"]} == {None}
    assert data["field_misses"] == {"base": {}, "tuned": {}}
    assert "tuned answers failing the schema: 2 of 2" in printed
    assert "Why answers fail the schema" in (lora_run / "comparison.html").read_text("utf-8")
    assert (lora_run / "comparison.html").is_file() and (
        lora_run / "figures" / "comparison.html"
    ).is_file()


def test_field_misses_count_answers_per_field_and_round_trip(tmp_path):
    from workbench.comparison.comparison import field_misses

    ref = json.dumps({"customer": "Acme", "items": [{"sku": "ABC-123"}, {"sku": "DEF-456"}]})
    first_only = json.dumps({"customer": "Acme", "items": [{"sku": "ABC-123"}]})
    miscopied = json.dumps({"customer": "Acme", "items": [{"sku": "ABC-123"}, {"sku": "DEF456"}]})
    answers = [(first_only, ref), (first_only, "no"), (miscopied, ref), (ref, "Acme")]
    rows = [
        Row(i, [{"role": "user", "content": f"order {i}"}], ref, base, tuned,
            {"field_accuracy": M.field_accuracy(base, ref)},
            {"field_accuracy": M.field_accuracy(tuned, ref)})
        for i, (tuned, base) in enumerate(answers)
    ]  # fmt: skip
    misses = field_misses(rows)
    assert misses["tuned"] == {"items: 1 element fewer": 2, "items[].sku: wrong": 1}
    assert misses["base"] == {"not JSON": 2}  # "no" and "Acme"; the two right ones miss nothing
    c = Comparison("d", rows, {}, None, SETTINGS.to_dict(), {}, field_misses=misses)
    line = (
        "tuned answers with a field wrong: 3 of 4 (items: 1 element fewer 2, items[].sku: wrong 1)"
    )
    assert line in c.summary_lines()
    assert "Which fields the answers miss" in c.to_html()
    (tmp_path / "run").mkdir()
    c.save(tmp_path / "run")
    assert Comparison.load(tmp_path / "run").field_misses == misses


# -- seen and unseen templates --------------------------------------------------------------------

SEEN = ["Please ship {n} crates of {code} to {name} before {date}.",
        "Hello, {name} here: I need a quote for {n} units of {code}."]  # fmt: skip
UNSEEN = "Our warehouse in {name} reports that {n} items of {code} arrived broken on {date}."


def _prompt(template: str, i: int) -> list[dict[str, str]]:
    names = ["Amsterdam", "Brno", "Cork", "Dresden", "Evora", "Faro"]
    text = template.format(n=2 + 3 * i, code=f"QX-{200 + 7 * i}", name=names[i % 6],
                           date=f"2026-03-{10 + i}")  # fmt: skip
    return [{"role": "user", "content": text}]


def test_scores_split_into_seen_and_unseen_templates_and_round_trip(tmp_path):
    from workbench.comparison.comparison import by_template

    train = [
        _prompt(t, i) + [{"role": "assistant", "content": "ok"}] for t in SEEN for i in range(6)
    ]
    seen = [Row(i, _prompt(SEEN[i % 2], 10 + i), "r", "b", "t", {"m": 0.0}, {"m": 1.0})
            for i in range(6)]  # fmt: skip
    unseen = [Row(9 + i, _prompt(UNSEEN, i), "r", "b", "t", {"m": 0.0}, {"m": float(i % 2)})
              for i in range(4)]  # fmt: skip
    rows = seen[:3] + unseen + seen[3:]
    c = Comparison("d", rows, {"m": summarise_metric(rows, "m")}, None, SETTINGS.to_dict(), {})
    groups = by_template(c, train)
    assert groups["in_template"]["m"].n == 6 and groups["in_template"]["m"].tuned_mean == 1.0
    assert groups["out_of_template"]["m"].n == 4
    assert groups["out_of_template"]["m"].tuned_mean == 0.5
    only_seen = Comparison(
        "d", seen, {"m": summarise_metric(seen, "m")}, None, SETTINGS.to_dict(), {}
    )
    only_seen.by_template = by_template(only_seen, train)
    assert list(only_seen.by_template) == ["in_template"]  # one side: said, not dropped
    assert "All 6 eval rows are in-template" in only_seen.to_html()
    assert only_seen.unseen_mean("m") is None
    only_unseen = Comparison(
        "d", unseen, {"m": summarise_metric(unseen, "m")}, None, SETTINGS.to_dict(), {}
    )
    only_unseen.by_template = by_template(only_unseen, train)
    assert list(only_unseen.by_template) == ["out_of_template"]
    assert only_unseen.unseen_mean("m") == 0.5
    assert "all 4 eval rows are out-of-template" in "\n".join(only_unseen.summary_lines())
    c.by_template = groups
    (tmp_path / "run").mkdir()
    c.save(tmp_path / "run")
    back = Comparison.load(tmp_path / "run")
    assert back.by_template == groups
    assert "Out-of-template rows (4)" in back.to_html()
    assert any(line.startswith("out-of-template rows (4)") for line in back.summary_lines())
    assert back.unseen_mean("m") == 0.5


def test_probe_forgetting_asks_the_unknown_questions_of_both_sides(lora_run):
    convs = [
        [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        for q, a in (("Capital of France?", "Paris"), ("2 + 2?", "4"), ("Red or blue?", "red"))
    ]
    settings = GenerationSettings(max_new_tokens=6, batch_size=2)
    tiny_pair = load_run(lora_run)
    f = probe_forgetting(tiny_pair, convs[:2], settings=settings, unknown=convs[2:], n_boot=50)
    assert len(f.rows) == 2 and len(f.unknown_rows) == 1
    assert f.unknown_rows[0].reference == "red" and f.net.n == 3
    assert probe_forgetting(tiny_pair, convs, settings=settings, n_boot=50).net is None
    # the sample: its unknown split, capped like the probe
    g = probe_forgetting(tiny_pair, "general-probe", settings=settings, max_rows=2, n_boot=50)
    assert len(g.rows) == 2 and len(g.unknown_rows) == 2 and g.net.n == 4
