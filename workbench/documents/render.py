"""A small document model (headings, paragraphs, lists, tables, figures) rendered to Markdown and to self-contained HTML.

The run documents are built once as blocks and written twice, so the Markdown and the HTML never
disagree. Inline text may use `code`, **bold** and _gap_; nothing else is interpreted, in either
rendering: provider-stated text with `<script>`, `[links](...)` or a leading `#` reads as typed.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

UNKNOWN = "to be completed by the provider"


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Para:
    text: str


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Fields:
    """A two-column table of name: value; a value of None shows as 'to be completed by the provider'."""

    rows: list[tuple[str, Any]]


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Any]]


@dataclass
class Figure:
    svg: str  # inline SVG for HTML
    caption: str  # what Markdown shows instead


@dataclass
class Document:
    title: str
    blocks: list[Any] = field(default_factory=list)
    front_matter: dict[str, Any] | None = None  # YAML metadata (Hugging Face card header)

    def add(self, *blocks: Any) -> Document:
        self.blocks.extend(blocks)
        return self


def cell(value: Any) -> str:
    """How a value reads in a document; None is an explicit gap, never a guess."""
    if value is None:
        return f"_{UNKNOWN}_"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# -- Markdown ------------------------------------------------------------------------------------


def to_markdown(doc: Document) -> str:
    parts = []
    if doc.front_matter is not None:
        parts.append(
            "---\n" + yaml.safe_dump(doc.front_matter, sort_keys=False, allow_unicode=True) + "---"
        )
    parts.append(f"# {doc.title}")
    parts.extend(_md_block(b) for b in doc.blocks)
    return "\n\n".join(parts) + "\n"


def _md_block(block: Any) -> str:
    md = _md_inline
    if isinstance(block, Heading):
        return "#" * block.level + " " + md(block.text)
    if isinstance(block, Para):
        return md(block.text)
    if isinstance(block, Bullets):
        return "\n".join(f"- {md(item)}" for item in block.items)
    if isinstance(block, Fields):
        rows = [[_md_cell(f"**{k}**"), _md_cell(cell(v))] for k, v in block.rows]
        return _md_table(["", ""], rows)
    if isinstance(block, Table):
        rows = [[_md_cell(cell(v)) for v in row] for row in block.rows]
        return _md_table([_md_cell(h) for h in block.headers], rows)
    if isinstance(block, Figure):
        return f"_Figure: {_md_literal(block.caption)}_"
    raise TypeError(f"unknown block {block!r}")


# the inline markup both renderings interpret (see _inline); everything else is shown as typed
_MD_SPAN = re.compile(r"(`[^`]+`)|\*\*([^*]+)\*\*|(?<![\w*])_([^_]+)_(?![\w*])")
# entities rather than backslashes for these: every Markdown flavour honours entities
_MD_ENTITY = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def _md_inline(text: Any) -> str:
    return _md_line_start(_md_cell(text))


def _md_cell(text: Any) -> str:
    """Inline text without the block-start escapes (a table cell holds no headings or lists)."""
    text = " ".join(str(text).splitlines())  # HTML shows a line break as a space; so does this
    out, pos = [], 0
    for m in _MD_SPAN.finditer(text):
        code, bold, gap = m.groups()
        out.append(_md_literal(text[pos : m.start()]))
        out.append(code or (f"**{_md_literal(bold)}**" if bold else f"_{_md_literal(gap)}_"))
        pos = m.end()
    out.append(_md_literal(text[pos:]))
    return "".join(out)


def _md_literal(text: str) -> str:
    text = re.sub(r"[&<>]", lambda m: _MD_ENTITY[m[0]], text)
    text = re.sub(r"([\\`*\[\]])", r"\\\1", text)
    # `_` between letters or digits (snake_case) never emphasises; elsewhere it might
    return re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", text)


def _md_line_start(text: str) -> str:
    # what would open a heading (# x) or a list item (- x, + x, 1. x) at the start of a block
    text = re.sub(r"^(\s*)([#+-])(?=[\s#]|$)", r"\1\\\2", text)
    return re.sub(r"^(\s*\d{1,9})([.)])(?=\s|$)", r"\1\\\2", text)


def _md_table(headers: list[str], rows: list[list[str]]) -> str:
    def esc(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(esc(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# -- HTML ----------------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45;color:#1f2328}
table{border-collapse:collapse;margin:.5rem 0 1rem}td,th{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}code{background:#f6f8fa;padding:0 .2rem;border-radius:3px}em.gap{color:#9a6700}
pre.meta{background:#f6f8fa;padding:.6rem;border-radius:6px;overflow:auto}figure{margin:1rem 0}figcaption{color:#57606a;font-size:.9em}
"""


