"""Quality gates: thresholds from the parameters file checked against what a run wrote.

A gate reads one number from a step's typed result (the `DatasetReport`, the `Comparison` or the
`ClassificationComparison`, loaded from the run directory) and compares it with its threshold. A gate whose number is missing
(the step that measures it was not run) is reported as skipped, never as passed; a gate whose
result file is corrupt fails, with the reader's message.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..comparison.classification import ClassificationComparison
from ..comparison.comparison import Comparison, ConstrainedComparison
from ..errors import ArtifactError, ConfigError
from ..estimation.lever_result import LeverTrial
from ..inspection.report import DatasetReport
from ..rundir import RunDir

# -- measurements: each reads one number from a step's result -----------------------------------


def _tuned_mean(kind: type[Comparison], run: RunDir, metric: str) -> float | None:
    """The tuned mean of `metric` in the run's comparison of that kind; None when it did not run."""
    comparison = kind.load_optional(run.root)
    return None if comparison is None else comparison.tuned_mean(metric)


def schema_valid(run: RunDir) -> float | None:
    """Share of the tuned model's answers that parse and validate against the task's JSON schema."""
    return _tuned_mean(Comparison, run, "schema_valid")


def schema_valid_unseen(run: RunDir) -> float | None:
    """The same share on out-of-template eval rows only: prompts whose masked shape no training row
    has (Comparison.by_template), the score that says the model learned the task, not templates."""
    comparison = Comparison.load_optional(run.root)
    return None if comparison is None else comparison.unseen_mean("schema_valid")


def field_accuracy(run: RunDir) -> float | None:
    """Share of reference fields the tuned answers get right (free decoding)."""
    return _tuned_mean(Comparison, run, "field_accuracy")


def schema_valid_constrained(run: RunDir) -> float | None:
    """Schema-valid share with both models decoded against the schema (ConstrainedComparison):
    near 1 by construction, so it catches answers cut off at max_new_tokens, not a model's skill."""
    return _tuned_mean(ConstrainedComparison, run, "schema_valid")


def field_accuracy_constrained(run: RunDir) -> float | None:
    """Field accuracy of the tuned answers decoded against the schema: what a deployment that
    enforces the schema returns."""
    return _tuned_mean(ConstrainedComparison, run, "field_accuracy")


def _probe(run: RunDir) -> Any:
    """The run's forgetting probe (comparison.Forgetting), or None when it was not run."""
    comparison = Comparison.load_optional(run.root)
    return None if comparison is None else comparison.forgetting


def forgetting_drop(run: RunDir) -> float | None:
    """The largest fall of a forgetting-probe metric's mean from base to tuned (negative: it rose)."""
    probe = _probe(run)
    return None if probe is None else probe.largest_drop


def net_forgetting_drop(run: RunDir) -> float | None:
    """base - tuned over the probe's known and unknown questions together (Forgetting.net): the
    fall of general accuracy on questions not chosen by the base model's answers. None without an
    unknown split (a probe file of your own)."""
    probe = _probe(run)
    return None if probe is None else probe.net_drop


def accuracy(run: RunDir) -> float | None:
    """Share of held-out texts the tuned classifier labels right (classification runs)."""
    comparison = ClassificationComparison.load_optional(run.root)
    return None if comparison is None else comparison.tuned_score("accuracy")


def macro_f1(run: RunDir) -> float | None:
    """The tuned classifier's F1 averaged over the labels, each label weighing the same."""
    comparison = ClassificationComparison.load_optional(run.root)
    return None if comparison is None else comparison.tuned_score("macro_f1")


def finetune_lead(run: RunDir) -> float | None:
    """How far the lever trial's best fine-tune beat its best prompt-only arm (paired, same rows)."""
    trial = LeverTrial.load_optional(run.root)
    return None if trial is None else trial.finetune_lead


def pii_errors(run: RunDir) -> float | None:
    """Number of PII findings of severity `error` in the training data."""
    report = DatasetReport.load_optional(run.root)
    return None if report is None else float(report.pii_error_count)


def truncated_share(run: RunDir) -> float | None:
    """Share of training conversations longer than max_length (their ends would be cut off)."""
    report = DatasetReport.load_optional(run.root)
    return None if report is None else report.share_truncated


@dataclass(frozen=True)
class Gate:
    name: str
    kind: str  # "min": value must be >= threshold; "max": value must be <= threshold
    what: str
    measure: Callable[[RunDir], float | None]
    step: str  # the notebook that measures it


