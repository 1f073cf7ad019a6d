"""How a lever trial looks: the table of arms (HTML) and its two figures (plotly), no widgets.

The same markup serves `_repr_html_` in notebook 02 and the saved `lever_trial.html`; the figures
go to `figures/lever_trial.html`.
"""

from __future__ import annotations

import html
from typing import Any

# the views take lever_trial.py's LeverTrial and Arm by their attributes: lever_trial.py imports
# this module to render itself, so this one must not import it back
LeverTrial = Arm = Any

CSS = """
.wb-lev{font-family:system-ui,sans-serif;font-size:13px;max-width:100%;overflow-x:auto}
.wb-lev table{border-collapse:collapse;margin:6px 0}
.wb-lev th,.wb-lev td{border:1px solid #ddd;padding:4px 6px;text-align:left}
.wb-lev th{background:#f4f4f4}.wb-lev td.n{text-align:right;font-variant-numeric:tabular-nums}
.wb-lev tr.best{background:#e3f4e3}
.wb-lev .verdict{padding:6px 10px;border-radius:4px;margin:6px 0;background:#eef3fb;border:1px solid #a8bfe0}
"""
LEVER_NAMES = {"prompt": "prompting", "rag": "retrieval", "finetune": "fine-tuning"}
COLOURS = {"prompt": "rgb(31,119,180)", "rag": "rgb(255,127,14)", "finetune": "rgb(44,160,44)"}


def _e(text: object) -> str:
    return html.escape(str(text))


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _ci(ci: list[float] | None) -> str:
    return "" if not ci else f" <small>[{ci[0]:.0%}, {ci[1]:.0%}]</small>"


def lever_trial_html(trial: LeverTrial) -> str:
    """The arms table (primary metric with its interval first), the verdict and its reasons."""
    metrics = [trial.metric] + [m for m in trial.arms[0].means if m != trial.metric]
    best = trial.best()
    priced = trial.hourly_price is not None
    head = "".join(f"<th>{_e(m)}</th>" for m in metrics)
    head += "<th>rows trained</th><th>train s</th><th>answer s</th><th>prompt tokens / request</th>"
    head += "<th>cost</th>" if priced else ""
    body = []
    for arm in trial.arms:
        cells = "".join(
            f"<td class='n'>{_pct(arm.mean(m))}{_ci(arm.intervals.get(m)) if m == trial.metric else ''}</td>"
            for m in metrics
        )
        cost = trial.cost(arm)
        cells += (
            f"<td class='n'>{arm.train_rows if arm.train_rows is not None else '-'}</td>"
            f"<td class='n'>{arm.train_s:.0f}</td><td class='n'>{arm.answer_s:.0f}</td>"
            f"<td class='n'>{arm.prompt_tokens:.0f}</td>"
            + (f"<td class='n'>{cost:.3f}</td>" if priced and cost is not None else "")
        )
        mark = " class='best'" if arm is best else ""
        body.append(
            f"<tr{mark}><td>{_e(arm.name)}</td><td>{LEVER_NAMES.get(arm.lever, arm.lever)}</td>{cells}</tr>"
        )
    reasons = "".join(f"<li>{_e(r)}</li>" for r in trial.reasons)
    return (
        f"<style>{CSS}</style><div class='wb-lev'>"
        f"<p><b>Lever trial</b> on <code>{_e(trial.dataset)}</code>: {len(trial.row_ids)} eval rows, "
        f"model <code>{_e(trial.model)}</code>, decided on <b>{_e(trial.metric)}</b> "
        f"(95% bootstrap intervals; margin {trial.margin:.0%}).</p>"
        f"<table><thead><tr><th>arm</th><th>lever</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        f"<div class='verdict'><b>Measured recommendation: {_e(LEVER_NAMES.get(trial.recommendation, trial.recommendation))}</b>"
        f"<ul>{reasons}</ul></div></div>"
    )


def lever_trial_figures(trial: LeverTrial) -> dict[str, Any]:
    """{"lever_arms": the primary metric per arm with intervals, "learning_curve": when fitted}."""
    figures = {"lever_arms": arms_figure(trial)}
    if trial.curve is not None:
        figures["learning_curve"] = curve_figure(trial)
    return figures


def arms_figure(trial: LeverTrial) -> Any:
    import plotly.graph_objects as go

    arms = [a for a in trial.arms if a.mean(trial.metric) is not None]
    fig = go.Figure()
    for lever in ("prompt", "rag", "finetune"):
        group = [a for a in arms if a.lever == lever]
        if not group:
            continue
        means = [a.mean(trial.metric) for a in group]
        cis = [a.intervals.get(trial.metric) or [m, m] for a, m in zip(group, means, strict=True)]
        fig.add_trace(
            go.Bar(
                x=[a.name for a in group],
                y=means,
                name=LEVER_NAMES[lever],
                marker_color=COLOURS[lever],
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [c[1] - m for c, m in zip(cis, means, strict=True)],
                    "arrayminus": [m - c[0] for c, m in zip(cis, means, strict=True)],
                },
                hovertext=[
                    f"{a.seconds:.0f} s, {a.prompt_tokens:.0f} prompt tokens" for a in group
                ],
            )
        )
    fig.update_layout(
        title=f"{trial.metric} per lever (95% bootstrap interval, {len(trial.row_ids)} rows)",
        yaxis_tickformat=".0%",
        yaxis_range=[0, 1.05],
        template="plotly_white",
        height=380,
        margin={"l": 60, "r": 30, "t": 50, "b": 60},
    )
    return fig


def curve_figure(trial: LeverTrial) -> Any:
    import plotly.graph_objects as go

    curve = trial.curve
    fig = go.Figure(go.Scatter(x=curve.rows, y=curve.scores, mode="markers+lines", name="measured"))
    if curve.slope is not None:
        top = 4 * max(curve.rows)
        xs = [min(curve.rows) * (top / min(curve.rows)) ** (i / 40) for i in range(41)]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=[curve.predict(x) for x in xs],
                mode="lines",
                line_dash="dot",
                name="power-law fit",
            )
        )
    fig.update_layout(
        title=f"Learning curve: {curve.metric} against training rows (fit extrapolated to 4x)",
        xaxis_type="log",
        xaxis_title="training rows",
        yaxis_tickformat=".0%",
        yaxis_range=[0, 1.05],
        template="plotly_white",
        height=360,
        margin={"l": 60, "r": 30, "t": 50, "b": 60},
    )
    return fig


__all__ = ["lever_trial_figures", "lever_trial_html"]
