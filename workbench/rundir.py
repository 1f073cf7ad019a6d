"""The run-directory contract: where each step leaves its artifacts, and how a later step reads them back typed.

Every file a run writes has one owner type (a dataclass) that saves and loads it: `DatasetReport`
(inspect/report.json), `TechniqueChoice` (technique.json), `LeverTrial` (lever_trial.json), `TrainConfig` (train_config.yaml),
`TrainResult` (train_result.json), `ProvenanceIndex` (provenance.json), `ErasureVerification`
(erasure/verification.json), `ExtractionAudit` (extraction_audit.json), `LRFinderResult`
(lr_find.json), `Comparison` (comparison.json), `ConstrainedComparison` (constrained_comparison.json),
`ClassificationComparison` (classification.json), `BiasProbe`
(docs/bias_probe.json), `ProviderFacts` (docs/provider.yaml), `RunSummary` (summary.json),
`ShippingReport` (export/shipping.json).
Reading rule, the same for all: every field the writer writes is required (a missing one is an
error naming the file and the field: the file was written by something else, or a field was
renamed); keys the type does not know are ignored (a newer writer may add some); values must have
the declared type. `load` raises `ArtifactMissing` when the step did not run and `ArtifactError`
when the file is corrupt; `load_optional` returns None for the first and raises the second.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from .errors import ArtifactError, ArtifactMissing

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunDir:
    """Paths inside a run directory. Creating the object touches nothing on disk."""

    root: Path

    def __init__(self, root: str | Path):
        object.__setattr__(self, "root", Path(root))

    # notebook 01: dataset inspection
    @property
    def inspect_dir(self) -> Path:
        return self.root / "inspect"

    @property
    def inspect_report_json(self) -> Path:
        return self.inspect_dir / "report.json"

    @property
    def inspect_report_html(self) -> Path:
        return self.inspect_dir / "report.html"

    @property
    def clean_copy(self) -> Path:
        """Where notebook 01 saves a cleaned copy of the training data (its log beside it)."""
        return self.inspect_dir / "train.clean.jsonl"

    @property
    def inspect_figures_html(self) -> Path:
        return self.figures_dir / "inspect_data.html"

    def clean_logs(self) -> list[Path]:
        """The `*.clean_log.json` files `CleanResult.save` left anywhere in the run."""
        return sorted(self.root.glob("**/*.clean_log.json"))

    # notebook 02: technique choice, read by notebook 03
    @property
    def technique_json(self) -> Path:
        return self.root / "technique.json"

    @property
    def lever_trial_json(self) -> Path:
        return self.root / "lever_trial.json"

    @property
    def lever_trial_html(self) -> Path:
        return self.root / "lever_trial.html"

    @property
    def lever_trial_dir(self) -> Path:
        """The lever trial's short fine-tunes, one run directory each (lora-25, lora-50, ...)."""
        return self.root / "lever_trial"

    @property
    def lever_figures_html(self) -> Path:
        return self.figures_dir / "lever_trial.html"

    @property
    def memory_figure_html(self) -> Path:
        return self.figures_dir / "memory.html"

    # notebook 03: training
    @property
    def train_config_yaml(self) -> Path:
        return self.root / "train_config.yaml"

    @property
    def labels_json(self) -> Path:
        """A classification run's label names, in the order of the head's outputs."""
        return self.root / "labels.json"

    @property
    def train_result_json(self) -> Path:
        return self.root / "train_result.json"

    @property
    def provenance_json(self) -> Path:
        """The salted hashes of the data subjects in the run's data, and its data files."""
        return self.root / "provenance.json"

    @property
    def salt_file(self) -> Path:
        """The project's salt for hashing data subjects: beside the outermost run folder.

        A run nested in another (a lever trial's short fine-tunes) shares its project's salt.
        """
        top = self.root.resolve()
        for parent in top.parents:
            if (parent / self.marker_file.name).is_file():
                top = parent
        return top.parent / ".workbench-salt"

    @property
    def erasure_dir(self) -> Path:
        """What an erasure request writes for this run (cleaned data, retrain parameters)."""
        return self.root / "erasure"

    @property
    def extraction_audit_json(self) -> Path:
        """`workbench audit`: how much of its training data the tuned model reproduces."""
        return self.root / "extraction_audit.json"

    def erasure_request_dir(self, request_id: str) -> Path:
        """One erasure request's cleaned data files, retrain parameters and report."""
        return self.erasure_dir / request_id

    def erasure_params(self, request_id: str) -> Path:
        """The TrainConfig YAML that retrains this run on the request's cleaned data."""
        return self.erasure_request_dir(request_id) / "train_config.yaml"

    def erasure_report_json(self, request_id: str) -> Path:
        return self.erasure_request_dir(request_id) / "report.json"

    def erasure_report_md(self, request_id: str) -> Path:
        return self.erasure_request_dir(request_id) / "report.md"

    @property
    def erasure_verification_json(self) -> Path:
        """`workbench erase --verify`: whether this retrained run is free of an erased subject."""
        return self.erasure_dir / "verification.json"

    @property
    def erasure_verification_md(self) -> Path:
        return self.erasure_dir / "verification.md"

    @property
    def lr_find_json(self) -> Path:
        """LRFinderResult: the range test a run with learning_rate='find' trained after."""
        return self.root / "lr_find.json"

    @property
    def lr_find_figure_html(self) -> Path:
        return self.figures_dir / "lr_find.html"

    @property
    def metrics_jsonl(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def samples_jsonl(self) -> Path:
        """Greedy answers to a few eval prompts at each evaluation (TrainConfig.sample_prompts)."""
        return self.root / "samples.jsonl"

    @property
    def checkpoints_dir(self) -> Path:
        return self.root / "checkpoints"

    @property
    def adapter_dir(self) -> Path:
        return self.root / "adapter"

    @property
    def model_dir(self) -> Path:
        """The fully fine-tuned model (techniques that save no adapter)."""
        return self.root / "model"

    @property
    def merged_dir(self) -> Path:
        return self.root / "merged"

    @property
    def tracking_json(self) -> Path:
        """Which tracker run (MLflow run id, store) holds this run's numbers."""
        return self.root / "tracking.json"

    @property
    def mlflow_db(self) -> Path:
        """The default MLflow store: one SQLite database beside the run folders, shared by them."""
        return self.root.resolve().parent / "mlflow.db"

    @property
    def mlflow_artifacts(self) -> Path:
        """Where the default MLflow store keeps the runs' artifacts (beside `mlflow_db`)."""
        return self.root.resolve().parent / "mlartifacts"

    @property
    def scaleout_dir(self) -> Path:
        return self.root / "scaleout"

    @property
    def figures_dir(self) -> Path:
        return self.root / "figures"

    @property
    def loss_figure_html(self) -> Path:
        return self.figures_dir / "loss.html"

    # notebook 04: comparison
    @property
    def comparison_json(self) -> Path:
        return self.root / "comparison.json"

    @property
    def comparison_html(self) -> Path:
        return self.root / "comparison.html"

    @property
    def constrained_comparison_json(self) -> Path:
        """The comparison again, both models decoded against the task's JSON schema."""
        return self.root / "constrained_comparison.json"

    @property
    def constrained_comparison_html(self) -> Path:
        return self.root / "constrained_comparison.html"

    @property
    def classification_json(self) -> Path:
        """Notebook 04 on a classification run: the tuned head vs prompting (ClassificationComparison)."""
        return self.root / "classification.json"

    @property
    def classification_html(self) -> Path:
        return self.root / "classification.html"

    @property
    def comparison_figures_html(self) -> Path:
        return self.figures_dir / "comparison.html"

    # notebook 06: many runs side by side (compare_runs), sweeps
    @property
    def runs_comparison_html(self) -> Path:
        return self.root / "runs_comparison.html"

    # notebook 05: documentation
    @property
    def docs_dir(self) -> Path:
        return self.root / "docs"

    @property
    def bias_probe_json(self) -> Path:
        return self.docs_dir / "bias_probe.json"

    @property
    def provider_yaml(self) -> Path:
        return self.docs_dir / "provider.yaml"

    def doc_file(self, name: str) -> Path:
        """A written document, e.g. `doc_file("model_card.md")`."""
        return self.docs_dir / name

    # shipping: merged export, GGUF files, Ollama Modelfile, the shipping report
    @property
    def export_dir(self) -> Path:
        return self.root / "export"

    @property
    def export_merged_dir(self) -> Path:
        """The merged safetensors model `workbench export` writes (tokenizer and chat template inside)."""
        return self.export_dir / "merged"

    def gguf_file(self, quant: str) -> Path:
        """A GGUF export, e.g. `gguf_file("q8_0")` -> export/model-q8_0.gguf."""
        return self.export_dir / f"model-{quant}.gguf"

    @property
    def modelfile(self) -> Path:
        """The Ollama Modelfile beside the GGUF files."""
        return self.export_dir / "Modelfile"

    @property
    def shipping_json(self) -> Path:
        return self.export_dir / "shipping.json"

    # pipeline
    @property
    def notebooks_dir(self) -> Path:
        return self.root / "notebooks"

    def executed_notebook(self, name: str) -> Path:
        """Where the pipeline leaves the executed copy of notebook `name` (e.g. "03_train.ipynb")."""
        return self.notebooks_dir / name

    @property
    def summary_json(self) -> Path:
        return self.root / "summary.json"

    @property
    def canary_audit_json(self) -> Path:
        """CanaryAudit: planted canaries' exposure per checkpoint (`workbench canaries`)."""
        return self.root / "canary_audit.json"

    @property
    def canaries_dir(self) -> Path:
        """The training split's copy with the canaries planted (train.jsonl, eval.jsonl)."""
        return self.root / "canaries"

    @property
    def retune_json(self) -> Path:
        """RetuneRecord: the run this one repeats on a new base (`workbench retune`)."""
        return self.root / "retune.json"

    @property
    def retune_comparison_html(self) -> Path:
        """The re-tuned run against the run it repeats (`workbench retune`)."""
        return self.root / "retune_comparison.html"

    # training/claim.py: the folder is a workbench run; one trainer at a time
    @property
    def marker_file(self) -> Path:
        return self.root / ".workbench-run"

    @property
    def lock_file(self) -> Path:
        return self.root / ".workbench.lock"

    def ensure(self) -> RunDir:
        self.root.mkdir(parents=True, exist_ok=True)
        return self


# -- reading files -------------------------------------------------------------------------------


def read_json(path: str | Path) -> Any | None:
    """The parsed JSON of `path`; None when the file does not exist; ArtifactError when it is not JSON."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot be read ({exc}).") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArtifactError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}). "
            "Was it cut off? Rerun the step that writes it."
        ) from exc


def read_yaml(path: str | Path) -> Any | None:
    """The parsed YAML of `path`; None when the file does not exist; ArtifactError when it is not YAML."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot be read ({exc}).") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ArtifactError(f"{path}: not valid YAML ({exc}).") from exc


