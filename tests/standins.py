"""Small stand-in notebooks with the real notebooks' names and hand-offs, for fast pipeline tests.

Each one has a `parameters` cell, reads what the previous one wrote through its typed loader and
writes its own artifact through the real result class (no hand-made JSON: the stand-ins cannot
drift from the schema real runs write), so the pipeline, the gates and the report are tested in
seconds. The builders below are shared by the stand-ins (imported in their kernels) and the tests.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from workbench.comparison.comparison import Comparison, Forgetting, MetricSummary, Row
from workbench.comparison.generation import GenerationSettings
from workbench.config import TrainConfig
from workbench.data.dataset import ChatDataset, Provenance
from workbench.estimation.choice import TechniqueChoice
from workbench.inspection.report import DatasetReport, inspect_dataset
from workbench.rundir import RunDir
from workbench.training.result import SplitData, TrainResult

TESTS = Path(__file__).resolve().parent

IMPORT_PATH = f"import sys; sys.path.insert(0, {str(TESTS)!r})  # this module\n"
PARAMS = {
    "01_inspect_data": 'run_dir = "runs/x"\ninteractive = True\ndataset = "orders-json"\npii_errors = 0',
    "02_choose_technique": 'run_dir = "runs/x"\ninteractive = True\ntechnique = "lora"',
    "03_train": 'run_dir = "runs/x"\ninteractive = True\nmax_steps = 3\nfail_here = False\ntrain_status = "completed"',
    "04_compare": 'run_dir = "runs/x"\ninteractive = True\nschema_valid = 1.0\nforgetting_drop = 0.0',
    "05_document": 'run_dir = "runs/x"\ninteractive = True',
}

BODIES = {
    "01_inspect_data": """
import standins
report = standins.dataset_report(pii_errors=int(pii_errors))
report.save(standins.RunDir(run_dir).inspect_dir)
print("inspected", dataset)
""",
    "02_choose_technique": """
import standins
standins.DatasetReport.load(run_dir)  # notebook 01 ran
standins.technique_choice(run_dir, technique=technique).save(run_dir)
""",
    "03_train": """
import standins
cfg = standins.TechniqueChoice.load(run_dir).train_config.replace(max_steps=max_steps)
if fail_here:
    raise RuntimeError("training diverged (stand-in)")
standins.train_result(cfg, status=train_status).save(run_dir)
""",
    "04_compare": """
import standins
standins.TrainResult.load(run_dir)  # notebook 03 ran
standins.save_comparison(run_dir, schema_valid=schema_valid, probe_base=0.6,
                         probe_tuned=0.6 - forgetting_drop)
""",
    "05_document": """
from workbench.documents.writer import write_run_docs
docs = write_run_docs(run_dir=run_dir)
print(sorted(docs.paths))
""",
}


def make_standin_notebooks(folder: Path, *, extra_code: dict[str, str] | None = None) -> Path:
    """Write the five stand-ins into folder/notebooks/ and return that folder."""
    out = folder / "notebooks"
    out.mkdir(parents=True, exist_ok=True)
    for name, params in PARAMS.items():
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nb.metadata["language_info"] = {"name": "python"}
        cell = nbformat.v4.new_code_cell(params)
        cell.metadata["tags"] = ["parameters"]
        nb.cells = [
            nbformat.v4.new_markdown_cell(f"# {name} (stand-in)"),
            cell,
            nbformat.v4.new_code_cell(IMPORT_PATH + BODIES[name].strip()),
        ]
        if extra_code and name in extra_code:
            nb.cells.append(nbformat.v4.new_code_cell(extra_code[name]))
        nbformat.write(nb, out / f"{name}.ipynb")
    return out


# -- real result objects, built without a model --------------------------------------------------


def chats(texts: list[str]) -> ChatDataset:
    convs = [
        [{"role": "user", "content": t}, {"role": "assistant", "content": f"Answer {i}."}]
        for i, t in enumerate(texts)
    ]
    return ChatDataset(
        convs,
        Provenance(source="<test>", format="chat", rows_read=len(convs), rows_loaded=len(convs)),
    )


def dataset_report(*, pii_errors: int = 0) -> DatasetReport:
    """A real inspection (no tokenizer) of a few rows, `pii_errors` of them with an e-mail address."""
    texts = [
        f"Order {i}: write to customer{i}@example.com about crate {i * 7}"
        for i in range(pii_errors)
    ]
    texts += ["Nothing personal in this request about lamps", "Two chairs and one table, please"]
    return inspect_dataset(chats(texts), tokenizer_or_model=None)


def technique_choice(run_dir: str | Path, *, technique: str = "lora") -> TechniqueChoice:
    cfg = TrainConfig(
        model="tiny-random", technique=technique, dataset="orders-json", run_dir=str(run_dir)
    )
    return TechniqueChoice(train_config=cfg)


def train_result(
    cfg: TrainConfig, *, status: str = "completed", steps: int | None = None
) -> TrainResult:
    """What the engine leaves for `cfg` (train_config.yaml written too); no weights unless completed."""
    cfg.save(cfg.run_dir)
    steps = cfg.max_steps if steps is None else steps
    done = status in ("completed", "stopped")
    return TrainResult(
        status=status,
        message=f"Trained {steps} steps."
        if done
        else f"Training {status} at step {steps} (stand-in).",
        run_dir=cfg.run_dir,
        steps=steps,
        max_steps=cfg.max_steps,
        tokens_seen=20_000,
        wall_time_s=360.0,
        flops=1.1e13,
        trainable_params=4_884_480,
        total_params=139_400_000,
        metrics={"train_loss": 1.5 if done else float("nan")},
        adapter_dir=str(RunDir(cfg.run_dir).adapter_dir) if done else None,
        data={"train": SplitData(rows=64, tokens=20_000, source=cfg.dataset)},
        config=cfg.to_dict(),
    )


def summary(name: str, base: float, tuned: float) -> MetricSummary:
    return MetricSummary(name, 4, base, tuned, tuned - base, None, None, None, 0, 0, 4)


def comparison(
    *,
    schema_valid: float,
    probe_base: float,
    probe_tuned: float,
    unseen_schema_valid: float | None = None,
) -> Comparison:
    row = Row(
        1,
        [{"role": "user", "content": "q"}],
        "r",
        "b",
        "t",
        {"chrf": probe_base},
        {"chrf": probe_tuned},
    )
    probe = Forgetting(
        "general-probe",
        [row],
        {"chrf": summary("chrf", probe_base, probe_tuned)},
        {"base": 10.0, "tuned": 10.5},
        0.05,
        0.25,
        probe_base - probe_tuned > 0.05,
        [],
    )
    settings = GenerationSettings(max_new_tokens=8).to_dict()
    result = Comparison(
        "orders-json",
        [],
        {"schema_valid": summary("schema_valid", 0.2, schema_valid)},
        probe,
        settings,
        {},
    )
    if unseen_schema_valid is not None:  # the rows split by template (Comparison.by_template)
        result.by_template = {
            "in_template": {"schema_valid": summary("schema_valid", 0.2, 1.0)},
            "out_of_template": {"schema_valid": summary("schema_valid", 0.2, unseen_schema_valid)},
        }
    return result


def save_comparison(
    run: str | Path,
    *,
    schema_valid: float,
    probe_base: float,
    probe_tuned: float,
    unseen_schema_valid: float | None = None,
) -> None:
    comparison(
        schema_valid=schema_valid,
        probe_base=probe_base,
        probe_tuned=probe_tuned,
        unseen_schema_valid=unseen_schema_valid,
    ).save(run)
