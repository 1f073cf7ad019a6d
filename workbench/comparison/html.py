"""Static HTML for a Comparison: summary table, forgetting verdict, side-by-side answers with differences marked.

No widgets and no network: the same markup serves `_repr_html_` in a notebook, the saved
`comparison.html` page (which adds a few lines of inline script to sort and filter the table) and
the interactive view in `workbench/ui/compare.py`.
"""

from __future__ import annotations

import difflib
import html
from typing import Any

from .stats import MetricSummary

# The views take comparison.py's Comparison, Row and Forgetting by their attributes (typed Any
# here): comparison.py imports this module to render itself, so this one must not import it back.
Comparison = Forgetting = Row = Any

CSS = """
.wb-cmp{font-family:system-ui,sans-serif;font-size:13px;max-width:100%;overflow-x:auto}
.wb-cmp table{border-collapse:collapse;margin:6px 0}
.wb-cmp table.wb-rows{width:100%}
.wb-cmp th,.wb-cmp td{border:1px solid #ddd;padding:4px 6px;vertical-align:top;text-align:left;overflow-wrap:anywhere}
.wb-cmp th{background:#f4f4f4;cursor:pointer}
.wb-cmp td.txt{white-space:pre-wrap;max-width:28em;font-family:ui-monospace,monospace;font-size:12px}
.wb-cmp .up{background:#dff3df}.wb-cmp .down{background:#f8dede}
.wb-cmp ins{background:#c8efc8;text-decoration:none}.wb-cmp del{background:#f4c7c7}
.wb-cmp .flag{padding:6px 10px;border-radius:4px;margin:6px 0}
.wb-cmp .bad{background:#fde2e2;border:1px solid #e0a0a0}.wb-cmp .ok{background:#e3f4e3;border:1px solid #a0d0a0}
"""

# "US$ 12 ... US$ 30" in an answer is text, not a formula: keep MathJax (JupyterLab) out of it
BOX = "wb-cmp tex2jax_ignore mathjax_ignore"

