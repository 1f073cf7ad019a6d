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