# -- typed decoding ------------------------------------------------------------------------------

NOT_SAVED = {"saved": False}  # field metadata: kept in memory only (a loaded dataset, a tokenizer)
OPTIONAL = {"optional": True}  # field metadata: may be absent from the file (then its default)


def saved_fields(cls: type) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if f.init and f.metadata.get("saved", True)]


def to_plain(obj: Any) -> dict[str, Any]:
    """A dataclass as a JSON-ready dict, without the fields marked NOT_SAVED."""
    return {f.name: _plain(getattr(obj, f.name)) for f in saved_fields(type(obj))}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return value.to_dict() if hasattr(value, "to_dict") else to_plain(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, Path) else value


def decode(cls: type, data: Any, *, file: str | Path = "<dict>", field: str = "") -> Any:
    """Build dataclass `cls` from `data` (parsed JSON), nested dataclasses included, by the rule above."""
    if not isinstance(data, Mapping):
        raise ArtifactError(f"{file}: {_where(field)}expected an object, got {_show(data)}.")
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in saved_fields(cls):
        name = f"{field}.{f.name}" if field else f.name
        if f.name in data:
            kwargs[f.name] = _value(hints[f.name], data[f.name], file, name)
        elif not f.metadata.get("optional"):
            raise ArtifactError(
                f"{file}: required field '{name}' is missing (a renamed or dropped field: the "
                f"file was not written by this version's {cls.__name__})."
            )
    extra = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
    if extra:
        log.debug("%s: ignoring keys %s unknown to %s", file, extra, cls.__name__)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ArtifactError(f"{file}: {_where(field)}{exc}") from exc


