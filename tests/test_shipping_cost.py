"""Cost per call: the arithmetic from the user's prices, the model card section, and a measured run."""

from __future__ import annotations

import math

import pytest

from workbench.errors import ConfigError
from workbench.shipping.report import CostReport, GgufCheck, MergedCheck, ShippingReport


def cost(**over) -> CostReport:
    base = dict(
        device="test CPU",
        calls=4,
        mean_latency_s=2.0,
        tokens_per_second=50.0,
        mean_prompt_tokens=300.0,
        mean_output_tokens=100.0,
        hosted_price_per_million=5.0,
        machine_price_per_hour=0.36,
        training_wall_s=3600.0,
    )
    return CostReport(**{**base, **over})


def test_cost_per_1000_calls_and_break_even():
    c = cost()
    assert c.hosted_per_1000_calls == pytest.approx(1000 * 400 / 1e6 * 5.0)  # 2.0
    assert c.local_per_1000_calls == pytest.approx(1000 * 2.0 / 3600 * 0.36)  # 0.2
    assert c.training_cost == pytest.approx(0.36)
    assert c.break_even_calls == pytest.approx(0.36 / ((2.0 - 0.2) / 1000))  # 200 calls


def test_no_price_means_no_cost_and_no_break_even():
    c = cost(hosted_price_per_million=None)
    assert c.hosted_per_1000_calls is None and c.break_even_calls is None
    assert cost(machine_price_per_hour=None).break_even_calls is None


def test_a_dearer_local_model_never_breaks_even():
    assert math.isinf(cost(hosted_price_per_million=0.01).break_even_calls)


def test_negative_price_is_refused(tmp_path):
    from workbench.shipping.cost import measure_cost

    with pytest.raises(ConfigError, match="hosted_price_per_million must be a number >= 0"):
        measure_cost(tmp_path, hosted_price_per_million=-1)


def test_model_card_shows_shipping_and_cost_marked_as_the_users(tmp_path, tiny_runs):
    from workbench.documents.writer import write_run_docs

    run_dir = tiny_runs.copy(tmp_path, "lora")
    ShippingReport(
        run_dir=str(run_dir),
        merged=MergedCheck("export/merged", "lora", 16, 16, 2.4e-5, 1e-3, 10.0),
        gguf=[
            GgufCheck("q8_0", "export/model-q8_0.gguf", 145_000_000, 16, 15, 1.5, 1.51, True, 30)
        ],
        cost=cost(),
    ).save(run_dir)
    write_run_docs(run_dir=run_dir)
    card = (run_dir / "docs" / "model_card.md").read_text()
    section = card.split("Shipping and cost per call", 1)[1]
    assert "16 of 16 greedy answers equal the adapter model's" in section
    assert "15/16 (94%)" in section
    assert "5 per million tokens (your figure)" in section
    assert "2 (from your prices)" in section  # hosted, per 1,000 calls
    assert "after 200 calls (from your prices)" in section


def test_model_card_says_when_nothing_was_exported(tmp_path, tiny_runs):
    from workbench.documents.writer import write_run_docs

    run_dir = tiny_runs.copy(tmp_path, "lora")
    write_run_docs(run_dir=run_dir)
    card = (run_dir / "docs" / "model_card.md").read_text()
    assert "Not exported: run `workbench export RUN_DIR`" in card


@pytest.mark.slow
def test_measured_cost_through_the_server(tmp_path, tiny_runs):
    from workbench.shipping.cost import measure_cost
    from workbench.shipping.merged import write_merged

    run_dir = tiny_runs.copy(tmp_path, "lora")
    write_merged(run_dir)
    c = measure_cost(run_dir, hosted_price_per_million=1.0, calls=2, max_new_tokens=8)
    assert c.calls == 2 and c.mean_latency_s > 0 and c.tokens_per_second > 0
    assert 0 < c.mean_output_tokens <= 8 and c.mean_prompt_tokens > 10
    assert c.machine_price_per_hour is None and c.break_even_calls is None
    assert ShippingReport.load(run_dir).cost == c
