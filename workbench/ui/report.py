"""Preview of the run documents, with the fields only the provider can fill in; saving regenerates them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as w

from ..documents.facts import PROVIDER_FIELDS, RunFacts
from ..documents.writer import save_provider_facts, write_run_docs
from ..rundir import RunDir

TITLES = {
    "model_card": "Model card",
    "data_card": "Data card",
    "ai_act_record": "AI Act / GDPR record",
}
LONG_FIELDS = (
    "intended_purpose",
    "out_of_scope_uses",
    "human_oversight",
    "legal_basis",
    "collection_purpose",
)

# Short labels for the form; the full question is each field's tooltip (report.PROVIDER_FIELDS).
LABELS = {
    "provider_name": "Provider",
    "contact": "Contact",
    "intended_purpose": "Intended purpose",
    "high_risk_use": "High-risk use?",
    "language": "Language(s)",
    "dataset_licence": "Data licence",
    "collection_purpose": "Collection purpose",
    "legal_basis": "GDPR legal basis",
    "out_of_scope_uses": "Out-of-scope uses",
    "human_oversight": "Human oversight",
    "region": "Region / grid",
}


class ReportPreview:
    """Provider fields on the left, the three documents in tabs on the right.

    `Save and regenerate` writes docs/provider.yaml and rewrites the documents through
    `write_run_docs`, exactly what `workbench report RUN_DIR` does headless.
    """

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        stated = RunFacts.read(self.run_dir).provider
        self.inputs: dict[str, Any] = {
            key: (w.Textarea if key in LONG_FIELDS else w.Text)(
                value=str(stated.get(key, "")),
                description=LABELS.get(key, key.replace("_", " ").capitalize()),
                placeholder="to be completed by the provider",
                tooltip=label,
                style={"description_width": "10rem"},
                layout=w.Layout(width="98%"),
            )
            for key, label in PROVIDER_FIELDS.items()
        }
        self.save = w.Button(
            description="Save and regenerate",
            button_style="primary",
            icon="save",
            layout=w.Layout(width="auto"),
        )
        self.status = w.HTML()
        self.out = w.Output()
        self.tabs = w.Tab(children=[w.HTML() for _ in TITLES])
        for i, title in enumerate(TITLES.values()):
            self.tabs.set_title(i, title)
        self.save.on_click(self._on_save)
        form = w.VBox(
            [
                w.HTML("<b>What only you can state</b>"),
                *self.inputs.values(),
                self.save,
                self.status,
                self.out,
            ],
            layout=w.Layout(flex="1 1 30rem", min_width="min(30rem, 100%)"),
        )
        documents = w.Box([self.tabs], layout=w.Layout(flex="2 1 28rem", min_width="0"))
        # side by side when there is room, the documents below the form when there is not
        self.widget = w.HBox([form, documents], layout=w.Layout(flex_flow="row wrap", width="100%"))
        self.refresh()

    def provider_facts(self) -> dict[str, str]:
        return {k: box.value.strip() for k, box in self.inputs.items() if box.value.strip()}

    def refresh(self) -> None:
        docs = write_run_docs(run_dir=self.run_dir, provider=self.provider_facts())
        for child, name in zip(self.tabs.children, TITLES, strict=True):
            child.value = f"<div class='tex2jax_ignore mathjax_ignore'>{docs.html(name)}</div>"
        self.status.value = f"{len(docs.paths)} files in <code>{RunDir(self.run_dir).docs_dir}</code>; {len(docs.gaps)} step(s) not run"

    def _on_save(self, _button: Any) -> None:
        self.out.clear_output()
        with self.out:  # errors show under the button, not in the kernel log
            save_provider_facts(run_dir=self.run_dir, facts=self.provider_facts())
            self.refresh()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
