"""Quality gates: thresholds from the parameters file checked against what a run wrote.

A gate reads one number from the run directory (the inspection report or the comparison) and
compares it with its threshold. A gate whose number is missing (the step that measures it was not
run) is reported as skipped, never as passed.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..rundir import RunDir


def _load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def find_number(data: Any, *paths: str) -> float | None:
    """The first of several dotted paths (`a.b.c`) that leads to a number in `data`, else None."""
    for dotted in paths:
        node = data
        for part in dotted.split("."):
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                node = None
                break
        if isinstance(node, bool):
            continue
        if isinstance(node, (int, float)):
            return float(node)
    return None


# -- measurements: each reads one number from a run directory -----------------------------------


def schema_valid(run: RunDir) -> float | None:
    """Share of the tuned model's answers that parse and validate against the task's JSON schema."""
    return find_number(_load(run.comparison_json), "summary.schema_valid.tuned_mean")


def forgetting_drop(run: RunDir) -> float | None:
    """The largest fall of a forgetting-probe metric's mean from base to tuned (negative: it rose)."""
    probe = (_load(run.comparison_json) or {}).get("forgetting") or {}
    drops = [
        base - tuned
        for m in (probe.get("summary") or {}).values()
        if (base := find_number(m, "base_mean")) is not None
        and (tuned := find_number(m, "tuned_mean")) is not None
    ]
    return max(drops) if drops else None


def pii_errors(run: RunDir) -> float | None:
    """Number of PII findings of severity `error` in the training data."""
    data = _load(run.inspect_report_json)
    if data is None or not isinstance(data.get("findings"), list):
        return None
    return float(
        sum(1 for f in data["findings"] if f.get("kind") == "pii" and f.get("severity") == "error")
    )


def truncated_share(run: RunDir) -> float | None:
    """Share of training conversations longer than max_length (their ends would be cut off)."""
    return find_number(_load(run.inspect_report_json), "lengths.share_truncated")


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
            "max_forgetting_drop",
            "max",
            "forgetting drop (base - tuned)",
            forgetting_drop,
            "04_compare",
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
    value = gate.measure(run)
    if value is None:
        reason = f"{gate.name}: skipped, {gate.what} was not measured (run notebook {gate.step})"
        return GateResult(gate.name, threshold, None, "skipped", reason)
    ok = value >= threshold if gate.kind == "min" else value <= threshold
    sign = ">=" if gate.kind == "min" else "<="
    if ok:
        reason = f"{gate.name}: passed, {gate.what} {_fmt(value)} {sign} {_fmt(threshold)}"
        return GateResult(gate.name, threshold, value, "passed", reason)
    reason = f"{gate.name}: FAILED, {gate.what} is {_fmt(value)}, must be {sign} {_fmt(threshold)}"
    return GateResult(gate.name, threshold, value, "failed", reason)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.3g}"


__all__ = ["GATES", "Gate", "GateResult", "check_gates", "validate_gates", "find_number"]
