"""The lever advisor: each answer moves the recommendation the way its reason says."""

from __future__ import annotations

import json

import pytest

from workbench import Advice, advise
from workbench.errors import ConfigError
from workbench.estimation.advisor import LEVERS, MIN_EXAMPLES


def test_nothing_special_means_prompt_engineering():
    advice = advise()
    assert isinstance(advice, Advice)
    assert (
        advice.recommendation == "prompt"
        and advice.levers == ["prompt"]
        and advice.technique is None
    )


def test_fixed_format_at_volume_with_examples_means_fine_tuning():
    advice = advise(goal_format=True, cost_at_volume=True, good_examples=600)
    assert advice.recommendation == "finetune" and advice.fine_tune
    assert advice.levers[0] == "prompt"  # prompting always comes first
    assert advice.technique == "lora"
    assert any("JSON schema" in r.text for r in advice.reasons_for("finetune"))
    assert any("forget" in w for w in advice.warnings)


def test_too_few_examples_blocks_fine_tuning_and_says_how_many_to_collect():
    advice = advise(goal_format=True, goal_jargon=True, good_examples=20)
    assert not advice.fine_tune
    assert any(f"at least {MIN_EXAMPLES}" in r.text for r in advice.reasons_for("finetune"))


def test_changing_knowledge_and_citations_mean_retrieval_and_mix_with_tone():
    rag = advise(knowledge_changes_often=True, needs_citations=True, good_examples=300)
    assert rag.recommendation == "rag"
    mixed = advise(
        knowledge_changes_often=True, needs_citations=True, goal_tone=True, good_examples=300
    )
    assert mixed.recommendation == "rag+finetune" and mixed.title == "Retrieval (RAG) + Fine-tuning"
    assert any("retrieval, not in the weights" in w for w in mixed.warnings)


def test_in_house_data_warns_about_personal_data_in_weights():
    advice = advise(goal_jargon=True, data_in_house=True, good_examples=1000)
    assert advice.fine_tune and any("erasure" in w for w in advice.warnings)


def test_scores_are_the_sum_of_the_reasons_and_serialise():
    advice = advise(goal_tone=True, cost_at_volume=True, good_examples=150, prompting_tried=True)
    for lever in LEVERS:
        assert advice.scores[lever] == sum(r.points for r in advice.reasons_for(lever))
    data = json.loads(json.dumps(advice.to_dict()))
    assert (
        data["recommendation"] == advice.recommendation and data["answers"]["good_examples"] == 150
    )
    assert "Recommendation" in advice.to_text() and "<h4>" in advice._repr_html_()


def test_negative_examples_are_refused():
    with pytest.raises(ConfigError, match="good_examples"):
        advise(good_examples=-1)


def test_form_drives_the_same_function():
    from workbench.ui.advisor import AdvisorForm

    form = AdvisorForm()
    assert form.advice.recommendation == "prompt"
    form.boxes["goal_format"].value = True
    form.examples.value = 800
    form.button.click()
    assert form.advice.recommendation == "finetune"
    assert form.advice.to_dict() == advise(goal_format=True, good_examples=800).to_dict()
    assert "Fine-tuning" in form.result.value


def test_preference_pairs_for_a_tone_mean_dpo_after_sft_or_alone():
    both = advise(goal_tone=True, cost_at_volume=True, good_examples=300, preference_pairs=200)
    assert both.fine_tune and both.objective == "sft+dpo"
    assert any("200 preference pairs for a tone" in r.text for r in both.reasons_for("finetune"))
    assert "then on the preference pairs" in both.to_text() and "init_adapter" in both._repr_html_()
    # the chosen answers are examples too: pairs alone clear the examples bar
    alone = advise(goal_tone=True, cost_at_volume=True, preference_pairs=300)
    assert alone.fine_tune and alone.objective == "dpo"
    assert not any("Only 0 good examples" in r.text for r in alone.reasons)
    without = advise(goal_tone=True, cost_at_volume=True, good_examples=300)
    assert without.objective == "sft"
    assert both.scores["finetune"] == without.scores["finetune"] + 1


def test_pairs_for_a_format_or_too_few_pairs_keep_sft_and_say_why():
    fmt = advise(goal_format=True, cost_at_volume=True, good_examples=300, preference_pairs=500)
    assert fmt.objective == "sft"
    assert any("pays off most for a tone" in r.text for r in fmt.reasons_for("finetune"))
    few = advise(goal_tone=True, cost_at_volume=True, good_examples=300, preference_pairs=20)
    assert few.objective == "sft"
    assert any(
        f"Only 20 preference pairs: collect at least {MIN_EXAMPLES}" in r.text for r in few.reasons
    )
    with pytest.raises(ConfigError, match="preference_pairs must be >= 0"):
        advise(preference_pairs=-1)
    assert advise().objective is None  # no fine-tuning advised: nothing to train


def test_the_form_asks_for_preference_pairs():
    from workbench.ui.advisor import AdvisorForm

    form = AdvisorForm(goal_tone=True, cost_at_volume=True, good_examples=300)
    assert form.advice.objective == "sft"
    form.pairs.value = 250
    form.button.click()
    assert form.advice.objective == "sft+dpo" and "preference pairs" in form.result.value


def test_notebook_02_counts_the_pairs_of_a_dpo_run():
    from workbench import TrainConfig, dataset_rows, load_preferences

    dpo = TrainConfig(objective="dpo", dataset="support-tone-pairs")
    pairs = len(load_preferences("support-tone-pairs", split="train"))
    assert pairs >= MIN_EXAMPLES and dataset_rows("support-tone-pairs", config=dpo) == pairs
