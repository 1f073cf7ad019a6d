"""Where each step of a run leaves its artifacts: one layout shared by notebooks, CLI and pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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

    # notebook 02: technique choice, read by notebook 03
    @property
    def technique_json(self) -> Path:
        return self.root / "technique.json"

    # notebook 03: training
    @property
    def train_config_yaml(self) -> Path:
        return self.root / "train_config.yaml"

    @property
    def train_result_json(self) -> Path:
        return self.root / "train_result.json"

    @property
    def metrics_jsonl(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def checkpoints_dir(self) -> Path:
        return self.root / "checkpoints"

    @property
    def adapter_dir(self) -> Path:
        return self.root / "adapter"

    @property
    def merged_dir(self) -> Path:
        return self.root / "merged"

    @property
    def figures_dir(self) -> Path:
        return self.root / "figures"

    # notebook 04: comparison
    @property
    def comparison_json(self) -> Path:
        return self.root / "comparison.json"

    @property
    def comparison_html(self) -> Path:
        return self.root / "comparison.html"

    # notebook 05: documentation
    @property
    def docs_dir(self) -> Path:
        return self.root / "docs"

    # pipeline
    @property
    def notebooks_dir(self) -> Path:
        return self.root / "notebooks"

    @property
    def summary_json(self) -> Path:
        return self.root / "summary.json"

    def ensure(self) -> RunDir:
        self.root.mkdir(parents=True, exist_ok=True)
        return self
