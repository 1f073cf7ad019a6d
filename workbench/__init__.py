"""A Jupyter-centred fine-tuning workbench: inspect data, choose a technique, train, compare, document.

The public API is re-exported here lazily, so `import workbench` stays light: it imports no widget,
plotting, quantisation or notebook-execution library (and not even torch) until a name is used.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "WorkbenchError": "errors",
    "DataError": "errors",
    "ModelError": "errors",
    "ConfigError": "errors",
    "TechniqueUnavailable": "errors",
    "ArtifactError": "errors",
    "ArtifactMissing": "errors",
    "TrainConfig": "config",
    "RunDir": "rundir",
    "write_json_atomic": "io",
    "ChatDataset": "data.dataset",
    "load_dataset": "data.dataset",
    "PreferenceDataset": "data.preferences",
    "load_preferences": "data.preferences",
    "LabelledDataset": "data.labelled",
    "load_labelled": "data.labelled",
    "list_samples": "data.dataset",
    "sample_path": "data.dataset",
    "sample_schema": "data.dataset",
    "load_model": "models",
    "pull_default_model": "models",
    "DEFAULT_MODEL": "models",
    "TINY_MODEL": "models",
    "get_technique": "techniques",
    "available_techniques": "techniques",
    "all_techniques": "techniques",
    "inspect_dataset": "inspection.report",
    "inspect_pairs": "inspection.pairs",
    "DatasetReport": "inspection.report",
    "clean": "inspection.report",
    "load_splits": "inspection.report",
    "mask_html": "inspection.html",
    "find_pii": "inspection.pii",
    "redact": "inspection.pii",
    "advise": "estimation.advisor",
    "Advice": "estimation.advisor",
    "estimate": "estimation.estimator",
    "Estimate": "estimation.estimator",
    "compare_techniques": "estimation.estimator",
    "dataset_tokens": "estimation.estimator",
    "dataset_rows": "estimation.estimator",
    "probe": "estimation.calibration",
    "TechniqueChoice": "estimation.choice",
    "lever_trial": "estimation.lever_trial",
    "LeverTrial": "estimation.lever_result",
    "lever_trial_figures": "estimation.lever_html",
    "train": "training.engine",
    "TrainResult": "training.result",
    "notebook_config": "training.engine",
    "StopFlag": "training.events",
    "Callback": "training.events",
    "export_script": "training.scaleout",
    "compare": "comparison.comparison",
    "Comparison": "comparison.comparison",
    "load_run": "comparison.generation",
    "GenerationSettings": "comparison.generation",
    "compare_run": "comparison.saved_run",
    "compare_classifier": "comparison.classification",
    "ClassificationComparison": "comparison.classification",
    "compare_runs": "comparison.runs",
    "find_runs": "comparison.runs",
    "RunsComparison": "comparison.runs",
    "write_runs_page": "comparison.runs",
    "runs_tradeoff": "comparison.runs",
    "find_lr": "training.lr_finder",
    "LRFinderResult": "training.lr_finder",
    "log_run_files": "training.tracking",
    "TrackingRun": "training.tracking",
    "sweep": "pipeline.sweep",
    "parse_grid": "pipeline.sweep",
    "SweepResult": "pipeline.sweep",
    "write_run_docs": "documents.writer",
    "RunFacts": "documents.facts",
    "ProviderFacts": "documents.facts",
    "BiasProbe": "documents.bias_probe",
    "not_run": "documents.facts",
    "run_bias_probe": "documents.bias_probe",
    "run_pipeline": "pipeline.runner",
    "RunSummary": "pipeline.summary",
    "inspect_figures": "plots",
    "comparison_figures": "plots",
    "loss_figure": "plots",
    "memory_figure": "plots",
    "tradeoff_figure": "plots",
    "write_figures_html": "plots",
    "export_run": "shipping.export",
    "export_merged": "shipping.merged",
    "write_gguf": "shipping.gguf",
    "LocalServer": "shipping.serve",
    "serve_target": "shipping.serve",
    "measure_cost": "shipping.cost",
    "ShippingReport": "shipping.report",
    "ProvenanceIndex": "provenance.index",
    "find_erasure": "provenance.erasure",
    "write_erasure": "provenance.erasure",
    "ErasureReport": "provenance.erasure",
    "verify_erasure": "provenance.verify",
    "ErasureVerification": "provenance.verify",
    "audit_extraction": "provenance.extraction",
    "ExtractionAudit": "provenance.extraction",
    "unauditable": "provenance.extraction",
}

__all__ = sorted(_EXPORTS)

# Modules that moved into the stage packages, kept importable under their old names: training
# scripts exported before the move say `from workbench.train import train`. Each alias is a light
# stand-in that imports its target on first attribute access, registered in sys.modules so that
# importing it never binds a submodule over the public function of the same name.
_MOVED = {
    "train": "training.engine",
    "compare": "comparison.comparison",
    "estimate": "estimation.estimator",
}


class _MovedModule(types.ModuleType):
    def __init__(self, old: str, new: str):
        super().__init__(f"{__name__}.{old}", f"Moved to {__name__}.{new}.")
        self._target = f"{__name__}.{new}"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(importlib.import_module(self._target), name)


for _old, _new in _MOVED.items():
    sys.modules.setdefault(f"{__name__}.{_old}", _MovedModule(_old, _new))


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
