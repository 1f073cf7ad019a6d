"""What a run directory holds, read once for the documents: RunFacts, the steps and the fixed facts.

The lowest module of `documents/`: the cards, the record and the writer all read a `RunFacts`.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..rundir import RunDir

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
    from ..models import DEFAULT_CARD, DEFAULT_MODEL, TINY_MODEL, model_dir

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


def generated_note() -> str:
    from .. import __version__

    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    user = os.environ.get("WORKBENCH_AUTHOR")
    by = f" for {user}" if user else ""
    return (
        f"Generated by workbench {__version__}{by} on {stamp} from the files in the run directory."
    )
