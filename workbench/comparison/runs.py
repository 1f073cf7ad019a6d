"""Many runs side by side: loss curves, what their configs changed, and which run is better by how much.

`compare_runs([...])` reads run directories through their owner types (TrainConfig,
TrainResult, Comparison), so it works without a tracker. Runs compared on the same prompts are
paired prompt by prompt: the difference between two runs' tuned scores gets a bootstrap interval,
and a difference counts as significant when that interval excludes 0.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import TrainConfig
from ..errors import ConfigError
from ..rundir import RunDir
from .comparison import Comparison
from .metrics import primary_metric
from .stats import bootstrap_cis

AXES = {"step": "step", "tokens": "tokens seen", "time": "wall time (s)"}
HIDDEN_FIELDS = ("run_dir",)  # differs for every run: it names the column
# the config fields that trade task score for forgetting, shown beside each trade-off point
TRADEOFF_FIELDS = ("kl_to_base", "replay_share", "lora_r", "max_steps", "epochs", "learning_rate")


@dataclass
class RunView:
    """One run as compare_runs read it; `result` / `comparison` are None when that step did not run."""

    name: str
    run_dir: Path
    config: TrainConfig | None
    history: list[dict[str, Any]]
    status: str
    comparison: Comparison | None

    @property
    def comparison_page(self) -> Path | None:
        page = RunDir(self.run_dir).comparison_html
        return page if page.is_file() else None

    def final(self, key: str) -> float | None:
        values = [r[key] for r in self.history if key in r]
        return float(values[-1]) if values else None


@dataclass
class Difference:
    """`run` minus `against` on one metric's tuned scores, over the prompts both answered."""

    metric: str
    run: str
    against: str
    n: int
    delta: float
    ci: tuple[float, float]

    @property
    def significant(self) -> bool:
        return self.ci[0] > 0 or self.ci[1] < 0


@dataclass
class TradeoffPoint:
    """One run on the trade-off view: its task score and what the forgetting probe saw it lose."""

    run: str
    metric: str
    task: float  # tuned mean of the task metric
    task_ci: tuple[float, float] | None
    forgetting: float  # largest probe-metric drop, base - tuned (negative: the probe rose)
    margin: float  # the probe's forgetting margin
    flag: bool
    settings: dict[str, Any]  # TRADEOFF_FIELDS of the run's config


@dataclass
class RunsComparison:
    """What compare_runs returns: the runs, the config fields that differ, the best run and its margins."""

    runs: list[RunView]
    config_diff: dict[str, list[Any]]
    metric: str | None
    best: str | None
    best_reason: str
    differences: list[Difference] = field(default_factory=list)

    def run(self, name: str) -> RunView:
        return next(r for r in self.runs if r.name == name)

    def metric_rows(self) -> list[dict[str, Any]]:
        """Per run and task metric: tuned mean with its interval, and the difference from base."""
        rows = []
        for r in self.runs:
            summary = r.comparison.summary if r.comparison else {}
            for s in summary.values():
                rows.append(
                    {
                        "run": r.name,
                        "metric": s.name,
                        "n": s.n,
                        "tuned": s.tuned_mean,
                        "tuned_ci": s.tuned_ci,
                        "delta": s.delta,
                        "delta_ci": s.delta_ci,
                    }
                )
        return rows

    def forgetting_rows(self) -> list[dict[str, Any]]:
        """Per run: the probe's verdict, its largest metric drop and the perplexity change."""
        rows = []
        for r in self.runs:
            f = r.comparison.forgetting if r.comparison else None
            if f is not None:
                ppl = f.perplexity
                rows.append(
                    {
                        "run": r.name,
                        "flag": f.flag,
                        "largest_drop": f.largest_drop,
                        # over the probe's known + unknown questions (None without unknown ones)
                        "net_drop": f.net_drop,
                        "perplexity": (ppl.get("base"), ppl.get("tuned")),
                        "reasons": list(f.reasons),
                    }
                )
        return rows

    def tradeoff(self, *, dataset: str | None = None) -> list[TradeoffPoint]:
        """Task score against forgetting, one point per compared run trained on `dataset`
        (default: the first run's), the runs without a comparison or a probe left out."""
        dataset = dataset or next((r.config.dataset for r in self.runs if r.config), None)
        points = []
        for r in self.runs:
            c = r.comparison
            s = c.summary.get(self.metric) if c is not None and self.metric else None
            f = c.forgetting if c is not None else None
            if r.config is None or r.config.dataset != dataset or s is None or f is None:
                continue
            if s.tuned_mean is None or f.largest_drop is None:
                continue
            settings = {k: getattr(r.config, k) for k in TRADEOFF_FIELDS}
            if r.config.kl_on != "all":  # where the KL counts, when not the default everywhere
                settings["kl_on"] = r.config.kl_on
            points.append(
                TradeoffPoint(
                    r.name,
                    s.name,
                    s.tuned_mean,
                    s.tuned_ci,
                    f.largest_drop,
                    f.margin,
                    f.flag,
                    settings,
                )
            )
        return points

    def summary_lines(self) -> list[str]:
        lines = [
            f"{len(self.runs)} runs; differing config: {', '.join(self.config_diff) or 'none'}"
        ]
        lines.append(self.best_reason)
        for d in self.differences:
            verdict = "significant" if d.significant else "not significant"
            lines.append(
                f"  {d.run} - {d.against} on {d.metric}: {d.delta:+.1%} "
                f"[{d.ci[0]:+.1%}, {d.ci[1]:+.1%}] over {d.n} prompts ({verdict})"
            )
        return lines

    def figures(self) -> dict[str, Any]:
        """Overlaid train and eval loss of every run, by step, by tokens seen and by wall time."""
        return {axis: runs_loss_figure(self.runs, x=axis) for axis in AXES}

    def _repr_html_(self) -> str:
        return runs_fragment(self)


