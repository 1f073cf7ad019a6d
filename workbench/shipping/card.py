"""The model card's section on shipping: export checks, GGUF agreement, cost per call and break-even."""

from __future__ import annotations

from typing import Any

from ..documents.render import Fields, Para, Table
from .report import CostReport, ShippingReport

YOURS = "(your figure)"
FROM_YOURS = "(from your prices)"


def shipping_blocks(report: ShippingReport | None) -> list[Any]:
    """Blocks for the card; one line saying what to run when nothing was exported or measured."""
    if report is None:
        return [Para("Not exported: run `workbench export RUN_DIR` (merged weights, GGUF).")]
    blocks: list[Any] = []
    m = report.merged
    if m is not None:
        blocks.append(
            Para(
                f"Merged weights (`{m.folder}`): {m.answers_equal} of {m.prompts} greedy answers "
                f"equal the adapter model's; largest logit difference {m.max_abs_logit_diff:.2e} "
                f"(tolerance {m.logit_tolerance:g})."
            )
        )
    if report.gguf:
        rows = [
            [
                g.quant,
                f"{g.size_bytes / 1e6:.1f} MB",
                f"{g.answers_equal}/{g.prompts} ({g.agreement:.0%})",
                _num(g.perplexity_merged),
                _num(g.perplexity_gguf),
                "yes" if g.tokens_equal else "no",
            ]
            for g in report.gguf
        ]
        headers = ["GGUF", "size", "answers = merged", "ppl merged", "ppl GGUF", "same tokens"]
        blocks.append(Table(headers, rows))
    blocks += cost_blocks(report.cost)
    return blocks


def cost_blocks(cost: CostReport | None) -> list[Any]:
    if cost is None:
        return [Para("Cost per call not measured: call workbench.measure_cost(run_dir, ...).")]
    hosted, local = cost.hosted_per_1000_calls, cost.local_per_1000_calls
    rows = [
        ("Measured on", f"{cost.device}, {cost.calls} calls through `workbench serve`"),
        ("Latency per call", f"{cost.mean_latency_s:.2f} s"),
        ("Generation speed", f"{cost.tokens_per_second:.1f} tokens/s"),
        (
            "Tokens per call",
            f"{cost.mean_prompt_tokens:.0f} in + {cost.mean_output_tokens:.0f} out",
        ),
        ("Hosted model price", _money(cost.hosted_price_per_million, "per million tokens")),
        ("This machine's price", _money(cost.machine_price_per_hour, "per hour")),
        ("Hosted model, per 1,000 calls", _money(hosted, "", FROM_YOURS)),
        ("Tuned model here, per 1,000 calls", _money(local, "", FROM_YOURS)),
        (
            "Training cost",
            _money(cost.training_cost, f"for {cost.training_wall_s:.0f} s", FROM_YOURS),
        ),
        ("Break-even", _break_even(cost.break_even_calls)),
    ]
    return [Fields(rows)]


def _money(value: float | None, unit: str, mark: str = YOURS) -> str | None:
    return None if value is None else " ".join(p for p in (f"{value:,.4g}", unit, mark) if p)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _break_even(calls: float | None) -> str | None:
    if calls is None:
        return None
    if calls == float("inf"):
        return "never: the tuned model costs more per call here than the hosted one"
    return f"after {calls:,.0f} calls (from your prices)"
