"""Cost per call: time the served tuned model here, and turn the user's prices into cost per 1,000 calls and break-even.

No price is assumed: a hosted model's price per million tokens is on its provider's pricing page,
and this machine's hourly price is on the cloud bill (or your own depreciation figure).
"""

from __future__ import annotations

import logging
import os
import platform
import time
from pathlib import Path

from ..errors import ConfigError
from .report import CostReport, ShippingReport

log = logging.getLogger(__name__)


def _price(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"{name} must be a number >= 0 (your own price), got {value!r}.")
    return float(value)


def machine_name() -> str:
    return f"{platform.machine()} CPU, {os.cpu_count()} cores ({platform.system()})"


def measure_cost(
    run_dir: str | Path,
    *,
    hosted_price_per_million: float | None = None,
    machine_price_per_hour: float | None = None,
    calls: int = 8,
    max_new_tokens: int = 160,
    gguf: str | None = None,
) -> CostReport:
    """Send `calls` eval prompts one at a time to `workbench serve`'s server, record latency and
    tokens, and price them; the CostReport is saved in export/shipping.json."""
    from ..training.result import TrainResult
    from .merged import eval_prompts, prompts_of, refuse_classifier
    from .serve import LocalServer, free_port, serve_target

    hosted = _price("hosted_price_per_million", hosted_price_per_million)
    machine = _price("machine_price_per_hour", machine_price_per_hour)
    if calls < 1:
        raise ConfigError(f"calls must be >= 1, got {calls}.")
    refuse_classifier(run_dir, "workbench cost")
    training = TrainResult.load(run_dir)
    prompts = prompts_of(eval_prompts(run_dir, max_prompts=calls))
    prompts = [prompts[i % len(prompts)] for i in range(calls)]
    latencies, prompt_tokens, output_tokens = [], [], []
    with LocalServer(serve_target(run_dir, port=free_port(), gguf=gguf)) as server:
        server.chat(prompts[0], max_tokens=4)  # warm-up: the first call pays one-off setup
        for prompt in prompts:
            t0 = time.perf_counter()
            usage = server.chat(prompt, max_tokens=max_new_tokens)["usage"]
            latencies.append(time.perf_counter() - t0)
            prompt_tokens.append(usage["prompt_tokens"])
            output_tokens.append(usage["completion_tokens"])
    report = CostReport(
        device=machine_name(),
        calls=calls,
        mean_latency_s=sum(latencies) / calls,
        tokens_per_second=sum(output_tokens) / sum(latencies),
        mean_prompt_tokens=sum(prompt_tokens) / calls,
        mean_output_tokens=sum(output_tokens) / calls,
        hosted_price_per_million=hosted,
        machine_price_per_hour=machine,
        training_wall_s=training.wall_time_s,
    )
    shipping = ShippingReport.for_run(run_dir)
    shipping.cost = report
    shipping.save(run_dir)
    log.info("%.2f s per call, %.1f tokens/s", report.mean_latency_s, report.tokens_per_second)
    return report