SCRIPT = """
<script>
document.querySelectorAll('table.wb-rows').forEach(function(t){
  t.querySelectorAll('th').forEach(function(th,i){th.onclick=function(){
    var rows=Array.from(t.tBodies[0].rows),asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';
    rows.sort(function(a,b){var x=a.cells[i].dataset.v||a.cells[i].innerText,y=b.cells[i].dataset.v||b.cells[i].innerText;
      var nx=parseFloat(x),ny=parseFloat(y);var c=(isNaN(nx)||isNaN(ny))?x.localeCompare(y):nx-ny;return asc?c:-c;});
    rows.forEach(function(r){t.tBodies[0].appendChild(r);});};});
});
document.querySelectorAll('input.wb-filter').forEach(function(box){box.oninput=function(){
  var q=box.value.toLowerCase(),t=document.getElementById(box.dataset.table);
  Array.from(t.tBodies[0].rows).forEach(function(r){r.style.display=r.innerText.toLowerCase().includes(q)?'':'none';});};});
</script>
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _ci(ci: tuple[float, float] | None) -> str:
    return "" if ci is None else f" <small>[{ci[0]:.1%}, {ci[1]:.1%}]</small>"


def summary_table(summary: dict[str, MetricSummary]) -> str:
    """Metric, base and tuned means with 95% bootstrap intervals, the paired difference, wins/losses/ties."""
    head = "<tr><th>metric</th><th>n</th><th>base</th><th>tuned</th><th>tuned - base</th><th>wins / losses / ties</th></tr>"
    body = []
    for s in summary.values():
        cls = "" if not s.delta else ("up" if s.delta > 0 else "down")
        body.append(
            f"<tr><td>{_e(s.name)}</td><td>{s.n}</td><td>{_pct(s.base_mean)}{_ci(s.base_ci)}</td>"
            f"<td>{_pct(s.tuned_mean)}{_ci(s.tuned_ci)}</td>"
            f"<td class='{cls}'>{'n/a' if s.delta is None else f'{s.delta:+.1%}'}{_ci(s.delta_ci)}</td>"
            f"<td>{s.wins} / {s.losses} / {s.ties}</td></tr>"
        )
    return f"<table><thead>{head}</thead><tbody>{''.join(body)}</tbody></table>"


def word_diff(base: str, tuned: str) -> tuple[str, str]:
    """Both answers as HTML, words only in base wrapped in <del>, words only in tuned in <ins>."""
    a, b = base.split(" "), tuned.split(" ")
    left, right = [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        old, new = _e(" ".join(a[i1:i2])), _e(" ".join(b[j1:j2]))
        if op == "equal":
            left.append(old)
            right.append(new)
            continue
        if old:
            left.append(f"<del>{old}</del>")
        if new:
            right.append(f"<ins>{new}</ins>")
    return " ".join(left), " ".join(right)


def rows_table(rows: list[Row], metrics: list[str], *, table_id: str = "wb-rows") -> str:
    """One line per prompt: prompt, reference, base and tuned answers (differences marked), scores."""
    cols = "".join(f"<th>{_e(m)}<br><small>base &rarr; tuned</small></th>" for m in metrics)
    head = f"<tr><th>#</th><th>prompt</th><th>reference</th><th>base</th><th>tuned</th>{cols}</tr>"
    body = [_row_html(r, metrics) for r in rows]
    return f"<table class='wb-rows' id='{_e(table_id)}'><thead>{head}</thead><tbody>{''.join(body)}</tbody></table>"


def _row_html(row: Row, metrics: list[str]) -> str:
    base, tuned = word_diff(row.base, row.tuned)
    cells = [
        f"<td data-v='{row.row_id}'>{row.row_id}</td>",
        f"<td class='txt'>{_e(row.question)}</td>",
        f"<td class='txt'>{_e(row.reference)}</td>",
        f"<td class='txt'>{base}</td>",
        f"<td class='txt'>{tuned}</td>",
    ]
    for m in metrics:
        b, t, d = row.base_scores.get(m), row.tuned_scores.get(m), row.delta(m)
        cls = "" if not d else ("up" if d > 0 else "down")
        text = f"{_score(b)} &rarr; {_score(t)}"
        cells.append(f"<td class='{cls}' data-v='{'' if d is None else d}'>{text}</td>")
    return f"<tr>{''.join(cells)}</tr>"


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def forgetting_section(f: Forgetting) -> str:
    if f.flag:
        verdict = (
            "<div class='flag bad'><b>Forgetting flagged.</b> "
            + "; ".join(_e(r) for r in f.reasons)
            + "</div>"
        )
    else:
        verdict = (
            f"<div class='flag ok'><b>No forgetting beyond the margins</b> (metric drop &le; {f.margin:.0%}, "
            f"perplexity rise &le; {f.perplexity_margin:.0%}).</div>"
        )
    ppl = f.perplexity
    ppl_line = (
        f"<p>Perplexity on the probe's reference answers: base {_num(ppl.get('base'))}, "
        f"tuned {_num(ppl.get('tuned'))} (lower is better).</p>"
    )
    flips = f.flips_line()
    net_line = (
        ""
        if flips is None
        else (
            f"<p>Known and unknown questions: {_e(flips)}. The probe above keeps only questions "
            "the base answered right, so a changed answer there can only be a loss; the score "
            "over both sets is the change of general accuracy.</p>"
        )
    )
    return f"<h4>Forgetting probe: {_e(f.dataset)} ({len(f.rows)} prompts)</h4>{verdict}{summary_table(f.summary)}{ppl_line}{net_line}"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _header(c: Comparison) -> str:
    g = c.generation
    mode = (
        "greedy"
        if not g.get("do_sample")
        else f"sampling (T={g['temperature']}, top_p={g['top_p']})"
    )
    if g.get("constrain"):
        mode += ", both models decoded against the task's JSON schema (valid by construction unless cut off: read the field scores)"
    models = c.models
    return (
        f"<h3>Base vs tuned on {_e(c.dataset)} ({len(c.rows)} prompts)</h3>"
        f"<p>Model {_e(models.get('model'))}, technique {_e(models.get('technique', 'n/a'))}; base answers from "
        f"{_e(models.get('base_path'))}. Generation: {mode}, at most {g['max_new_tokens']} new tokens. "
        f"Intervals are 95% paired bootstrap intervals of the mean.</p>"
    )


def template_section(groups: dict) -> str:
    """The task metrics on eval rows whose template the training data holds, and on the rest."""
    parts = [
        "<h4>Generalisation: seen and unseen templates</h4><p>An eval row is <i>in-template</i> "
        "when its prompt, with names, numbers, codes and dates masked, has the shape of a training "
        "row. A score there can be a memorised template; the out-of-template score says whether "
        "the model generalises (train with <code>split='by_template'</code> to hold out whole "
        "templates).</p>"
    ]
    if len(groups) == 1:  # one side only: the summary table above is already its score
        group = next(iter(groups))
        n = next(iter(groups[group].values())).n if groups[group] else 0
        meaning = (
            "no eval row has the shape of a training row: the scores above measure generalisation"
            if group == "out_of_template"
            else "every eval row has the shape of a training row: the scores above can be "
            "memorised templates"
        )
        parts.append(f"<p><b>All {n} eval rows are {group.replace('_', '-')}</b>: {meaning}.</p>")
        return "".join(parts)
    for group, summary in groups.items():
        n = next(iter(summary.values())).n if summary else 0
        label = "In-template" if group == "in_template" else "Out-of-template"
        parts.append(f"<h5>{label} rows ({n})</h5>{summary_table(summary)}")
    return "".join(parts)


def schema_failures_section(failures: dict, n: int) -> str:
    """Which rule of the task's schema the answers break, and how often, base beside tuned."""
    return _breakdown(
        "Why answers fail the schema",
        f"Answers (of {n}) breaking each rule of the task's JSON Schema; list positions folded to "
        "<code>[]</code>. An answer can break several.",
        "field: rule",
        failures,
    )


