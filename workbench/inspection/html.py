"""HTML views of a dataset report and of one rendered example with its loss mask (no JS, no deps)."""

from __future__ import annotations

import html
from typing import Any

SEVERITY_COLOURS = {"error": "#b00020", "warning": "#a15c00", "info": "#3060a0"}
MAX_FINDING_ROWS = 200  # a page, not a dump: the JSON holds them all

STYLE = """<style>
.wb-report table{border-collapse:collapse;margin:4px 0 10px 0;font-size:13px}
.wb-report td,.wb-report th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}
.wb-mask{white-space:pre-wrap;font-family:monospace;font-size:12px;border:1px solid #ddd;padding:6px;line-height:1.5}
.wb-mask .t{background:#c8f0c8;border-bottom:2px solid #2a8a2a}
.wb-mask .c{color:#777}
</style>"""


def esc(value: Any) -> str:
    return html.escape(str(value))


def table(rows: list[tuple[Any, Any]]) -> str:
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(_plain(v))}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _plain(value: Any) -> str:
    """A value as a person reads it: dicts as "key value · key value"."""
    if isinstance(value, dict):
        return " · ".join(f"{k} {_plain(v)}" for k, v in value.items())
    return str(value)


def kinds_table(report) -> str:
    """Findings per kind, worst severity first."""
    rank = {s: i for i, s in enumerate(SEVERITY_COLOURS)}
    sev = {}
    for f in report.findings:
        sev[f.kind] = min(sev.get(f.kind, f.severity), f.severity, key=rank.__getitem__)
    rows = sorted(report.kind_counts().items(), key=lambda kv: (rank[sev[kv[0]]], kv[0]))
    body = "".join(
        f'<tr><td style="color:{SEVERITY_COLOURS[sev[k]]}">{esc(sev[k])}</td><th>{esc(k)}</th>'
        f"<td>{n}</td></tr>"
        for k, n in rows
    )
    return f"<table><tr><th>severity</th><th>kind</th><th>findings</th></tr>{body}</table>"


def mask_html(segments: list[tuple[str, bool]], *, truncated: bool = False) -> str:
    """The rendered template with trained tokens highlighted green; context tokens grey."""
    parts = [
        f'<span class="{"t" if trained else "c"}">{esc(text)}</span>' for text, trained in segments
    ]
    cut = '<div style="color:#b00020">... cut here at max_length</div>' if truncated else ""
    legend = (
        '<div style="font-size:12px"><span class="t">green, underlined</span> = trained on (loss); '
        "grey = context only</div>"
    )
    return f'<div class="wb-report">{STYLE}{legend}<div class="wb-mask">{"".join(parts)}</div>{cut}</div>'


def findings_table(findings: list, *, limit: int = MAX_FINDING_ROWS) -> str:
    if not findings:
        return "<p>No findings.</p>"
    head = "<tr><th>row</th><th>severity</th><th>kind</th><th>field</th><th>message</th></tr>"
    body = "".join(
        f"<tr><td>{esc(f.row)}</td>"
        f'<td style="color:{SEVERITY_COLOURS.get(f.severity, "#000")}">{esc(f.severity)}</td>'
        f"<td>{esc(f.kind)}</td><td>{esc(f.field or '')}</td><td>{esc(f.message)}</td></tr>"
        for f in findings[:limit]
    )
    more = (
        f"<p>... and {len(findings) - limit} more (see report.json).</p>"
        if len(findings) > limit
        else ""
    )
    return f"<table>{head}{body}</table>{more}"


def report_html(report) -> str:
    """The whole report as one HTML fragment (also the body of report.html)."""
    d = report
    src = d.provenance.get("sample") or d.provenance.get("source")
    by_sev = d.severity_counts()
    verdict = (
        f'<b style="color:{SEVERITY_COLOURS["error"]}">{by_sev["error"]} error finding(s)</b>'
        if by_sev["error"]
        else "<b>no error findings</b>"
    )
    parts = [
        f'<div class="wb-report">{STYLE}<h3>Dataset report: {esc(src)}</h3>',
        f"<p>{verdict}, {by_sev['warning']} warning(s), {by_sev['info']} info. "
        f"Format {esc(d.format)}, {d.counts['rows']} rows, model {esc(d.model or 'none')}.</p>",
        "<h4>Findings by kind</h4>",
        kinds_table(d) if d.findings else "<p>none</p>",
        "<h4>Counts</h4>",
        table([(k, v) for k, v in d.counts.items()]),
    ]
    if d.labels:
        parts += labels_html(d.labels)
    if d.lengths:
        lg = d.lengths
        parts += [
            "<h4>Token lengths (chat template applied)</h4>",
            table(
                [
                    ("max_length", lg["max_length"]),
                    ("tokens", lg["tokens"]),
                    ("rows truncated", f"{lg['truncated_rows']} ({lg['share_truncated']:.1%})"),
                    (
                        "answer tokens lost",
                        f"{lg['answer_tokens_lost']} of {lg['answer_tokens']} "
                        f"({lg['share_answer_tokens_lost']:.1%})",
                    ),
                ]
            ),
        ]
    parts += [
        "<h4>Personal data</h4>",
        table([(k, v) for k, v in d.pii["counts"].items()]),
        f"<p>Not detected offline: {esc(d.pii['not_detected'])}.</p>",
    ]
    dup = d.duplicates
    parts += [
        "<h4>Duplicates</h4>",
        table(
            [
                ("exact clusters", dup["exact_clusters"]),
                ("near clusters", dup["near_clusters"]),
                ("rows duplicated", dup["rows_duplicated"]),
                (
                    "template-sibling clusters (differ only in numbers/IDs; kept)",
                    dup.get("sibling_clusters", 0),
                ),
                ("near threshold (Jaccard)", dup["threshold"]),
            ]
        ),
    ]
    if d.diversity:
        parts += diversity_html(d.diversity)
    if d.leakage:
        parts += ["<h4>Train/eval leakage</h4>", table(list(d.leakage.items()))]
    if d.preview:
        p = d.preview
        parts += [
            f"<h4>Chat template and loss mask (row {esc(p['row'])})</h4>",
            mask_html([tuple(s) for s in p["segments"]], truncated=p["truncated"]),
        ]
    parts += ["<h4>Findings</h4>", findings_table(d.findings), "</div>"]
    return "".join(parts)


