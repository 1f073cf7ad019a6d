"""Static plotly figure builders: they work everywhere (JupyterLab, papermill output, HTML files).

plotly is imported inside each function so `import workbench` stays light.
"""

from __future__ import annotations

import math
from typing import Any

# -- training: loss curves (notebook 03) ---------------------------------------------------------


def smooth(values: list[float], weight: float = 0.6) -> list[float]:
    """Exponential moving average with bias correction (the TensorBoard-style smoothed line)."""
    out, avg = [], 0.0
    for i, v in enumerate(values, start=1):
        avg = weight * avg + (1 - weight) * v
        out.append(avg / (1 - weight**i) if weight else v)
    return out


def loss_figure(
    history: list[dict[str, Any]],
    *,
    title: str = "Training loss",
    smoothing: float = 0.6,
    max_points: int = 2000,
    max_steps: int | None = None,
) -> Any:
    """Train loss (raw + smoothed), eval loss, and learning rate on a second axis, against step."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for trace in loss_traces(history, smoothing=smoothing, max_points=max_points):
        fig.add_trace(go.Scatter(**trace))
    last = max((r.get("step", 0) for r in history), default=0)
    fig.update_layout(
        title=title,
        xaxis=step_axis(max(last, max_steps or 0)),
        yaxis={"title": "loss", "rangemode": "tozero"},
        template="plotly_white",
        height=380,
        yaxis2={
            "title": "learning rate",
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "zeroline": False,
            "rangemode": "tozero",  # one point would otherwise centre the axis on it, below 0
            "tickformat": ".1e",
        },
        showlegend=True,  # from the first (empty) frame, not only once two traces have data
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 60, "r": 70, "t": 50, "b": 40},
    )
    return fig


def step_axis(max_step: int) -> dict[str, Any]:
    """An x axis of whole steps from 0 to `max_step` (ticks never fall between two steps)."""
    top = max(int(max_step), 1)
    dtick = max(1, math.ceil(top / 10))
    return {"title": "step", "range": [0, top], "dtick": dtick, "tickformat": "d"}


def loss_traces(
    history: list[dict[str, Any]], *, smoothing: float = 0.6, max_points: int = 2000
) -> list[dict[str, Any]]:
    """The nine traces as plain dicts, in a fixed order (so a live widget can update them in place).

    Markers on every trace: a run's first log is a single point, which a line alone does not draw.
    The fifth, KL to base (TrainConfig.kl_to_base, nats per labelled token), and the last four,
    DPO's reward margin and preference accuracy on train and eval pairs (training/preference.py),
    stay out of the legend while a run logs none. They share the loss axis: a DPO loss starts at
    ln 2 = 0.69, the margin at 0 and the accuracy at about 0.5, so all three read on one scale.
    """
    train = [r for r in history if r.get("kind") == "train" and "loss" in r]
    evals = [r for r in history if r.get("kind") == "eval" and "eval_loss" in r]
    stride = max(1, len(train) // max_points)  # cap the payload of long runs
    train = train[::stride]
    steps, losses = [r["step"] for r in train], [r["loss"] for r in train]
    lrs = [r.get("learning_rate") for r in train]
    with_lr = [(s, lr) for s, lr in zip(steps, lrs, strict=True) if lr is not None]
    kl = [(r["step"], r["kl_to_base"]) for r in train if "kl_to_base" in r]
    return [
        *_base_traces(steps, losses, smoothing, evals, with_lr, kl),
        *_preference_traces(train, evals),
    ]


def _base_traces(steps, losses, smoothing, evals, with_lr, kl) -> list[dict[str, Any]]:
    return [
        {
            "x": steps,
            "y": losses,
            "name": "train loss",
            "mode": "lines+markers",
            "marker": {"size": 4},
            "line": {"color": "rgba(31,119,180,0.3)"},
        },
        {
            "x": steps,
            "y": smooth(losses, smoothing),
            "name": "train loss (smoothed)",
            "mode": "lines",
            "line": {"color": "rgb(31,119,180)", "width": 2},
        },
        {
            "x": [r["step"] for r in evals],
            "y": [r["eval_loss"] for r in evals],
            "name": "eval loss",
            "mode": "lines+markers",
            "marker": {"size": 7},
            "line": {"color": "rgb(214,39,40)", "width": 2},
        },
        {
            "x": [s for s, _ in with_lr],
            "y": [lr for _, lr in with_lr],
            "name": "learning rate",
            "mode": "lines+markers",
            "marker": {"size": 3},
            "yaxis": "y2",
            "line": {"color": "rgb(127,127,127)", "dash": "dot", "width": 1},
        },
        {
            "x": [step for step, _ in kl],
            "y": [value for _, value in kl],
            "name": "KL to base (per token)",
            "mode": "lines+markers",
            "marker": {"size": 4},
            "line": {"color": "rgb(148,103,189)", "width": 2},
            "showlegend": bool(kl),
        },
    ]


# DPO's metrics as the live plot draws them: (history key, name, colour, eval?)
_PREFERENCE = (
    ("reward_margin", "reward margin", "rgb(44,160,44)", False),
    ("eval_reward_margin", "eval reward margin", "rgb(44,160,44)", True),
    ("preference_accuracy", "preference accuracy", "rgb(255,127,14)", False),
    ("eval_preference_accuracy", "eval preference accuracy", "rgb(255,127,14)", True),
)


def _preference_traces(
    train: list[dict[str, Any]], evals: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    traces = []
    for key, name, colour, is_eval in _PREFERENCE:
        points = [(r["step"], r[key]) for r in (evals if is_eval else train) if key in r]
        line = {"color": colour, "width": 2} | ({} if is_eval else {"dash": "dash"})
        traces.append(
            {
                "x": [step for step, _ in points],
                "y": [value for _, value in points],
                "name": name,
                "mode": "lines+markers",
                "marker": {"size": 7 if is_eval else 4},
                "line": line,
                "showlegend": bool(points),
            }
        )
    return traces


# -- dataset inspection (notebook 01) ------------------------------------------------------------


def _report_dict(report: Any) -> dict[str, Any]:
    return report if isinstance(report, dict) else report.to_dict()


def token_length_figure(report: Any, *, bins: int = 60) -> Any:
    """Histogram of tokens per example (chat template applied) with the max_length cutoff line."""
    import plotly.graph_objects as go

    lengths = _report_dict(report).get("lengths")
    if not lengths:
        return _empty_figure("Token lengths (no model given: not measured)")
    cutoff = lengths["max_length"]
    fig = go.Figure(
        go.Histogram(
            x=lengths["per_example"], nbinsx=bins, name="examples", marker_color="rgb(31,119,180)"
        )
    )
    fig.add_vline(
        x=cutoff,
        line_dash="dash",
        line_color="rgb(214,39,40)",
        annotation_text=f"max_length {cutoff}: {lengths['share_truncated']:.1%} cut, "
        f"{lengths['share_answer_tokens_lost']:.1%} answer tokens lost",
    )
    fig.update_layout(
        title="Tokens per example",
        xaxis_title="tokens (chat template applied)",
        yaxis_title="examples",
        template="plotly_white",
        height=340,
        bargap=0.05,
        margin={"l": 60, "r": 30, "t": 50, "b": 40},
    )
    return fig


def duplicate_clusters_figure(report: Any, *, top: int = 30) -> Any:
    """The largest duplicate clusters (exact and near) as bars: rows per cluster."""
    import plotly.graph_objects as go

    clusters = _report_dict(report)["duplicates"]["clusters"]
    if not clusters:
        return _empty_figure("Duplicate clusters: none found")
    shown = sorted(clusters, key=lambda c: (-len(c["rows"]), c["rows"][0]))[:top]
    fig = go.Figure()
    for exact, colour in ((True, "rgb(214,39,40)"), (False, "rgb(255,127,14)")):
        group = [c for c in shown if c["exact"] == exact]
        fig.add_trace(
            go.Bar(
                x=[
                    f"rows {', '.join(map(str, c['rows'][:3]))}{'...' if len(c['rows']) > 3 else ''}"
                    for c in group
                ],
                y=[len(c["rows"]) for c in group],
                marker_color=colour,
                name="exact copies" if exact else "near copies",
                hovertext=[f"similarity {c['similarity']}" for c in group],
            )
        )
    fig.update_layout(
        title=f"Duplicate clusters ({len(clusters)}; largest {len(shown)} shown)",
        yaxis_title="rows in cluster",
        template="plotly_white",
        height=340,
        margin={"l": 60, "r": 30, "t": 50, "b": 80},
    )
    return fig


def pii_counts_figure(report: Any) -> Any:
    """Personal-data matches per kind."""
    import plotly.graph_objects as go

    counts = _report_dict(report)["pii"]["counts"]
    fig = go.Figure(
        go.Bar(
            x=list(counts),
            y=list(counts.values()),
            marker_color="rgb(148,103,189)",
            text=list(counts.values()),
            textposition="outside",
        )
    )
    total = sum(counts.values())
    fig.update_layout(
        title=f"Personal data found: {total} match(es)",
        yaxis_title="matches",
        template="plotly_white",
        height=320,
        margin={"l": 60, "r": 30, "t": 50, "b": 40},
    )
    return fig


def inspect_figures(report: Any) -> dict[str, Any]:
    """The three inspection figures by file stem: token_lengths, duplicates, pii."""
    d = _report_dict(report)
    return {
        "token_lengths": token_length_figure(d),
        "duplicates": duplicate_clusters_figure(d),
        "pii": pii_counts_figure(d),
    }


def _empty_figure(title: str) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.update_layout(
        title=title,
        template="plotly_white",
        height=200,
        xaxis={"visible": False},
        yaxis={"visible": False},
    )
    return fig


def write_figures_html(figures: dict[str, Any], path: Any, *, title: str = "Figures") -> Any:
    """One self-contained HTML page holding several figures, plotly.js embedded once (works offline)."""
    from .io import write_text_atomic
    from .pages import standalone_page

    parts = [
        fig.to_html(full_html=False, include_plotlyjs=(i == 0), div_id=f"fig-{name}")
        for i, (name, fig) in enumerate(figures.items())
    ]
    return write_text_atomic(path, standalone_page(title, "".join(parts), heading=True))


# -- base vs tuned (notebook 04) -----------------------------------------------------------------


def _comparison_dict(comparison: Any) -> dict[str, Any]:
    return comparison if isinstance(comparison, dict) else comparison.to_dict()


def _summary_groups(c: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    groups = [(f"task ({c['dataset']})", c["summary"])]
    if c.get("forgetting"):
        groups.append((f"probe ({c['forgetting']['dataset']})", c["forgetting"]["summary"]))
    return groups


def comparison_delta_figure(comparison: Any) -> Any:
    """Tuned minus base per metric, with 95% paired bootstrap intervals; task and probe side by side."""
    import plotly.graph_objects as go

    c = _comparison_dict(comparison)
    fig = go.Figure()
    for (label, summary), colour in zip(
        _summary_groups(c), ("rgb(31,119,180)", "rgb(255,127,14)"), strict=False
    ):
        rows = [s for s in summary.values() if s["delta"] is not None]
        fig.add_trace(
            go.Bar(
                x=[s["name"] for s in rows],
                y=[s["delta"] for s in rows],
                name=label,
                marker_color=colour,
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [s["delta_ci"][1] - s["delta"] for s in rows],
                    "arrayminus": [s["delta"] - s["delta_ci"][0] for s in rows],
                },
                hovertext=[
                    f"base {s['base_mean']:.1%} -> tuned {s['tuned_mean']:.1%}; "
                    f"wins {s['wins']}, losses {s['losses']}, ties {s['ties']}"
                    for s in rows
                ],
            )
        )
    margin = (c.get("forgetting") or {}).get("margin")
    if margin:
        fig.add_hline(
            y=-margin,
            line_dash="dot",
            line_color="rgb(214,39,40)",
            annotation_text=f"forgetting margin -{margin:.0%}",
        )
    fig.add_hline(y=0, line_color="black", line_width=1)
    fig.update_layout(
        title="Tuned minus base, per metric (95% bootstrap interval)",
        yaxis_title="difference",
        yaxis_tickformat="+.0%",
        template="plotly_white",
        height=380,
        barmode="group",
        margin={"l": 60, "r": 30, "t": 50, "b": 60},
    )
    return fig


def comparison_scores_figure(comparison: Any) -> Any:
    """Mean score of base and tuned per metric (task metrics, then probe metrics)."""
    import plotly.graph_objects as go

    c = _comparison_dict(comparison)
    names, base, tuned = [], [], []
    for label, summary in _summary_groups(c):
        for s in summary.values():
            if s["base_mean"] is not None:
                names.append(f"{s['name']}<br><sub>{label.split(' ')[0]}</sub>")
                base.append(s["base_mean"])
                tuned.append(s["tuned_mean"])
    fig = go.Figure(
        [
            go.Bar(x=names, y=base, name="base", marker_color="rgb(160,160,160)"),
            go.Bar(x=names, y=tuned, name="tuned", marker_color="rgb(44,160,44)"),
        ]
    )
    fig.update_layout(
        title="Base vs tuned: mean score per metric",
        yaxis_tickformat=".0%",
        yaxis_range=[0, 1.05],
        template="plotly_white",
        height=380,
        barmode="group",
        margin={"l": 60, "r": 30, "t": 50, "b": 60},
    )
    return fig


def comparison_figures(comparison: Any) -> dict[str, Any]:
    """The notebook 04 figures by file stem: comparison_scores, comparison_deltas."""
    c = _comparison_dict(comparison)
    return {
        "comparison_scores": comparison_scores_figure(c),
        "comparison_deltas": comparison_delta_figure(c),
    }


# -- memory by component (notebook 02) -----------------------------------------------------------

MEMORY_COLOURS = {
    "weights": "#4c72b0",
    "gradients": "#dd8452",
    "optimizer": "#c44e52",
    "adapters": "#55a868",
    "activations": "#8172b3",
    "logits": "#937860",
    "overhead": "#8c8c8c",
}


def tradeoff_figure(points: list[Any], *, title: str | None = None) -> Any:
    """Task score (y) against forgetting (x: the largest probe drop), one marker per run.

    Up and to the left is better: more task score, less general skill lost. Points take
    TradeoffPoint-like objects (comparison/runs.py); the dotted line is the forgetting margin.
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    for flagged, colour, label in (
        (False, "rgb(44,160,44)", "ok"),
        (True, "rgb(214,39,40)", "forgetting"),
    ):
        group = [p for p in points if bool(p.flag) == flagged]
        fig.add_trace(
            go.Scatter(
                x=[p.forgetting for p in group],
                y=[p.task for p in group],
                text=[p.run for p in group],
                customdata=[_settings_text(p.settings) for p in group],
                error_y=_error_bars(group),
                mode="markers+text",
                textposition="top center",
                marker={"size": 11, "color": colour},
                name=label,
                hovertemplate="%{text}<br>task %{y:.1%}<br>forgetting %{x:.1%}<br>%{customdata}"
                "<extra></extra>",
            )
        )
    margins = {round(p.margin, 6) for p in points}
    for margin in margins:
        fig.add_vline(x=margin, line={"dash": "dot", "color": "grey"})
    metric = points[0].metric if points else "task metric"
    fig.update_layout(
        title=title or f"Task score vs forgetting, {len(points)} runs",
        xaxis={"title": "forgetting: largest probe drop (base - tuned)", "tickformat": ".0%"},
        yaxis={"title": f"{metric} (tuned)", "tickformat": ".0%"},
        template="plotly_white",
        height=420,
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
    )
    return fig


