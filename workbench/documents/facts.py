"""What a run directory holds, read once for the documents: RunFacts, the steps and the fixed facts.

The lowest module of `documents/`: the cards, the record and the writer all read a `RunFacts`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..rundir import OPTIONAL, RunDir, read_json, read_yaml

if TYPE_CHECKING:
    from ..comparison.classification import ClassificationComparison
    from ..comparison.comparison import Comparison, ConstrainedComparison
    from ..config import TrainConfig
    from ..estimation.choice import TechniqueChoice
    from ..inspection.report import DatasetReport
    from ..pipeline.retune_record import RetuneRecord
    from ..pipeline.summary import RunSummary
    from ..provenance.canaries import CanaryAudit
    from ..provenance.extraction import ExtractionAudit
    from ..provenance.index import ProvenanceIndex
    from ..training.result import TrainResult
    from .bias_probe import BiasProbe

log = logging.getLogger(__name__)

STEPS = {
    "inspect": "01 (data inspection: notebook 01_inspect_data or `workbench inspect`)",
    "technique": "02 (technique choice: notebook 02_choose_technique)",
    "train": "03 (training: notebook 03_train or `workbench train`)",
    "comparison": "04 (comparison: notebook 04_compare or `workbench compare`)",
    "bias": "05 (bias probe: notebook 05_document or `workbench report --bias-probe`)",
}
# Average power drawn while training, used for the energy estimate (an assumption, stated in the
# record): a busy desktop/laptop CPU core ~10 W; one data-centre GPU ~300 W (board power varies 70-700 W).
POWER_W = {"cpu_core": 10.0, "gpu": 300.0}
GPAI_THRESHOLD_FLOP = 1e23  # Commission GPAI guidelines (July 2025): indicative GPAI threshold


def not_run(step: str) -> str:
    return f"not available: step {STEPS[step]} was not run"


def _fact(label: str) -> Any:
    return field(default=None, metadata={**OPTIONAL, "label": label})


@dataclass
class ProviderFacts:
    """What only the provider can state (docs/provider.yaml). Every fact may be absent: the
    documents then say "to be completed by the provider"."""

    provider_name: Any = _fact(
        "Provider (who fine-tunes and places the model on the market / puts it into service)"
    )
    contact: Any = _fact("Contact")
    intended_purpose: Any = _fact("Intended purpose")
    high_risk_use: Any = _fact("Is the intended use high-risk (AI Act Annex III / Annex I)?")
    language: Any = _fact("Language(s) of the data")
    dataset_licence: Any = _fact("Licence / terms of use of the training data")
    collection_purpose: Any = _fact("Original purpose for which the data was collected")
    legal_basis: Any = _fact(
        "GDPR legal basis for personal data in the training set (Art. 6, Art. 9)"
    )
    out_of_scope_uses: Any = _fact("Out-of-scope uses")
    human_oversight: Any = _fact("Human oversight measures")
    region: Any = _fact("Region / grid of the training hardware (for CO2)")

    @classmethod
    def from_dict(cls, data: Any, *, file: str | Path = "<dict>") -> ProviderFacts:
        """Known facts from a mapping; blank values count as absent, unknown keys are logged."""
        from ..config import unknown_keys_message
        from ..errors import ArtifactError

        if not isinstance(data, Mapping):
            raise ArtifactError(
                f"{file}: expected a mapping of fact: value, got {type(data).__name__}."
            )
        known = set(PROVIDER_FIELDS)
        unknown = sorted(set(map(str, data)) - known)
        if unknown:  # a typo would leave its fact "to be completed": say so
            log.warning("%s: ignored. %s", file, unknown_keys_message(unknown, known, what="fact"))
        return cls(**{k: v for k, v in data.items() if k in known and v not in (None, "")})

    def to_dict(self) -> dict[str, Any]:
        """The stated facts only."""
        return {k: v for k in PROVIDER_FIELDS if (v := getattr(self, k)) is not None}

    def get(self, key: str, default: Any = None) -> Any:
        value = getattr(self, key, None) if key in PROVIDER_FIELDS else None
        return default if value is None else value

    def merged(self, *others: Mapping[str, Any] | ProviderFacts) -> ProviderFacts:
        """These facts with each of `others` on top (a later one wins; blanks change nothing)."""
        data = self.to_dict()
        for other in others:
            other = other if isinstance(other, ProviderFacts) else ProviderFacts.from_dict(other)
            data.update(other.to_dict())
        return ProviderFacts(**data)

    def save(self, run_dir: str | Path) -> Path:
        import yaml

        from ..io import write_text_atomic

        header = "# Facts only the provider can state; read by `workbench report`.\n"
        text = header + yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)
        return write_text_atomic(RunDir(run_dir).provider_yaml, text)

    @classmethod
    def load_optional(cls, run_dir: str | Path) -> ProviderFacts | None:
        """None when nobody stated anything yet; ArtifactError when the file is not YAML."""
        path = RunDir(run_dir).provider_yaml
        data = read_yaml(path)
        return None if data is None else cls.from_dict(data, file=path)

    @classmethod
    def load(cls, run_dir: str | Path) -> ProviderFacts:
        """The stated facts; none stated (no file) is an empty ProviderFacts, not an error."""
        return cls.load_optional(run_dir) or cls()


PROVIDER_FIELDS = {f.name: f.metadata["label"] for f in fields(ProviderFacts)}


@dataclass
class RunFacts:
    """What a run directory holds, read once through each step's typed loader.

    Every step's field is None when that step did not run; a corrupt file raises ArtifactError
    (naming the file and field) rather than being documented as "not run".
    """

    run_dir: Path
    summary: RunSummary | None = None
    inspect: DatasetReport | None = None
    technique: TechniqueChoice | None = None
    train_config: TrainConfig | None = None
    train: TrainResult | None = None
    comparison: Comparison | None = None
    constrained: ConstrainedComparison | None = None  # 04 again, decoded against the schema
    classification: ClassificationComparison | None = None  # 04 on a classification run
    bias: BiasProbe | None = None
    provenance: ProvenanceIndex | None = None  # the data subjects' salted hashes (training)
    extraction: ExtractionAudit | None = None  # `workbench audit`, when it ran
    retune: RetuneRecord | None = None  # `workbench retune`: the run this one repeats on a new base
    canaries: CanaryAudit | None = None  # `workbench canaries`: planted secrets' exposure
    provider: ProviderFacts = field(default_factory=ProviderFacts)
    base: dict[str, Any] = field(default_factory=dict)  # facts about the base model, when known
    inspected_other: str | None = None  # what 01 inspected, when not the training data

    @classmethod
    def read(cls, run_dir: str | Path, *, provider: Mapping[str, Any] | None = None) -> RunFacts:
        from ..comparison.classification import ClassificationComparison
        from ..comparison.comparison import Comparison, ConstrainedComparison
        from ..config import TrainConfig
        from ..estimation.choice import TechniqueChoice
        from ..inspection.report import DatasetReport
        from ..pipeline.retune_record import RetuneRecord
        from ..pipeline.summary import RunSummary
        from ..provenance.canaries import CanaryAudit
        from ..provenance.extraction import ExtractionAudit
        from ..provenance.index import ProvenanceIndex
        from ..training.result import TrainResult
        from .bias_probe import BiasProbe

        root = RunDir(run_dir).root
        facts = cls(
            run_dir=root,
            summary=RunSummary.load_optional(root),
            inspect=DatasetReport.load_optional(root),
            technique=TechniqueChoice.load_optional(root),
            train_config=TrainConfig.load_optional(root),
            train=TrainResult.load_optional(root),
            comparison=Comparison.load_optional(root),
            constrained=ConstrainedComparison.load_optional(root),
            classification=ClassificationComparison.load_optional(root),
            bias=BiasProbe.load_optional(root),
            provenance=ProvenanceIndex.load_optional(root),
            extraction=ExtractionAudit.load_optional(root),
            retune=RetuneRecord.load_optional(root),
            canaries=CanaryAudit.load_optional(root),
        )
        if facts.train_config is None and facts.technique is not None:
            facts.train_config = facts.technique.train_config  # chosen, not (yet) trained
        facts.provider = ProviderFacts.load(root).merged(
            facts.summary.provider if facts.summary else {}, provider or {}
        )
        facts.base = base_model_facts(facts.param("model"))
        facts._set_aside_other_inspection()
        return facts

    @property
    def trained_data(self) -> str | None:
        """The training data: the source training read, else the configured dataset."""
        split = self.train.data.get("train") if self.train else None
        return (split.source if split is not None else None) or self.param("dataset")

    def _set_aside_other_inspection(self) -> None:
        """An inspection of other data than the training data documents nothing about the run."""
        if self.inspect is None:
            return
        prov = self.inspect.provenance
        inspected = prov.get("sample") or prov.get("source")
        seen, trained = _data_key(inspected), _data_key(self.trained_data)
        clean_copy = str(RunDir(self.run_dir).clean_copy.resolve())  # cleaned from what 01 saw
        if seen and trained and seen != trained and trained != clean_copy:
            self.inspected_other, self.inspect = str(inspected), None

    @property
    def has_weights(self) -> bool:
        """Training saved weights (not when it diverged or failed)."""
        return self.train is not None and self.train.adapter_dir is not None

    def param(self, name: str, default: Any = None) -> Any:
        """A run parameter: the training config first, then the pipeline's parameters."""
        configs = [self.train_config, self.train.train_config if self.train else None]
        for cfg in configs:
            value = getattr(cfg, name, None)
            if value not in (None, ""):
                return value
        value = (self.summary.parameters if self.summary else {}).get(name)
        return default if value in (None, "") else value

    def said(self, key: str) -> Any:
        """A fact the provider stated, or None (shown as 'to be completed by the provider')."""
        return self.provider.get(key)


def _data_key(name: Any) -> str | None:
    """A sample name or a resolved path; None for data that names neither ("<DataFrame>")."""
    from ..data.dataset import list_samples

    if not isinstance(name, str) or not name or name.startswith("<"):
        return None
    return name if name in list_samples() else str(Path(name).expanduser().resolve())


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
    card = _model_card(model_dir(name)) or _model_card(Path(name)) or {}
    return {
        "name": name,
        "base_model": card.get("base_model", name if "/" in name else None),
        **card,
    }


def _model_card(folder: Path) -> dict[str, Any] | None:
    """The workbench_source.json a prepared model folder carries (not a run-directory file)."""
    from ..errors import ArtifactError

    try:
        data = read_json(folder / "workbench_source.json")
    except ArtifactError:  # an unreadable card only means the licence is not known
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
