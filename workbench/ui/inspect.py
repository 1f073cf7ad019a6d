"""A browser over a dataset report: filter rows by finding kind, page through them, see each one
rendered with the model's chat template and loss mask, and save a cleaned copy in one click."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import ipywidgets as w

from ..inspection.html import SEVERITY_COLOURS, STYLE, findings_table, mask_html
from ..inspection.report import DatasetReport, clean

ALL_ROWS = "all rows"
ANY_FINDING = "any finding"


class InspectBrowser:
    """View over a `DatasetReport` (which carries its dataset and tokenizer).

    Driven in tests like in the browser: set `kind.value`, click `next`/`prev`, set `position.value`,
    click `save`. `view.value` holds the current row's HTML, `status.value` the last message.
    """

    def __init__(
        self, report: DatasetReport, *, clean_path: str | Path, clean_options: dict | None = None
    ):
        if report.dataset is None:
            raise ValueError("The report has no dataset attached; make it with inspect_dataset().")
        self.report = report
        self.clean_path = Path(clean_path)
        self.clean_options = dict(clean_options or {})
        kinds = sorted(report.kind_counts())
        counts = report.kind_counts()
        self.kind = w.Dropdown(
            options=[
                (f"{ALL_ROWS} ({len(report.dataset)})", ALL_ROWS),
                (
                    f"{ANY_FINDING} ({len({f.index for f in report.findings if f.index is not None})})",
                    ANY_FINDING,
                ),
            ]
            + [(f"{k} ({counts[k]})", k) for k in kinds],
            value=ANY_FINDING if report.findings else ALL_ROWS,
            description="show",
        )
        self.prev = w.Button(description="previous", icon="arrow-left")
        self.next = w.Button(description="next", icon="arrow-right")
        self.position = w.BoundedIntText(
            value=1, min=1, max=1, description="item", layout=w.Layout(width="12rem")
        )
        self.where = w.HTML()
        self.view = w.HTML()
        self.save = w.Button(
            description="Save a cleaned copy",
            button_style="primary",
            icon="save",
            layout=w.Layout(width="auto"),
        )
        self.status = w.HTML()
        self.kind.observe(self._on_kind, names="value")
        self.position.observe(lambda _change: self._show(), names="value")
        self.prev.on_click(lambda _b: self._step(-1))
        self.next.on_click(lambda _b: self._step(+1))
        self.save.on_click(self._on_save)
        self.widget = w.VBox(
            [
                w.HBox([self.kind, self.prev, self.position, self.next, self.where]),
                self.view,
                w.HBox(
                    [self.save, w.HTML(f"&rarr; <code>{html.escape(str(self.clean_path))}</code>")]
                ),
                self.status,
            ]
        )
        self.indices: list[int] = []
        self._on_kind(None)

    # -- state ------------------------------------------------------------------------------------

    def rows_for(self, kind: str) -> list[int]:
        """0-based dataset positions the filter `kind` selects."""
        if kind == ALL_ROWS:
            return list(range(len(self.report.dataset)))
        wanted = {
            f.index
            for f in self.report.findings
            if f.index is not None and (kind == ANY_FINDING or f.kind == kind)
        }
        return sorted(wanted)

    @property
    def current(self) -> int | None:
        """The 0-based dataset position on screen (None when the filter selects nothing)."""
        return self.indices[self.position.value - 1] if self.indices else None

    # -- handlers ---------------------------------------------------------------------------------

    def _on_kind(self, _change: Any) -> None:
        self.indices = self.rows_for(self.kind.value)
        self.position.max = max(1, len(self.indices))
        if self.position.value == 1:
            self._show()
        else:
            self.position.value = 1  # triggers _show

    def _step(self, delta: int) -> None:
        self.position.value = min(max(1, self.position.value + delta), self.position.max)

    def _show(self) -> None:
        try:
            self.view.value = f'<div class="wb-report">{STYLE}{self._row_html()}</div>'
        except Exception as exc:  # show, do not lose, an error inside a handler
            self.view.value = (
                f'<pre style="color:{SEVERITY_COLOURS["error"]}">{html.escape(repr(exc))}</pre>'
            )

    def _row_html(self) -> str:
        n = len(self.indices)
        self.where.value = f"of {n} &middot; filter <b>{html.escape(self.kind.value)}</b>"
        if not n:  # e.g. load errors: those lines never made it into the dataset
            unplaced = [f for f in self.report.findings if f.kind == self.kind.value]
            return findings_table(unplaced) if unplaced else "<p>No rows match this filter.</p>"
        i = self.current
        ds = self.report.dataset
        parts = [
            f"<h4>Row {ds.row_ids[i]} (position {i})</h4>",
            findings_table(self.report.findings_for(row=ds.row_ids[i])),
        ]
        if self.report.tokenizer is not None:
            enc = self.report.render_example(i)
            parts.append(
                f"<p>{enc.n_tokens} tokens, {enc.n_trained} trained; max_length "
                f"{self.report.lengths['max_length']}</p>"
            )
            parts.append(mask_html(enc.segments(), truncated=enc.truncated))
        else:
            parts += [
                f"<p><b>{html.escape(m['role'])}</b>: {html.escape(m['content'])}</p>"
                for m in ds[i]
            ]
        return "".join(parts)

    def _on_save(self, _button: Any) -> None:
        try:
            result = clean(self.report.dataset, report=self.report, **self.clean_options)
            path = result.save(self.clean_path, overwrite=True)
            counts = (
                ", ".join(f"{k} {v}" for k, v in sorted(result.counts().items()))
                or "nothing to change"
            )
            self.status.value = (
                f"Saved {len(result.dataset)} of {result.rows_before} rows to "
                f"<code>{html.escape(str(path))}</code> ({html.escape(counts)}). "
                "The source file is unchanged. To train on this copy, set "
                "<code>clean_copy = True</code> in notebook 03."
            )
        except Exception as exc:
            self.status.value = (
                f'<span style="color:{SEVERITY_COLOURS["error"]}">{html.escape(str(exc))}</span>'
            )

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