def _settings_text(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items() if v not in (None, 0, 0.0, -1))


def _error_bars(points: list[Any]) -> dict[str, Any] | None:
    if not points or any(p.task_ci is None for p in points):
        return None
    return {
        "type": "data",
        "symmetric": False,
        "array": [p.task_ci[1] - p.task for p in points],
        "arrayminus": [p.task - p.task_ci[0] for p in points],
    }


def memory_figure(estimates: list[Any], *, title: str | None = None) -> Any:
    """Stacked bar of memory by component (GB), one bar per estimate, with the hardware's limit as a line."""
    import plotly.graph_objects as go

    rows = [e.to_dict() if hasattr(e, "to_dict") else e for e in estimates]
    names = [r["technique"] for r in rows]
    fig = go.Figure()
    for part, colour in MEMORY_COLOURS.items():
        fig.add_trace(
            go.Bar(
                name=part,
                x=names,
                y=[r["breakdown"].get(part, 0) / 1e9 for r in rows],
                marker_color=colour,
                hovertemplate=f"{part}: %{{y:.2f}} GB<extra></extra>",
            )
        )
    limits = sorted({r["memory_bytes"] for r in rows})
    for limit in limits:
        hw = next(r["hardware"] for r in rows if r["memory_bytes"] == limit)
        fig.add_hline(
            y=limit / 1e9,
            line_dash="dash",
            line_color="#c62828",
            annotation_text=f"{hw}: {limit / 1e9:.0f} GB",
            annotation_position="top left",
        )
    peak = max([r["peak_bytes"] for r in rows] + limits) / 1e9
    model = rows[0]["model"] if rows else ""
    fig.update_layout(
        barmode="stack",
        template="plotly_white",
        height=420,
        yaxis_title="GB",
        yaxis_range=[0, peak * 1.12],
        title=title or f"Peak training memory by component: {model}",
        legend={"orientation": "h", "y": -0.15},
        margin={"l": 60, "r": 30, "t": 50, "b": 40},
    )
    return fig
