"""An interrupt during `compare` keeps the answers of the prompts both models answered."""

from __future__ import annotations

import pytest
from test_compare import CONVS, SETTINGS, base_dir, lora_run  # noqa: F401 (fixtures)

from workbench.comparison.comparison import compare


def test_interrupt_keeps_the_rows_so_far_and_skips_the_probe(lora_run):  # noqa: F811
    calls = []

    def interrupted_on_the_second_batch(output: str, reference: str) -> float:
        calls.append(output)
        if len(calls) > 2 * SETTINGS.batch_size:  # base + tuned of the first batch scored
            raise KeyboardInterrupt
        return 1.0

    prompts = CONVS * 2  # 6 prompts: three batches of 2
    result = compare(
        tuned=lora_run,
        prompts=prompts,
        metrics={"ok": interrupted_on_the_second_batch},
        probe=CONVS,
        generation=SETTINGS,
        n_boot=50,
    )
    assert len(result.rows) == SETTINGS.batch_size
    assert result.seconds["interrupted_after"] == SETTINGS.batch_size
    assert result.forgetting is None  # the probe is not started after an interrupt
    assert result.summary["ok"].n == SETTINGS.batch_size


def test_interrupt_before_any_answer_still_raises(lora_run):  # noqa: F811
    def at_once(output: str, reference: str) -> float:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compare(tuned=lora_run, prompts=CONVS, metrics={"x": at_once}, generation=SETTINGS)
