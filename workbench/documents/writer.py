"""Run documentation: a model card, a data card and an AI Act / GDPR record, written from a run directory.

Everything comes from the files the run left (summary.json, inspect/report.json, technique.json,
train_config.yaml, train_result.json, comparison.json, docs/bias_probe.json), read through their
owner types into a `RunFacts`, plus the facts a provider states (`provider=` or docs/provider.yaml). A step that did not run shows as "not available: step X was
not run"; a fact the tool cannot know shows as "to be completed by the provider", never a guess.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..io import write_text_atomic
from ..rundir import RunDir
from ..secret_guard import scrub_text, secret_values
from .cards import data_card, model_card
from .facts import STEPS, ProviderFacts, RunFacts, not_run
from .record import ai_act_record
from .render import Document, to_html, to_markdown

log = logging.getLogger(__name__)


# -- writing -------------------------------------------------------------------------------------


@dataclass
class RunDocs:
    """The documents written for a run: name -> path, and the documents themselves."""

    run_dir: Path
    paths: dict[str, Path]
    documents: dict[str, Document]
    gaps: list[str]  # steps that were not run

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_dir": str(self.run_dir),
            "paths": {k: str(v) for k, v in self.paths.items()},
            "gaps": self.gaps,
        }

    def html(self, name: str) -> str:
        return to_html(self.documents[name], standalone=False)

    def _repr_html_(self) -> str:
        items = "".join(f"<li><code>{html.escape(str(p))}</code></li>" for p in self.paths.values())
        gaps = "".join(f"<li>{html.escape(g)}</li>" for g in self.gaps)
        gap_html = f"<p>Gaps:</p><ul>{gaps}</ul>" if gaps else ""
        return f"<div><b>Run documents</b> for <code>{html.escape(str(self.run_dir))}</code><ul>{items}</ul>{gap_html}</div>"


def build_documents(facts: RunFacts) -> dict[str, Document]:
    return {
        "model_card": model_card(facts),
        "data_card": data_card(facts),
        "ai_act_record": ai_act_record(facts),
    }


def write_run_docs(*, run_dir: str | Path, provider: dict[str, Any] | None = None) -> RunDocs:
    """Write docs/{model_card,data_card,ai_act_record}.{md,html} for `run_dir`; returns RunDocs."""
    facts = RunFacts.read(run_dir, provider=provider)
    documents = build_documents(facts)
    rd = RunDir(run_dir)
    secrets = secret_values()
    paths: dict[str, Path] = {}
    for name, doc in documents.items():
        for suffix, text in ((".md", to_markdown(doc)), (".html", to_html(doc))):
            clean, _ = scrub_text(text, secrets)
            paths[f"{name}{suffix}"] = write_text_atomic(rd.doc_file(f"{name}{suffix}"), clean)
    gaps = [not_run(step) for step in STEPS if getattr(facts, step) is None]
    log.info("wrote %d documents to %s", len(paths), rd.docs_dir)
    return RunDocs(rd.root, paths, documents, gaps)


def save_provider_facts(*, run_dir: str | Path, facts: dict[str, Any]) -> Path:
    """Store what the provider states (intended purpose, legal basis, ...) in docs/provider.yaml.

    Keys that are not provider facts are left out (and logged)."""
    return ProviderFacts.from_dict(facts, file="save_provider_facts(facts=...)").save(run_dir)


__all__ = ["write_run_docs", "RunDocs", "build_documents", "save_provider_facts"]
