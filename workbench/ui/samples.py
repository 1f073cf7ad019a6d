"""Sample answers under the live plot: each prompt's latest answer and the one before, changes marked.

A training callback like the plot: `on_samples` (after an evaluation, training/samples.py) redraws
one HTML block, a single message to the page, so it never holds up the plot. Words the latest
answer added are marked <ins>, words it dropped <del> (difflib over words and the spaces between
them); every text is HTML-escaped, and long answers wrap inside the output area.
"""

from __future__ import annotations

import difflib
import html
import re
from typing import Any

from ..training.events import Callback, TrainState
from ..training.samples import SampleAnswer

QUESTION_CHARS = 300  # a long prompt is cut in the view (samples.jsonl keeps it whole)
_WORDS = re.compile(r"\s+|\S+")
_BOX = "max-width:100%;box-sizing:border-box;overflow-wrap:anywhere;white-space:pre-wrap"
_INS = "background:#d4f7d4;text-decoration:none"
_DEL = "background:#fadcdc;color:#8a1f1f"


def answer_diff_html(before: str | None, after: str) -> str:
    """`after` as HTML, with the words that differ from `before` marked; no marks when `before` is None."""
    if before is None:
        return html.escape(after)
    old, new = _WORDS.findall(before), _WORDS.findall(after)
    parts = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op in ("delete", "replace"):
            parts.append(f'<del style="{_DEL}">{html.escape("".join(old[i1:i2]))}</del>')
        if op in ("insert", "replace"):
            parts.append(f'<ins style="{_INS}">{html.escape("".join(new[j1:j2]))}</ins>')
        if op == "equal":
            parts.append(html.escape("".join(new[j1:j2])))
    return "".join(parts)


def samples_html(latest: dict[int, SampleAnswer], before: dict[int, SampleAnswer]) -> str:
    """One block per prompt: the question, the latest answer (changes marked), the one before."""
    if not latest:
        return "<i>Sample answers appear after the first evaluation.</i>"
    blocks = []
    for index in sorted(latest):
        now, prev = latest[index], before.get(index)
        question = now.question
        if len(question) > QUESTION_CHARS:
            question = question[:QUESTION_CHARS] + "…"
        rows = [
            f"<div><b>Prompt {index + 1}</b>: {html.escape(question)}</div>",
            f"<div><b>step {now.step}</b>: "
            f"{_or_empty(answer_diff_html(prev.answer if prev else None, now.answer))}</div>",
        ]
        if prev is not None:
            rows.append(
                f'<div style="color:#666"><b>step {prev.step}</b>: '
                f"{_or_empty(html.escape(prev.answer))}</div>"
            )
        blocks.append(f'<div style="{_BOX};margin:0 0 0.6em 0">{"".join(rows)}</div>')
    seconds = next(iter(latest.values())).seconds
    head = (
        f"<div><b>Sample answers</b> (greedy, after each evaluation; the last took {seconds:.1f} s;"
        f' <ins style="{_INS}">added</ins> / <del style="{_DEL}">dropped</del> since the one before)'
        "</div>"
    )
    return f'<div class="wb-samples" style="{_BOX}">{head}{"".join(blocks)}</div>'


def _or_empty(fragment: str) -> str:
    return fragment or "<i>(empty answer)</i>"


class SampleAnswersView(Callback):
    """The latest and the previous answer per prompt, as an ipywidgets HTML ("widget") or a display handle."""

    def __init__(self, *, backend: str = "display"):
        if backend not in ("display", "widget"):
            raise ValueError(f"backend must be 'display' or 'widget', got {backend!r}")
        self.backend = backend
        self.latest: dict[int, SampleAnswer] = {}
        self.before: dict[int, SampleAnswer] = {}
        self.widget: Any = None
        self._handle: Any = None

    def show(self) -> Any:
        if self.backend == "widget":
            import ipywidgets as w

            self.widget = w.HTML(self.html(), layout=w.Layout(width="auto", max_width="100%"))
            return self.widget
        from IPython.display import HTML, display

        self._handle = display(HTML(self.html()), display_id=True)
        return self._handle

    def html(self) -> str:
        return samples_html(self.latest, self.before)

    def on_samples(self, state: TrainState, answers: list[SampleAnswer]) -> None:
        for answer in answers:
            previous = self.latest.get(answer.index)
            if previous is not None and previous.step != answer.step:
                self.before[answer.index] = previous
            self.latest[answer.index] = answer
        if self.widget is not None:
            self.widget.value = self.html()
        elif self._handle is not None:
            from IPython.display import HTML

            self._handle.update(HTML(self.html()))
