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
    "TrainConfig": "config",
    "RunDir": "rundir",
    "ChatDataset": "data",
    "load_dataset": "data",
    "list_samples": "data",
    "sample_path": "data",
    "sample_schema": "data",
    "load_model": "models",
    "pull_default_model": "models",
    "DEFAULT_MODEL": "models",
    "TINY_MODEL": "models",
    "get_technique": "techniques",
    "available_techniques": "techniques",
    "inspect_dataset": "inspect",
    "DatasetReport": "inspect",
    "clean": "inspect",
    "find_pii": "pii",
    "redact": "pii",
    "advise": "advisor",
    "Advice": "advisor",
    "estimate": "estimate",
    "Estimate": "estimate",
    "probe": "estimate",
    "train": "train",
    "TrainResult": "train",
    "StopFlag": "callbacks",
    "Callback": "callbacks",
    "export_script": "scaleout",
    "compare": "compare",
    "Comparison": "compare",
    "load_run": "generation",
    "GenerationSettings": "generation",
    "compare_run": "compare_run",
    "write_run_docs": "report",
    "run_pipeline": "pipeline",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)


class _Package(types.ModuleType):
    """Public functions win over same-named submodules (`estimate`, `train`, `compare`).

    Importing `workbench.train` makes Python bind the submodule as the package attribute `train`,
    which would shadow the function `workbench.train`. Submodules stay reachable through
    `from workbench.train import ...` and `sys.modules`.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _EXPORTS.get(name) == name:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