def _value(hint: Any, value: Any, file: str | Path, field: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or hint is object:
        return value
    if origin in (typing.Union, types.UnionType):
        return _union(hint, args, value, file, field)
    if dataclasses.is_dataclass(hint):
        return decode(hint, value, file=file, field=field)
    if origin is list or hint is list:
        _expect(isinstance(value, list), hint, value, file, field)
        item = args[0] if args else Any
        return [_value(item, v, file, f"{field}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        _expect(isinstance(value, (list, tuple)), hint, value, file, field)
        items = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
        _expect(len(items) == len(value), hint, value, file, field)
        return tuple(
            _value(t, v, file, f"{field}[{i}]")
            for i, (t, v) in enumerate(zip(items, value, strict=True))
        )
    if origin is dict or hint is dict:
        _expect(isinstance(value, Mapping), hint, value, file, field)
        item = args[1] if args else Any
        return {k: _value(item, v, file, f"{field}.{k}") for k, v in value.items()}
    return _scalar(hint, value, file, field)


def _union(hint: Any, args: tuple, value: Any, file: str | Path, field: str) -> Any:
    if value is None:
        _expect(type(None) in args, hint, value, file, field)
        return None
    arms = [a for a in args if a is not type(None)]
    if len(arms) == 1:
        return _value(arms[0], value, file, field)
    for arm in arms:
        try:
            return _value(arm, value, file, field)
        except ArtifactError:
            continue
    raise _wrong(hint, value, file, field)


def _scalar(hint: Any, value: Any, file: str | Path, field: str) -> Any:
    if hint is float:
        _expect(
            isinstance(value, (int, float)) and not isinstance(value, bool),
            hint,
            value,
            file,
            field,
        )
        return float(value)
    if hint is int:
        _expect(isinstance(value, int) and not isinstance(value, bool), hint, value, file, field)
        return value
    if hint in (str, bool):
        _expect(isinstance(value, hint), hint, value, file, field)
        return value
    if hint is Path:
        _expect(isinstance(value, str), hint, value, file, field)
        return Path(value)
    return value  # a type the contract does not check (kept as read)


def _expect(ok: bool, hint: Any, value: Any, file: str | Path, field: str) -> None:
    if not ok:
        raise _wrong(hint, value, file, field)


def _wrong(hint: Any, value: Any, file: str | Path, field: str) -> ArtifactError:
    return ArtifactError(f"{file}: {_where(field)}expected {_type_name(hint)}, got {_show(value)}.")


def _where(field: str) -> str:
    return f"field '{field}': " if field else ""


def _type_name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def _show(value: Any) -> str:
    text = repr(value)
    return f"{text[:60] + '...' if len(text) > 60 else text} ({type(value).__name__})"


# -- the owner types' shared save / load ---------------------------------------------------------


class Artifact:
    """Mixin for a dataclass saved as one JSON file of a run directory.

    A subclass names its file (`FILE`, a RunDir property) and the step that writes it (`MADE_BY`).
    """

    FILE: ClassVar[str]
    MADE_BY: ClassVar[str]

    @classmethod
    def path_in(cls, run_dir: str | Path) -> Path:
        return getattr(RunDir(run_dir), cls.FILE)

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, file: str | Path = "<dict>") -> Any:
        return decode(cls, data, file=file)

    def save(self, run_dir: str | Path) -> Path:
        """Write the file into `run_dir`, atomically; returns its path."""
        from .io import write_json_atomic

        return write_json_atomic(self.path_in(run_dir), self.to_dict())

    @classmethod
    def load(cls, run_dir: str | Path) -> Any:
        """Read it back; ArtifactMissing when absent, ArtifactError when it does not match this type."""
        path = cls.path_in(run_dir)
        data = read_json(path)
        if data is None:
            raise ArtifactMissing(f"{path}: not found; {cls.MADE_BY} writes it.")
        try:
            return cls.from_dict(data, file=path)
        except ArtifactError as exc:
            raise ArtifactError(f"{exc} Rerun {cls.MADE_BY} to rewrite it.") from exc

    @classmethod
    def load_optional(cls, run_dir: str | Path) -> Any | None:
        """None when the step did not run (no file); a corrupt file still raises ArtifactError."""
        try:
            return cls.load(run_dir)
        except ArtifactMissing:
            return None


__all__ = [
    "RunDir",
    "Artifact",
    "decode",
    "read_json",
    "read_yaml",
    "to_plain",
    "NOT_SAVED",
    "OPTIONAL",
]