def to_html(doc: Document, *, standalone: bool = True) -> str:
    body = [f"<h1>{_inline(doc.title)}</h1>"]
    if doc.front_matter is not None:
        meta = yaml.safe_dump(doc.front_matter, sort_keys=False, allow_unicode=True)
        body.append(
            f"<details><summary>Card metadata (YAML)</summary><pre class='meta'>{html.escape(meta)}</pre></details>"
        )
    body.extend(_html_block(b) for b in doc.blocks)
    inner = "\n".join(body)
    if not standalone:
        return f"<div class='workbench-doc'>{inner}</div>"
    from ..pages import standalone_page

    return standalone_page(doc.title, inner, css=CSS)


def _html_block(block: Any) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}>{_inline(block.text)}</h{block.level}>"
    if isinstance(block, Para):
        return f"<p>{_inline(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Fields):
        rows = "".join(
            f"<tr><th>{_inline(k)}</th><td>{_inline(cell(v))}</td></tr>" for k, v in block.rows
        )
        return f"<table>{rows}</table>"
    if isinstance(block, Table):
        head = "".join(f"<th>{_inline(h)}</th>" for h in block.headers)
        rows = "".join(
            "<tr>" + "".join(f"<td>{_inline(cell(v))}</td>" for v in r) + "</tr>"
            for r in block.rows
        )
        return f"<table><tr>{head}</tr>{rows}</table>"
    if isinstance(block, Figure):
        return f"<figure>{block.svg}<figcaption>{_inline(block.caption)}</figcaption></figure>"
    raise TypeError(f"unknown block {block!r}")


def _inline(text: str) -> str:
    out = html.escape(str(text))
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", out)
    return re.sub(r"(?<![\w*])_([^_]+)_(?![\w*])", r"<em class='gap'>\1</em>", out)


# -- a log-scale bar chart as inline SVG (no plotting library, visible everywhere) ---------------


def log_bar_svg(bars: list[tuple[str, float]], *, unit: str = "FLOP", width: int = 640) -> str:
    """Horizontal bars on a log10 axis; bars with value <= 0 are left out."""
    import math

    bars = [(label, value) for label, value in bars if value and value > 0]
    if not bars:
        return ""
    lo = math.floor(min(math.log10(v) for _, v in bars)) - 1
    hi = math.ceil(max(math.log10(v) for _, v in bars))
    left, row, plot = 230, 30, width - 230 - 90
    height = row * len(bars) + 30
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' font-size='12' font-family='sans-serif'>"
    ]
    for i, (label, value) in enumerate(bars):
        y = 10 + i * row
        w = max(2.0, plot * (math.log10(value) - lo) / (hi - lo))
        parts.append(
            f"<text x='{left - 6}' y='{y + 15}' text-anchor='end'>{html.escape(label)}</text>"
        )
        parts.append(
            f"<rect x='{left}' y='{y + 3}' width='{w:.1f}' height='18' fill='{'#0969da' if i == 0 else '#8c959f'}'/>"
        )
        parts.append(f"<text x='{left + w + 4:.1f}' y='{y + 15}'>{value:.2e} {unit}</text>")
    parts.append(
        f"<text x='{left}' y='{height - 4}' fill='#57606a'>log scale, 10^{lo} to 10^{hi} {unit}</text></svg>"
    )
    return "".join(parts)


__all__ = [
    "Document",
    "Heading",
    "Para",
    "Bullets",
    "Fields",
    "Table",
    "Figure",
    "UNKNOWN",
    "to_markdown",
    "to_html",
    "log_bar_svg",
    "cell",
]