def field_misses_section(misses: dict, n: int) -> str:
    """Which fields of the reference the answers get wrong or leave out, base beside tuned."""
    return _breakdown(
        "Which fields the answers miss",
        f"Answers (of {n}) that get each field of their reference wrong or leave it out; "
        "<code>items: 1 element fewer</code> counts answers whose list is shorter than the "
        "reference's (a multi-item order answered with its first item). An answer can miss several.",
        "field: miss",
        misses,
    )


def _breakdown(title: str, intro: str, header: str, counts: dict) -> str:
    base, tuned = counts.get("base", {}), counts.get("tuned", {})
    labels = list(tuned) + [label for label in base if label not in tuned]
    body = "".join(
        f"<tr><td><code>{html.escape(label)}</code></td><td>{base.get(label, 0)}</td>"
        f"<td>{tuned.get(label, 0)}</td></tr>"
        for label in labels
    )
    return (
        f"<h4>{title}</h4><p>{intro}</p>"
        f"<table><tr><th>{header}</th><th>base</th><th>tuned</th></tr>{body}</table>"
    )


def comparison_fragment(c: Comparison, *, max_rows: int = 50, table_id: str = "wb-rows") -> str:
    """Everything as one <div> (notebook display); at most `max_rows` prompt rows."""
    parts = [f"<style>{CSS}</style><div class='{BOX}'>", _header(c), summary_table(c.summary)]
    if c.schema_failures and any(c.schema_failures.values()):
        parts.append(schema_failures_section(c.schema_failures, len(c.rows)))
    if c.field_misses and any(c.field_misses.values()):
        parts.append(field_misses_section(c.field_misses, len(c.rows)))
    if c.by_template:
        parts.append(template_section(c.by_template))
    if c.forgetting is not None:
        parts.append(forgetting_section(c.forgetting))
    shown = c.rows[:max_rows]
    more = f" (first {len(shown)} of {len(c.rows)})" if len(shown) < len(c.rows) else ""
    parts.append(f"<h4>Per prompt{more}</h4>")
    parts.append(rows_table(shown, c.metric_names, table_id=table_id))
    parts.append("</div>")
    return "".join(parts)


def comparison_page(c: Comparison) -> str:
    """A standalone page with every row, a filter box and click-to-sort columns."""
    body = comparison_fragment(c, max_rows=len(c.rows))
    box = "<input class='wb-filter' data-table='wb-rows' placeholder='filter rows' style='margin:6px 0;width:20em'>"
    body = body.replace("<h4>Per prompt</h4>", f"<h4>Per prompt</h4>{box}", 1)
    from ..pages import standalone_page

    constrained = c.generation.get("constrain")
    title = "Base vs tuned, decoded against the schema" if constrained else "Base vs tuned"
    return standalone_page(title, body + SCRIPT)
