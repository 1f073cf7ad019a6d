"""Base vs tuned, interactively: sort and filter the per-prompt table, and ask both models your own prompt."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from ..comparison.comparison import Comparison, Row
from ..comparison.generation import GenerationSettings, ModelPair, generate_pair
from ..comparison.html import BOX, CSS, rows_table, word_diff

ORDER = "prompt order"
SHOW_ALL, TUNED_BETTER, BASE_BETTER, SAME = (
    "all prompts",
    "tuned better",
    "base better",
    "no difference",
)


def select_rows(
    rows: list[Row], *, metric: str, show: str = SHOW_ALL, sort: str = ORDER, text: str = ""
) -> list[Row]:
    """The rows the controls select, in the order they ask for (pure: tested without widgets)."""
    needle = text.strip().casefold()

    def keep(r: Row) -> bool:
        d = r.delta(metric)
        if show == TUNED_BETTER and not (d is not None and d > 0):
            return False
        if show == BASE_BETTER and not (d is not None and d < 0):
            return False
        if show == SAME and not (d is not None and d == 0):
            return False
        return (
            not needle or needle in " ".join((r.question, r.reference, r.base, r.tuned)).casefold()
        )

    chosen = [r for r in rows if keep(r)]
    if sort == ORDER:
        return chosen
    ascending = sort.endswith("(lowest first)")
    missing = float("inf") if ascending else float("-inf")
    return sorted(
        chosen,
        key=lambda r: missing if r.delta(metric) is None else r.delta(metric),
        reverse=not ascending,
    )


class ComparisonView:
    """The per-prompt table with sort / filter controls and a try-your-own-prompt box.

    Driven in tests like in the browser: set `metric.value`, `show.value`, `sort.value`,
    `search.value`; type in `prompt.value` and click `ask`. `table.value` holds the table HTML,
    `answers.value` the side-by-side answers.
    """

    def __init__(
        self,
        comparison: Comparison,
        *,
        pair: ModelPair | None = None,
        system_prompt: str = "",
        generation: GenerationSettings | None = None,
        page_size: int = 50,
    ):
        self.comparison, self.pair, self.page_size = comparison, pair, page_size
        self.generation = generation or GenerationSettings(**comparison.generation)
        metrics = comparison.metric_names
        self.metric = w.Dropdown(
            options=metrics, value=metrics[0] if metrics else None, description="metric"
        )
        self.show = w.Dropdown(
            options=[SHOW_ALL, TUNED_BETTER, BASE_BETTER, SAME], description="show"
        )
        self.sort = w.Dropdown(
            options=[ORDER, "difference (highest first)", "difference (lowest first)"],
            description="sort",
        )
        self.search = w.Text(placeholder="words in prompt or answers", description="search")
        self.count = w.HTML()
        self.table = w.HTML()
        for control in (self.metric, self.show, self.sort, self.search):
            control.observe(lambda _change: self.refresh(), names="value")
        self.system = w.Textarea(value=system_prompt, description="system", layout=_full_width())
        self.prompt = w.Textarea(
            placeholder="Type a prompt for both models",
            description="prompt",
            layout=_full_width(height="6em"),
        )
        self.ask = w.Button(
            description="Ask both models",
            button_style="primary",
            icon="comments",
            disabled=pair is None,
        )
        self.answers = w.HTML(
            "" if pair else "<i>Pass pair=load_run(run_dir) to ask the models your own prompt.</i>"
        )
        self.ask.on_click(self._on_ask)
        self.widget = w.VBox(
            [
                w.HTML(f"<style>{CSS}</style>"),
                w.HBox([self.metric, self.show, self.sort], layout=_wrap()),
                w.HBox([self.search, self.count], layout=_wrap()),
                self.table,
                w.HTML("<h4>Try your own prompt</h4>"),
                self.system,
                self.prompt,
                self.ask,
                self.answers,
            ],
            layout=w.Layout(width="100%", max_width="100%"),
        )
        self.refresh()

    def refresh(self) -> None:
        rows = select_rows(
            self.comparison.rows,
            metric=self.metric.value,
            show=self.show.value,
            sort=self.sort.value,
            text=self.search.value,
        )
        shown = rows[: self.page_size]
        self.count.value = f"{len(rows)} of {len(self.comparison.rows)} prompts" + (
            f" (first {len(shown)} shown)" if len(shown) < len(rows) else ""
        )
        self.table.value = (
            f"<div class='{BOX}'>{rows_table(shown, self.comparison.metric_names)}</div>"
        )

    def _on_ask(self, _button: Any) -> None:
        text = self.prompt.value.strip()
        if not text or self.pair is None:
            self.answers.value = "<i>Type a prompt first.</i>"
            return
        messages = (
            [{"role": "system", "content": self.system.value}] if self.system.value.strip() else []
        )
        messages.append({"role": "user", "content": text})
        self.ask.disabled, self.answers.value = True, "<i>Asking both models...</i>"
        try:
            out = generate_pair(self.pair, [messages], settings=self.generation)
            self.answers.value = side_by_side(out["base"][0], out["tuned"][0], out["seconds"])
        except Exception as exc:  # shown in the view, never lost in the kernel log
            self.answers.value = f"<pre style='color:#c62828'>{html.escape(type(exc).__name__)}: {html.escape(str(exc))}</pre>"
        finally:
            self.ask.disabled = False


def _full_width(**layout: str) -> w.Layout:
    """A control as wide as its box: width 100% would add the widget's margin and overflow it."""
    return w.Layout(width="auto", **layout)


def _wrap() -> w.Layout:
    """A row that wraps its controls instead of overflowing a narrow output area."""
    return w.Layout(flex_flow="row wrap", width="100%")


EMPTY_ANSWER = "<i>(an empty answer)</i>"  # a blank cell reads as "nothing happened"


def side_by_side(base: str, tuned: str, seconds: dict[str, float]) -> str:
    left, right = word_diff(base, tuned)
    left = left if base.strip() else EMPTY_ANSWER
    right = right if tuned.strip() else EMPTY_ANSWER
    return (
        f"<div class='{BOX}'><table><tr>"
        f"<th>base ({seconds.get('base', 0):.1f} s)</th><th>tuned ({seconds.get('tuned', 0):.1f} s)</th></tr>"
        f"<tr><td class='txt'>{left}</td><td class='txt'>{right}</td></tr></table></div>"
    )


def comparison_view(comparison: Comparison, **kwargs: Any) -> w.VBox:
    """Build the view and return its widget, ready to display."""
    return ComparisonView(comparison, **kwargs).widget