def compare_runs(
    run_dirs: Sequence[str | Path],
    *,
    metric: str | None = None,
    names: Sequence[str] | None = None,
    n_boot: int = 1000,
) -> RunsComparison:
    """Read the runs and rank them: by `metric` (default: the deciding metric of their comparisons,
    metrics.PRIMARY_METRICS: schema validity before parse rate),
    else, when no run was compared yet, by final eval loss."""
    if not run_dirs:
        raise ConfigError("compare_runs needs at least one run directory.")
    labels = list(names) if names else _names(run_dirs)
    runs = [_read(Path(d), label) for d, label in zip(run_dirs, labels, strict=True)]
    metric = metric or _first_metric(runs)
    if metric is not None and not any(
        r.comparison and metric in r.comparison.summary for r in runs
    ):
        known = sorted({m for r in runs if r.comparison for m in r.comparison.summary})
        raise ConfigError(f"No run has metric {metric!r}; the comparisons measured: {known}.")
    best, reason = _best(runs, metric)
    diffs = _differences(runs, metric, best, n_boot=n_boot) if metric and best else []
    return RunsComparison(runs, config_diff(runs), metric, best, reason, diffs)


def runs_tradeoff(
    run_dir: str | Path, *, folder: str | Path | None = None, metric: str | None = None
) -> list[TradeoffPoint]:
    """The trade-off points of the runs beside `run_dir` (or in `folder`) trained on its dataset,
    ranked on `metric` (default: the deciding metric of its comparison); [] when none compared."""
    config = TrainConfig.load_optional(run_dir)
    if config is None:
        return []
    dirs = find_runs(folder or Path(run_dir).resolve().parent)
    if not dirs:
        return []
    own = Comparison.load_optional(run_dir)
    metric = metric or (primary_metric(own.summary) if own and own.summary else None)
    try:
        runs = compare_runs(dirs, metric=metric, n_boot=200)
    except ConfigError:  # no run was scored on that metric
        return []
    return runs.tradeoff(dataset=config.dataset)


def find_runs(folder: str | Path) -> list[Path]:
    """The run directories directly inside `folder` that finished training (have train_result.json)."""
    from ..training.result import TrainResult

    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such folder of runs.")
    return sorted(d for d in folder.iterdir() if TrainResult.path_in(d).is_file())


def _names(run_dirs: Sequence[str | Path]) -> list[str]:
    names = [Path(d).name for d in run_dirs]
    if len(set(names)) < len(names):  # runs/a/latest, runs/b/latest: keep the parent
        names = [str(Path(*Path(d).parts[-2:])) for d in run_dirs]
    return names


def _read(path: Path, name: str) -> RunView:
    from ..training.events import read_jsonl
    from ..training.result import TrainResult

    rd = RunDir(path)
    if not path.is_dir():
        raise ConfigError(f"{path}: no such run directory.")
    result = TrainResult.load_optional(path)
    config = TrainConfig.load_optional(path) or (result.train_config if result else None)
    if result is None and config is None:
        raise ConfigError(
            f"{path}: holds no train_config.yaml or train_result.json; is it a run directory?"
        )
    history = result.history if result else read_jsonl(rd.metrics_jsonl)  # a run still training
    status = result.status if result else "running"
    return RunView(name, path, config, history, status, Comparison.load_optional(path))