GATES: dict[str, Gate] = {
    g.name: g
    for g in (
        Gate(
            "min_schema_valid",
            "min",
            "schema-valid share of tuned answers",
            schema_valid,
            "04_compare",
        ),
        Gate(
            "min_schema_valid_unseen",
            "min",
            "schema-valid share of tuned answers on out-of-template eval rows",
            schema_valid_unseen,
            "04_compare",
        ),
        Gate(
            "min_field_accuracy",
            "min",
            "field accuracy of tuned answers",
            field_accuracy,
            "04_compare",
        ),
        Gate(
            "min_schema_valid_constrained",
            "min",
            "schema-valid share of tuned answers decoded against the schema",
            schema_valid_constrained,
            "04_compare",
        ),
        Gate(
            "min_field_accuracy_constrained",
            "min",
            "field accuracy of tuned answers decoded against the schema",
            field_accuracy_constrained,
            "04_compare",
        ),
        Gate(
            "max_forgetting_drop",
            "max",
            "forgetting drop (base - tuned)",
            forgetting_drop,
            "04_compare",
        ),
        Gate(
            "max_net_forgetting_drop",
            "max",
            "net forgetting (base - tuned, known + unknown probe questions)",
            net_forgetting_drop,
            "04_compare",
        ),
        Gate("min_accuracy", "min", "tuned classifier's accuracy", accuracy, "04_compare"),
        Gate("min_macro_f1", "min", "tuned classifier's macro-F1", macro_f1, "04_compare"),
        Gate(
            "min_finetune_lead",
            "min",
            "lead of fine-tuning over the best prompt-only arm (lever trial)",
            finetune_lead,
            "02_choose_technique",
        ),
        Gate(
            "max_pii_errors", "max", "PII findings of severity error", pii_errors, "01_inspect_data"
        ),
        Gate(
            "max_truncated_share",
            "max",
            "share of truncated conversations",
            truncated_share,
            "01_inspect_data",
        ),
    )
}


@dataclass
class GateResult:
    name: str
    threshold: float
    value: float | None
    status: str  # passed | failed | skipped
    reason: str  # one line a person reads in a CI log

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _repr_html_(self) -> str:
        colour = {"passed": "#1a7f37", "failed": "#cf222e"}.get(self.status, "#9a6700")
        return f'<div><b style="color:{colour}">{self.status}</b> {html.escape(self.reason)}</div>'


def validate_gates(gates: Mapping[str, Any] | None, *, where: str = "gates") -> dict[str, float]:
    """Check names and values of a `gates:` section; returns {name: threshold}."""
    out: dict[str, float] = {}
    for name, threshold in (gates or {}).items():
        if name not in GATES:
            raise ConfigError(f"{where}: unknown gate {name!r}. Known gates: {', '.join(GATES)}.")
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise ConfigError(f"{where}.{name}: expected a number, got {threshold!r}.")
        out[name] = float(threshold)
    return out


def check_gates(gates: Mapping[str, Any] | None, *, run_dir: str | Path) -> list[GateResult]:
    """Measure each gate in `gates` ({name: threshold}) on `run_dir`."""
    run = RunDir(run_dir)
    return [
        _check(GATES[name], threshold, run) for name, threshold in validate_gates(gates).items()
    ]


def _check(gate: Gate, threshold: float, run: RunDir) -> GateResult:
    try:
        value = gate.measure(run)
    except ArtifactError as exc:  # a corrupt result cannot pass a gate
        return GateResult(gate.name, threshold, None, "failed", f"{gate.name}: FAILED, {exc}")
    if value is None:
        reason = f"{gate.name}: skipped, {gate.what} was not measured (run notebook {gate.step})"
        return GateResult(gate.name, threshold, None, "skipped", reason)
    # shares are ratios of counts (1.0 - 0.95 is 0.050000000000000044): a value on the threshold
    # passes, whatever the last bit of the float
    ok = (value >= threshold if gate.kind == "min" else value <= threshold) or math.isclose(
        value, threshold, abs_tol=1e-9
    )
    sign = ">=" if gate.kind == "min" else "<="
    if ok:
        reason = f"{gate.name}: passed, {gate.what} {_fmt(value)} {sign} {_fmt(threshold)}"
        return GateResult(gate.name, threshold, value, "passed", reason)
    reason = f"{gate.name}: FAILED, {gate.what} is {_fmt(value)}, must be {sign} {_fmt(threshold)}"
    return GateResult(gate.name, threshold, value, "failed", reason)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.3g}"


__all__ = ["GATES", "Gate", "GateResult", "check_gates", "validate_gates"]
