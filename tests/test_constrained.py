"""Schema-constrained decoding on the tiny random model: answers that validate, its own comparison file, gates."""

from __future__ import annotations

import json

import jsonschema
import pytest

from workbench.comparison.comparison import Comparison, ConstrainedComparison, compare
from workbench.comparison.generation import GenerationSettings, generate, load_run
from workbench.comparison.saved_run import compare_run
from workbench.errors import ConfigError
from workbench.pipeline.gates import check_gates
from workbench.rundir import RunDir

# finite: every answer must close within a few tokens, so a random model can be held to it
SMALL = {
    "type": "object",
    "additionalProperties": False,
    "required": ["label", "sku"],
    "properties": {
        "label": {"type": "string", "enum": ["refund", "delivery", "other"]},
        "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{3}$"},
    },
}
PROMPTS = [
    [{"role": "user", "content": text}]
    for text in (
        "Where is my parcel? It was KTL-205.",
        "I want my money back for two lamps.",
        "hello",
        "Please classify this ticket and give the product code of the mop set, 20 pieces.",
    )
]


def _valid(answer: str, schema: dict) -> bool:
    try:
        jsonschema.validate(json.loads(answer), schema)
    except (ValueError, jsonschema.ValidationError):
        return False
    return True


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return (
        AutoModelForCausalLM.from_pretrained(tiny_model_dir),
        AutoTokenizer.from_pretrained(tiny_model_dir),
    )


def test_every_constrained_answer_validates_where_free_decoding_does_not(tiny):
    model, tokenizer = tiny
    settings = GenerationSettings(max_new_tokens=48, batch_size=3)  # two batches, one ragged
    free = generate(model, tokenizer, PROMPTS, settings=settings)
    held = generate(
        model,
        tokenizer,
        PROMPTS,
        settings=GenerationSettings(48, batch_size=3, constrain=True),
        schema=SMALL,
    )
    assert not any(_valid(a, SMALL) for a in free)  # a random model writes no JSON by itself
    assert all(_valid(a, SMALL) for a in held), held
    # the fields come in the schema's required order, compact
    assert all(json.loads(a) and a.index('"label"') < a.index('"sku"') for a in held)
    assert all("  " not in a for a in held)


def test_constrain_without_a_schema_is_a_config_error(tiny):
    model, tokenizer = tiny
    with pytest.raises(ConfigError, match="needs the task's JSON schema"):
        generate(model, tokenizer, PROMPTS[:1], settings=GenerationSettings(8, constrain=True))
    with pytest.raises(ConfigError, match="has none"):
        compare(
            tuned=model,
            base=model,
            tokenizer=tokenizer,
            prompts=[p + [{"role": "assistant", "content": "x"}] for p in PROMPTS[:1]],
            generation={"max_new_tokens": 8, "constrain": True},
        )


def test_a_schema_rule_the_library_cannot_follow_is_a_config_error(tiny):
    model, tokenizer = tiny
    both = {  # lm-format-enforcer refuses a pattern with a length bound, once it reaches the field
        "type": "object",
        "required": ["sku"],
        "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}$", "maxLength": 3}},
    }
    with pytest.raises(ConfigError, match="Cannot decode against this JSON schema: .*pattern"):
        generate(
            model,
            tokenizer,
            PROMPTS[:1],
            settings=GenerationSettings(16, constrain=True),
            schema=both,
        )


def test_compare_constrained_scores_valid_answers_and_probes_freely(tiny):
    model, tokenizer = tiny
    rows = [
        p + [{"role": "assistant", "content": '{"label":"delivery","sku":"KTL-205"}'}]
        for p in PROMPTS
    ]
    result = compare(
        tuned=model,
        base=model,
        tokenizer=tokenizer,
        prompts=rows,
        schema=SMALL,
        metrics=["schema_valid", "field_accuracy"],
        probe=rows[:2],
        generation={"max_new_tokens": 48, "constrain": True},
        n_boot=50,
    )
    assert isinstance(result, ConstrainedComparison)
    assert (
        result.tuned_mean("schema_valid") == 1.0 and result.summary["schema_valid"].base_mean == 1.0
    )
    assert result.schema_failures == {"base": {}, "tuned": {}}
    # the probe is free text: decoded without the schema, so its answers are not the JSON object
    assert result.forgetting is not None
    assert not any(_valid(r.tuned, SMALL) for r in result.forgetting.rows)
    assert "decoded against the task's JSON schema" in "\n".join(result.summary_lines())


def test_compare_run_writes_its_own_file_and_the_gates_read_it(tiny_runs, tmp_path):
    run = tiny_runs.copy(tmp_path)
    pair = load_run(run)
    free = compare_run(run, pair=pair, probe_dataset=None, max_eval_prompts=2, max_new_tokens=24)
    held = compare_run(run, pair=pair, max_eval_prompts=2, max_new_tokens=24, constrain=True)
    rd = RunDir(run)
    assert rd.comparison_json.is_file() and rd.constrained_comparison_json.is_file()
    page = rd.constrained_comparison_html.read_text()
    assert "decoded against the schema" in page  # the title
    assert "both models decoded against the task's JSON schema" in page  # the settings line
    assert "decoded against" not in rd.comparison_html.read_text()
    assert held.forgetting is None  # compare_run skips the probe: it would repeat the free one
    assert Comparison.load(run).generation["constrain"] is False  # the free file is untouched
    assert Comparison.load(run).rows[0].tuned == free.rows[0].tuned
    loaded = ConstrainedComparison.load(run)
    assert loaded.generation["constrain"] is True and isinstance(loaded, ConstrainedComparison)
    assert [r.tuned for r in loaded.rows] == [r.tuned for r in held.rows]
    # the orders schema holds every answer to JSON's shape: none starts as free text does
    assert all(r.tuned.startswith('{"customer":') for r in held.rows)
    from workbench.documents.cards import constrained_line
    from workbench.documents.facts import RunFacts

    line = constrained_line(RunFacts.read(run))  # the model card's evaluation section
    field = held.summary["field_accuracy"]
    assert line.startswith("Decoded against the task's JSON schema (2 prompts")
    assert f"field_accuracy {field.base_mean:.1%} -> {field.tuned_mean:.1%}" in line
    gates = {"min_field_accuracy_constrained": 1.01, "min_schema_valid_constrained": 0.0}
    results = {r.name: r for r in check_gates(gates, run_dir=run)}
    assert results["min_field_accuracy_constrained"].status == "failed"
    assert results["min_schema_valid_constrained"].status == "passed"
    rd.constrained_comparison_json.unlink()
    results = {r.name: r for r in check_gates(gates, run_dir=run)}
    assert results["min_schema_valid_constrained"].status == "skipped"
    assert constrained_line(RunFacts.read(run)) is None


def test_erasure_and_tracking_take_the_constrained_files_too(tmp_path):
    """They quote the eval prompts and both models' answers, as comparison.json does: erasure
    deletes them with the run's other row-quoting pages, and the tracker logs them beside it."""
    from workbench.provenance.erasure import old_artifacts
    from workbench.training.tracking import _artifact_files

    rd = RunDir(tmp_path)
    for path in (rd.constrained_comparison_json, rd.constrained_comparison_html):
        path.write_text("{}")
    assert {rd.constrained_comparison_json, rd.constrained_comparison_html} <= set(
        old_artifacts(rd)
    )
    logged = {path for path, _ in _artifact_files(rd)}
    assert {rd.constrained_comparison_json, rd.constrained_comparison_html} <= logged
