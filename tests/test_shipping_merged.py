"""Merged export on the tiny model: LoRA, DoRA and QLoRA runs merge into safetensors that answer as the adapter did."""

from __future__ import annotations

import json

import pytest

from workbench.errors import ConfigError
from workbench.rundir import RunDir
from workbench.shipping.merged import export_merged, load_tuned
from workbench.shipping.report import ShippingReport


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_runs):
    root = tmp_path_factory.mktemp("ship")
    return {t: tiny_runs.copy(root, t) for t in ("lora", "dora", "qlora")}


@pytest.mark.parametrize("technique", ["lora", "dora", "qlora"])
def test_merged_answers_and_logits_match_the_adapter(runs, technique):
    run_dir = runs[technique]
    check = export_merged(run_dir, max_prompts=4, max_new_tokens=16)
    rd = RunDir(run_dir)
    files = {p.name for p in rd.export_merged_dir.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json"} <= files
    assert "adapter_config.json" not in files
    saved = json.loads((rd.export_merged_dir / "tokenizer_config.json").read_text())
    chat_template = saved.get("chat_template") or (rd.export_merged_dir / "chat_template.jinja")
    assert chat_template and "im_start" in str(
        chat_template if isinstance(chat_template, str) else chat_template.read_text()
    )
    assert check.prompts == 4 and check.answers_equal == 4
    assert check.max_abs_logit_diff <= check.logit_tolerance
    assert check.ok
    assert ShippingReport.load(run_dir).merged == check


def test_merge_is_not_a_no_op(runs):
    """The adapter moved the weights: merged logits differ from the base model's."""
    import torch
    from transformers import AutoModelForCausalLM

    from workbench.shipping.merged import eval_prompts, max_logit_diff, prompts_of

    run_dir = runs["lora"]
    export_merged(run_dir, max_prompts=2, max_new_tokens=4)
    merged = AutoModelForCausalLM.from_pretrained(RunDir(run_dir).export_merged_dir)
    tuned, tokenizer, _ = load_tuned(run_dir)
    with tuned.disable_adapter():
        moved = max_logit_diff(
            tuned, merged, tokenizer, prompts_of(eval_prompts(run_dir, max_prompts=2))
        )
    assert moved > 1e-2
    assert torch.is_floating_point(next(merged.parameters()))


def test_missing_run_dir_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="run directory not found"):
        export_merged(tmp_path / "nope")