def labels_html(lb) -> list[str]:
    """Class balance as a table with a bar per class (rare classes marked), lengths, label noise."""
    top = max(lb.counts.values(), default=0) or 1
    eval_head = "<th>eval rows</th>" if lb.eval_counts is not None else ""
    rows = "".join(
        f"<tr><th>{esc(name)}</th><td>{n}</td><td>{lb.shares[name]:.1%}</td>"
        + (f"<td>{lb.eval_counts.get(name, 0)}</td>" if lb.eval_counts is not None else "")
        + f'<td><div style="background:{"#a15c00" if name in lb.rare else "#3060a0"};'
        f'height:10px;width:{round(200 * n / top)}px"></div></td>'
        f"<td>{'rare' if name in lb.rare else ('no rows' if name in lb.empty else '')}</td></tr>"
        for name, n in lb.counts.items()
    )
    noise = "".join(
        f"<tr><td>{esc(', '.join(map(str, ex['rows'])))}</td><td>{esc(', '.join(ex['labels']))}</td></tr>"
        for ex in lb.noise_examples
    )
    return [
        "<h4>Class balance</h4>",
        f"<table><tr><th>label</th><th>rows</th><th>share</th>{eval_head}<th></th><th></th></tr>"
        f"{rows}</table>",
        table(
            [
                ("largest / smallest class", f"{lb.imbalance_ratio}x"),
                ("rare classes", ", ".join(lb.rare) or "none"),
                (f"text length ({lb.length_unit})", lb.lengths),
                (f"median {lb.length_unit} per label", lb.lengths_by_label),
                ("rows over max_length", lb.truncated_rows if lb.max_length else "not measured"),
                (
                    "label-noise candidates",
                    f"{lb.noise_rows} row(s) in {lb.noise_clusters} cluster(s)",
                ),
            ]
        ),
        (
            "<p>Near-identical texts with different labels (rows, labels):</p>"
            f"<table>{noise}</table>"
            if noise
            else ""
        ),
    ]


def diversity_html(dv: dict[str, Any]) -> list[str]:
    """Templates and distinct-n of the prompts, and the most used templates with an example row."""
    verdict = (
        f'<p style="color:{SEVERITY_COLOURS["warning"]}">Template-like: {esc(dv["rule"])}.</p>'
        if dv["template_like"]
        else ""
    )
    top = "".join(
        f"<tr><td>{t['count']}</td><td>{t['example_index']}</td><td>{esc(t['skeleton'])}</td></tr>"
        for t in dv["top_templates"]
    )
    return [
        "<h4>Diversity of the prompts</h4>",
        verdict,
        table(
            [
                ("rows", dv["rows"]),
                ("templates (distinct skeletons)", dv["templates"]),
                (
                    "top 5 / top 10 templates cover",
                    f"{dv['top5_share']:.0%} / {dv['top10_share']:.0%}",
                ),
                ("template clusters", dv["clusters"]),
                ("10 largest clusters cover", f"{dv['top10_cluster_share']:.0%}"),
                ("distinct-1 / distinct-2", f"{dv['distinct_1']} / {dv['distinct_2']}"),
                (
                    "answers: templates, distinct-2",
                    f"{dv['answers']['templates']}, {dv['answers']['distinct_2']}",
                ),
            ]
        ),
        f"<table><tr><th>rows</th><th>example (0-based)</th><th>template</th></tr>{top}</table>",
    ]


def report_page(report) -> str:
    """A standalone HTML page of the report."""
    from ..pages import standalone_page

    src = report.provenance.get("sample") or report.provenance.get("source")
    return standalone_page(f"Dataset report: {src}", report_html(report))
