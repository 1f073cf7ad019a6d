"""Static HTML for a ClassificationComparison: scores with intervals, the lead, confusion matrices, changed rows.

Plain tables (no widgets, no script, no network): the same markup serves `_repr_html_` in
notebook 04 and the saved classification.html. A confusion matrix is a table whose cells are
shaded by their share of the true class's row, so the diagonal reads as the hits.
"""

from __future__ import annotations

import html
from typing import Any

from .html import BOX, CSS
from .label_metrics import METRICS, TITLES, points

ClassificationComparison = LabelArm = Any  # classification.py imports this module to render itself

EXTRA_CSS = """
.wb-cmp table.wb-confusion td{text-align:right;min-width:2.5em}
.wb-cmp table.wb-confusion td.hit{font-weight:600}
.wb-cmp .wb-matrices{display:flex;flex-wrap:wrap;gap:18px}
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def _ci(interval: list[float]) -> str:
    return f"[{interval[0]:.1%}, {interval[1]:.1%}]"


def classification_fragment(c: ClassificationComparison, *, max_changed: int = 10) -> str:
    parts = [f"<style>{CSS}{EXTRA_CSS}</style><div class='{BOX}'>"]
    parts.append(
        f"<h4>{_e(c.dataset)}: {len(c.truth)} held-out texts, {len(c.label_names)} labels</h4>"
    )
    parts.append(_scores_table(c))
    parts.append(_lead_box(c))
    parts.append("<h4>Confusion matrices (rows: true label, columns: predicted)</h4>")
    best = c.arm(c.best_prompt)
    shown = [c.tuned] + ([best] if best is not c.tuned else [])
    parts.append(
        "<div class='wb-matrices'>"
        + "".join(_confusion(arm, c.label_names) for arm in shown)
        + "</div>"
    )
    parts.append(_per_class(c))
    parts.append(_changed(c, "Wrong -> right", c.wrong_to_right, best, max_changed))
    parts.append(_changed(c, "Right -> wrong", c.right_to_wrong, best, max_changed))
    parts += [f"<p><i>{_e(note)}</i></p>" for note in c.notes]
    return "".join(parts) + "</div>"


def _scores_table(c: ClassificationComparison) -> str:
    head = "".join(f"<th>{_e(TITLES[m])} (95% CI)</th>" for m in METRICS)
    rows = []
    for arm in c.arms:
        cells = "".join(f"<td>{arm.scores[m]:.1%} {_ci(arm.intervals[m])}</td>" for m in METRICS)
        rows.append(f"<tr><td>{_e(arm.name)}</td>{cells}<td>{arm.seconds:.0f}</td></tr>")
    return (
        f"<table class='wb-scores'><tr><th>arm</th>{head}<th>seconds</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _lead_box(c: ClassificationComparison) -> str:
    lead = c.lead["macro_f1"]
    lo, hi = lead["interval"]
    won = c.beats_prompting("macro_f1")
    verdict = (
        "the tuned head is better (the interval excludes zero)"
        if won
        else "not clearly better than prompting: the interval reaches zero or below"
    )
    return (
        f"<div class='flag {'ok' if won else 'bad'}'>Tuned head vs {_e(c.best_prompt)}: macro-F1 "
        f"{points(lead['delta'])} [{points(lo)}, {points(hi)}], paired on the same rows: {verdict}.</div>"
    )


def _confusion(arm: LabelArm, names: list[str]) -> str:
    head = "".join(f"<th title='{_e(n)}'>{_e(_short(n))}</th>" for n in names)
    rows = []
    for t, counts in enumerate(arm.confusion):
        total = max(sum(counts), 1)
        cells = []
        for p, count in enumerate(counts):
            alpha = count / total
            colour = "46,160,67" if t == p else "214,39,40"
            style = f"background:rgba({colour},{alpha:.2f})" if count else ""
            hit = " class='hit'" if t == p else ""
            cells.append(f"<td{hit} style='{style}'>{count}</td>")
        rows.append(f"<tr><th>{_e(names[t])}</th>{''.join(cells)}</tr>")
    return (
        f"<div><b>{_e(arm.name)}</b><table class='wb-confusion' data-arm='{_e(arm.name)}'>"
        f"<tr><th></th>{head}</tr>{''.join(rows)}</table></div>"
    )


def _short(name: str, width: int = 10) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def _per_class(c: ClassificationComparison) -> str:
    support = [sum(row) for row in c.tuned.confusion]
    head = "".join(f"<th>{_e(a.name)}</th>" for a in c.arms)
    rows = []
    for i, name in enumerate(c.label_names):
        cells = "".join(f"<td>{a.f1_per_class[i]:.2f}</td>" for a in c.arms)
        rows.append(f"<tr><td>{_e(name)}</td><td>{support[i]}</td>{cells}</tr>")
    return (
        "<h4>F1 per label</h4><table class='wb-per-class'><tr><th>label</th><th>rows</th>"
        f"{head}</tr>{''.join(rows)}</table>"
    )


def _changed(
    c: ClassificationComparison, title: str, rows: list[int], best: LabelArm, limit: int
) -> str:
    if not rows:
        return f"<h4>{title} ({_e(best.name)} -> tuned): none</h4>"
    names = c.label_names
    body = "".join(
        f"<tr><td class='txt'>{_e(c.texts[i])}</td><td>{_e(names[c.truth[i]])}</td>"
        f"<td>{_e(names[best.predictions[i]])}</td><td>{_e(names[c.tuned.predictions[i]])}</td></tr>"
        for i in rows[:limit]
    )
    more = f"<p>{len(rows) - limit} more in classification.json.</p>" if len(rows) > limit else ""
    return (
        f"<h4>{title} ({_e(best.name)} -> tuned): {len(rows)}</h4><table class='wb-rows'>"
        f"<tr><th>text</th><th>true</th><th>{_e(best.name)}</th><th>tuned</th></tr>{body}</table>{more}"
    )


def classification_page(c: ClassificationComparison) -> str:
    from ..pages import standalone_page

    return standalone_page(
        "Tuned classifier vs prompting", classification_fragment(c, max_changed=50)
    )