def config_diff(runs: Sequence[RunView]) -> dict[str, list[Any]]:
    """field -> each run's value, for the fields where the runs differ (run_dir left out)."""
    dicts = [r.config.to_dict() if r.config else {} for r in runs]
    keys = [k for k in (dicts[0] if dicts else {}) if k not in HIDDEN_FIELDS]
    keys += sorted({k for d in dicts[1:] for k in d} - set(keys) - set(HIDDEN_FIELDS))
    return {k: [d.get(k) for d in dicts] for k in keys if len({repr(d.get(k)) for d in dicts}) > 1}


def _first_metric(runs: Sequence[RunView]) -> str | None:
    """The deciding metric (metrics.primary_metric) of the first compared run."""
    for r in runs:
        if r.comparison and r.comparison.summary:
            return primary_metric(r.comparison.summary)
    return None


def _best(runs: Sequence[RunView], metric: str | None) -> tuple[str | None, str]:
    scored = []
    for r in runs:
        s = r.comparison.summary.get(metric) if r.comparison and metric else None
        if s is not None and s.tuned_mean is not None:
            scored.append((s.tuned_mean, r.name, s.tuned_ci))
    if scored:
        top = max(mean for mean, _, _ in scored)
        tied = [name for mean, name, _ in scored if mean == top]  # in the order the runs were given
        if len(tied) > 1:  # a name is no reason to call one of them best
            return tied[0], (
                f"No single best run on {metric}: {', '.join(tied)} all score {top:.1%}; the "
                f"differences are measured from {tied[0]}, the first listed."
            )
        mean, name, ci = next(row for row in scored if row[0] == top)
        interval = f" (95% interval {ci[0]:.1%} to {ci[1]:.1%})" if ci else ""
        return name, f"Best run: {name}, {metric} {mean:.1%}{interval}."
    losses = [(r.final("eval_loss"), r.name) for r in runs if r.final("eval_loss") is not None]
    if losses:
        loss, name = min(losses)
        return name, f"Best run: {name}, lowest final eval loss {loss:.4f} (no comparison yet)."
    return None, "No run has a comparison or an eval loss yet."


def _differences(
    runs: Sequence[RunView], metric: str, best: str, *, n_boot: int
) -> list[Difference]:
    """The best run against each other run, paired over the prompts (row ids) both were scored on."""
    top = next(r for r in runs if r.name == best)
    out = []
    for other in runs:
        if other.name == best or other.comparison is None:
            continue
        d = paired_difference(top.comparison, other.comparison, metric, n_boot=n_boot)
        if d is not None:
            out.append(Difference(metric, best, other.name, *d))
    return out


def paired_difference(
    a: Comparison, b: Comparison, metric: str, *, n_boot: int = 1000
) -> tuple[int, float, tuple[float, float]] | None:
    """(n, mean of a - b, 95% bootstrap interval) over the prompts both scored; None when none."""
    import numpy as np

    scores_b = {r.row_id: r.tuned_scores.get(metric) for r in b.rows}
    pairs = [
        (r.tuned_scores.get(metric), scores_b.get(r.row_id)) for r in a.rows if r.row_id in scores_b
    ]
    pairs = [(x, y) for x, y in pairs if x is not None and y is not None]
    if not pairs:
        return None
    diff = np.array([x - y for x, y in pairs], dtype=float)
    ci = bootstrap_cis({"d": diff}, n_boot=n_boot)["d"]
    return len(diff), float(diff.mean()), ci


# -- figures and HTML ----------------------------------------------------------------------------


