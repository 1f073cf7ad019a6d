"""Run documentation: a model card, a data card and an AI Act / GDPR record, written from a run directory.

Everything comes from the files the run left (summary.json, inspect/report.json, technique.json,
train_result.json, comparison.json, docs/bias_probe.json) plus the facts a provider states
(`provider=` or docs/provider.yaml). A step that did not run shows as "not available: step X was
not run"; a fact the tool cannot know shows as "to be completed by the provider", never a guess.
"""

from __future__ import annotations

import html
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .io import write_text_atomic
from .report_render import Document, to_html, to_markdown
from .rundir import RunDir
from .secret_guard import scrub_text, secret_values

log = logging.getLogger(__name__)

STEPS = {
    "inspect": "01 (data inspection: notebook 01_inspect_data or `workbench inspect`)",
    "technique": "02 (technique choice: notebook 02_choose_technique)",
    "train": "03 (training: notebook 03_train or `workbench train`)",
    "comparison": "04 (comparison: notebook 04_compare or `workbench compare`)",
    "bias": "05 (bias probe: notebook 05_document or `workbench report --bias-probe`)",
}
PROVIDER_FIELDS = {
    "provider_name": "Provider (who fine-tunes and places the model on the market / puts it into service)",
    "contact": "Contact",
    "intended_purpose": "Intended purpose",
    "high_risk_use": "Is the intended use high-risk (AI Act Annex III / Annex I)?",
    "language": "Language(s) of the data",
    "dataset_licence": "Licence / terms of use of the training data",
    "collection_purpose": "Original purpose for which the data was collected",
    "legal_basis": "GDPR legal basis for personal data in the training set (Art. 6, Art. 9)",
    "out_of_scope_uses": "Out-of-scope uses",
    "human_oversight": "Human oversight measures",
    "region": "Region / grid of the training hardware (for CO2)",
}
# Average power drawn while training, used for the energy estimate (an assumption, stated in the
# record): a busy desktop/laptop CPU core ~10 W; one data-centre GPU ~300 W (board power varies 70-700 W).
POWER_W = {"cpu_core": 10.0, "gpu": 300.0}
GPAI_THRESHOLD_FLOP = 1e23  # Commission GPAI guidelines (July 2025): indicative GPAI threshold


def not_run(step: str) -> str:
    return f"not available: step {STEPS[step]} was not run"


@dataclass
class RunFacts:
    """What a run directory holds, read once; every field is None when its step did not run."""

    run_dir: Path
    summary: dict[str, Any] | None = None
    inspect: dict[str, Any] | None = None
    technique: dict[str, Any] | None = None
    train_config: dict[str, Any] | None = None
    train: dict[str, Any] | None = None
    comparison: dict[str, Any] | None = None
    bias: dict[str, Any] | None = None
    provider: dict[str, Any] = field(default_factory=dict)
    base: dict[str, Any] = field(default_factory=dict)  # facts about the base model, when known

    @classmethod
    def read(cls, run_dir: str | Path, *, provider: dict[str, Any] | None = None) -> RunFacts:
        rd = RunDir(run_dir)
        facts = cls(
            run_dir=rd.root,
            summary=_json(rd.summary_json),
            inspect=_json(rd.inspect_report_json),
            technique=_json(rd.technique_json),
            train=_json(rd.train_result_json),
            comparison=_json(rd.comparison_json),
            bias=_json(rd.docs_dir / "bias_probe.json"),
        )
        facts.train_config = _yaml(rd.train_config_yaml) or (facts.technique or {}).get(
            "train_config"
        )
        stated = _yaml(rd.docs_dir / "provider.yaml") or {}
        stated.update((facts.summary or {}).get("provider") or {})
        stated.update(provider or {})
        facts.provider = {k: v for k, v in stated.items() if v not in (None, "")}
        facts.base = base_model_facts(facts.param("model"))
        return facts

    def param(self, name: str, default: Any = None) -> Any:
        """A run parameter: the training config first, then the pipeline's parameters."""
        for source in (
            self.train_config,
            (self.train or {}).get("config"),
            (self.summary or {}).get("parameters"),
        ):
            if isinstance(source, dict) and source.get(name) not in (None, ""):
                return source[name]
        return default

    def said(self, key: str) -> Any:
        """A fact the provider stated, or None (shown as 'to be completed by the provider')."""
        return self.provider.get(key)


def base_model_facts(name: str | None) -> dict[str, Any]:
    """Licence and training compute of the base model where the workbench knows them."""
    from .models import DEFAULT_CARD, DEFAULT_MODEL, TINY_MODEL, model_dir

    if not name:
        return {}
    if name == DEFAULT_MODEL:
        return dict(DEFAULT_CARD, name=name)
    if name == TINY_MODEL:
        return {
            "name": name,
            "base_model": None,
            "license": None,
            "training_flops": None,
            "source": "a 2-layer randomly initialised test model built locally (never trained)",
        }
    card = (
        _json(model_dir(name) / "workbench_source.json")
        or _json(Path(name) / "workbench_source.json")
        or {}
    )
    return {
        "name": name,
        "base_model": card.get("base_model", name if "/" in name else None),
        **card,
    }


def _json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _yaml(path: Path) -> dict[str, Any] | None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None


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
    from .report_cards import data_card, model_card
    from .report_record import ai_act_record

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
            paths[f"{name}{suffix}"] = write_text_atomic(rd.docs_dir / f"{name}{suffix}", clean)
    gaps = [not_run(step) for step in STEPS if getattr(facts, step) is None]
    log.info("wrote %d documents to %s", len(paths), rd.docs_dir)
    return RunDocs(rd.root, paths, documents, gaps)


def save_provider_facts(*, run_dir: str | Path, facts: dict[str, Any]) -> Path:
    """Store what the provider states (intended purpose, legal basis, ...) in docs/provider.yaml."""
    known = {k: v for k, v in facts.items() if k in PROVIDER_FIELDS and v not in (None, "")}
    text = "# Facts only the provider can state; read by `workbench report`.\n" + yaml.safe_dump(
        known, sort_keys=False
    )
    return write_text_atomic(RunDir(run_dir).docs_dir / "provider.yaml", text)


def generated_note() -> str:
    from . import __version__

    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    user = os.environ.get("WORKBENCH_AUTHOR")
    by = f" for {user}" if user else ""
    return (
        f"Generated by workbench {__version__}{by} on {stamp} from the files in the run directory."
    )


__all__ = [
    "write_run_docs",
    "RunDocs",
    "RunFacts",
    "save_provider_facts",
    "PROVIDER_FIELDS",
    "POWER_W",
    "not_run",
]
