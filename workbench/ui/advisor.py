"""The lever advisor as a form: tick what is true, read the recommendation and every reason."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from ..estimation.advisor import Advice, advise

QUESTIONS = {
    "knowledge_changes_often": "The facts it must know change often (weekly or faster)",
    "needs_citations": "Answers must cite their sources",
    "goal_tone": "The goal is a tone or voice",
    "goal_format": "The goal is a fixed output format (e.g. a strict JSON schema)",
    "goal_jargon": "The goal is a domain's jargon and conventions",
    "cost_at_volume": "Many calls a day: cost at volume matters",
    "data_in_house": "The data must stay in-house",
    "prompting_tried": "A careful prompt with examples was tried and fell short",
}


class AdvisorForm:
    """View over `advise`. Tests drive it like a user: set `boxes[name].value`, `examples.value`,
    `pairs.value`, click `button`; `advice` holds the last Advice and `result.value` its HTML."""

    def __init__(self, **answers: Any):
        style = {"description_width": "initial"}
        self.boxes = {
            name: w.Checkbox(
                value=bool(answers.get(name, False)),
                description=label,
                indent=False,
                style=style,
                layout=w.Layout(width="auto"),  # the default width cuts the question off
            )
            for name, label in QUESTIONS.items()
        }
        self.examples = w.BoundedIntText(
            value=int(answers.get("good_examples", 0)),
            min=0,
            max=10_000_000,
            description="Good examples you have",
            style=style,
        )
        self.pairs = w.BoundedIntText(
            value=int(answers.get("preference_pairs", 0)),
            min=0,
            max=10_000_000,
            description="Preference pairs you have (a better and a worse answer)",
            style=style,
            layout=w.Layout(width="auto"),
        )
        self.button = w.Button(description="Advise", button_style="primary", icon="compass")
        self.result = w.HTML()
        self.advice: Advice | None = None
        self.button.on_click(lambda _b: self.update())
        fields = [*self.boxes.values(), self.examples, self.pairs, self.button, self.result]
        self.widget = w.VBox(fields)
        self.update()

    def answers(self) -> dict[str, Any]:
        counts = {"good_examples": self.examples.value, "preference_pairs": self.pairs.value}
        return {**{k: b.value for k, b in self.boxes.items()}, **counts}

    def update(self) -> Advice:
        try:
            self.advice = advise(**self.answers())
            self.result.value = self.advice._repr_html_()
        except Exception as exc:  # shown in the form, never lost in the kernel log
            self.result.value = f"<p style='color:#c62828'>{type(exc).__name__}: {exc}</p>"
        return self.advice

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