def runs_loss_figure(runs: Sequence[RunView], *, x: str = "step") -> Any:
    """Train loss (solid) and eval loss (dotted, markers) of every run against `x`, one colour a run."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative

    if x not in AXES:
        raise ConfigError(f"x must be one of {', '.join(AXES)}, got {x!r}.")
    fig = go.Figure()
    for i, r in enumerate(runs):
        colour = qualitative.Plotly[i % len(qualitative.Plotly)]
        for kind, key, dash in (("train", "loss", "solid"), ("eval", "eval_loss", "dot")):
            rows = [h for h in r.history if h.get("kind") == kind and key in h and x in h]
            fig.add_trace(
                go.Scatter(
                    x=[h[x] for h in rows],
                    y=[h[key] for h in rows],
                    name=f"{r.name} {kind}",
                    legendgroup=r.name,
                    mode="lines+markers" if kind == "eval" else "lines",
                    line={"color": colour, "dash": dash},
                )
            )
    fig.update_layout(
        title=f"Loss by {AXES[x]}",
        xaxis_title=AXES[x],
        yaxis_title="loss",
        template="plotly_white",
        height=380,
        legend={"orientation": "h", "y": -0.25},
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
    )
    return fig


def runs_fragment(c: RunsComparison, *, link_base: str | Path | None = None) -> str:
    """The tables: best run, config diff, metrics with intervals, differences, forgetting, links."""
    parts = [f"<div><b>{html.escape(c.best_reason)}</b></div>", _diff_table(c)]
    parts += [_metrics_table(c), _differences_table(c), _forgetting_table(c)]
    parts.append(_links(c, link_base))
    return "<div>" + "".join(p for p in parts if p) + "</div>"


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _diff_table(c: RunsComparison) -> str:
    if not c.config_diff:
        return "<p>The configs are the same (apart from run_dir).</p>"
    rows = [
        [html.escape(k)] + [html.escape(str(v)) for v in vals] for k, vals in c.config_diff.items()
    ]
    return "<h4>What the configs change</h4>" + _table(["field"] + [r.name for r in c.runs], rows)


def _pct(value: float | None, ci: tuple[float, float] | None = None, sign: str = "") -> str:
    if value is None:
        return "&ndash;"
    text = f"{value:{sign}.1%}"
    return text + (f" [{ci[0]:{sign}.1%}, {ci[1]:{sign}.1%}]" if ci else "")


def _metrics_table(c: RunsComparison) -> str:
    rows = [
        [
            html.escape(m["run"]),
            html.escape(m["metric"]),
            str(m["n"]),
            _pct(m["tuned"], m["tuned_ci"]),
            _pct(m["delta"], m["delta_ci"], "+"),
        ]
        for m in c.metric_rows()
    ]
    if not rows:
        return "<p>No run has a comparison yet (notebook 04).</p>"
    head = ["run", "metric", "prompts", "tuned (95% CI)", "tuned - base (95% CI)"]
    return "<h4>Comparison metrics</h4>" + _table(head, rows)


def _differences_table(c: RunsComparison) -> str:
    if not c.differences:
        return ""
    rows = [
        [
            html.escape(f"{d.run} - {d.against}"),
            str(d.n),
            _pct(d.delta, d.ci, "+"),
            "<b>yes</b>" if d.significant else "no",
        ]
        for d in c.differences
    ]
    head = ["runs", "prompts", f"{c.metric} difference (95% CI)", "significant"]
    return "<h4>Best run against the others (paired)</h4>" + _table(head, rows)


def _forgetting_table(c: RunsComparison) -> str:
    rows = []
    for f in c.forgetting_rows():
        base, tuned = f["perplexity"]
        ppl = f"{base:.2f} &rarr; {tuned:.2f}" if base and tuned else "&ndash;"
        flag = "<b style='color:#c33'>forgetting</b>" if f["flag"] else "ok"
        rows.append(
            [html.escape(f["run"]), flag, _pct(f["largest_drop"]), _pct(f["net_drop"]), ppl]
        )
    if not rows:
        return ""
    return "<h4>Forgetting probe</h4>" + _table(
        ["run", "verdict", "largest drop", "net drop (known + unknown)", "perplexity"], rows
    )


def _links(c: RunsComparison, link_base: str | Path | None) -> str:
    items = []
    for r in c.runs:
        page = r.comparison_page
        if page is not None:
            href = os.path.relpath(page.resolve(), Path(link_base or Path.cwd()).resolve())
            items.append(
                f"<li><a href='{html.escape(href)}' target='_blank'>{html.escape(r.name)}</a></li>"
            )
    return f"<h4>Each run's comparison page</h4><ul>{''.join(items)}</ul>" if items else ""


def write_runs_page(c: RunsComparison, path: str | Path) -> Path:
    """One self-contained page: the tables, then the three loss figures (plotly.js embedded once)."""
    from ..io import write_text_atomic
    from ..pages import standalone_page

    path = Path(path)
    figures = [
        fig.to_html(full_html=False, include_plotlyjs=(i == 0), div_id=f"fig-{name}")
        for i, (name, fig) in enumerate(c.figures().items())
    ]
    body = runs_fragment(c, link_base=path.parent) + "".join(figures)
    return write_text_atomic(path, standalone_page("Runs compared", body, heading=True))


__all__ = [
    "compare_runs",
    "find_runs",
    "RunsComparison",
    "RunView",
    "Difference",
    "TradeoffPoint",
    "runs_tradeoff",
    "write_runs_page",
]
