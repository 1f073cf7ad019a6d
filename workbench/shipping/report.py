"""ShippingReport: what `workbench export` and the cost measurement found, saved as export/shipping.json."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from ..rundir import OPTIONAL, Artifact


@dataclass
class MergedCheck:
    """The merged model against the adapter model it came from, on the same prompts."""

    folder: str
    technique: str
    prompts: int
    answers_equal: int  # greedy answers identical to the adapter model's
    max_abs_logit_diff: float  # over every position of every prompt
    logit_tolerance: float
    seconds: float

    @property
    def ok(self) -> bool:
        return (
            self.answers_equal == self.prompts and self.max_abs_logit_diff <= self.logit_tolerance
        )


@dataclass
class GgufCheck:
    """One GGUF file loaded back through transformers' GGUF loader, against the merged model."""

    quant: str
    file: str
    size_bytes: int
    prompts: int
    answers_equal: int
    perplexity_merged: float | None
    perplexity_gguf: float | None
    tokens_equal: bool  # the GGUF's own tokenizer encodes every prompt as the merged one does
    seconds: float

    @property
    def agreement(self) -> float:
        return self.answers_equal / self.prompts if self.prompts else 0.0


@dataclass
class CostReport:
    """Measured speed of the tuned model here, and the user's prices turned into cost per call."""

    device: str
    calls: int
    mean_latency_s: float
    tokens_per_second: float  # generated tokens per second of generation
    mean_prompt_tokens: float
    mean_output_tokens: float
    hosted_price_per_million: float | None  # the user's figure, for the hosted model they compare
    machine_price_per_hour: float | None  # the user's figure, for this machine
    training_wall_s: float

    @property
    def tokens_per_call(self) -> float:
        return self.mean_prompt_tokens + self.mean_output_tokens

    @property
    def hosted_per_1000_calls(self) -> float | None:
        if self.hosted_price_per_million is None:
            return None
        return 1000 * self.tokens_per_call / 1e6 * self.hosted_price_per_million

    @property
    def local_per_1000_calls(self) -> float | None:
        if self.machine_price_per_hour is None:
            return None
        return 1000 * self.mean_latency_s / 3600 * self.machine_price_per_hour

    @property
    def training_cost(self) -> float | None:
        if self.machine_price_per_hour is None:
            return None
        return self.training_wall_s / 3600 * self.machine_price_per_hour

    @property
    def break_even_calls(self) -> float | None:
        """Calls after which training plus local serving costs less than the hosted model; None
        when a price is missing, inf when the local model costs more per call."""
        hosted, local = self.hosted_per_1000_calls, self.local_per_1000_calls
        if hosted is None or local is None or self.training_cost is None:
            return None
        saving = (hosted - local) / 1000
        return float("inf") if saving <= 0 else self.training_cost / saving


@dataclass
class ShippingReport(Artifact):
    """Everything the shipping step measured for one run; each part is filled by its own call."""

    FILE = "shipping_json"
    MADE_BY = "`workbench export RUN_DIR` (or workbench.export_run)"

    run_dir: str
    merged: MergedCheck | None = field(default=None, metadata=OPTIONAL)
    gguf: list[GgufCheck] = field(default_factory=list, metadata=OPTIONAL)
    cost: CostReport | None = field(default=None, metadata=OPTIONAL)

    @classmethod
    def for_run(cls, run_dir: str | Path) -> ShippingReport:
        """The saved report of `run_dir`, or an empty one."""
        return cls.load_optional(run_dir) or cls(run_dir=str(run_dir))

    def with_gguf(self, check: GgufCheck) -> ShippingReport:
        kept = [g for g in self.gguf if g.quant != check.quant]
        return replace(self, gguf=[*kept, check])
