"""Small stand-in notebooks with the real notebooks' names and hand-offs, for fast pipeline tests.

Each one has a `parameters` cell, reads what the previous one wrote and writes its own artifact in
the run-dir layout, so the pipeline, the gates and the report can be tested in seconds.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from workbench.comparison.comparison import Comparison, Forgetting, MetricSummary, Row
from workbench.comparison.generation import GenerationSettings
from workbench.data.dataset import ChatDataset, Provenance

PARAMS = {
    "01_inspect_data": 'run_dir = "runs/x"\ninteractive = True\ndataset = "orders-json"\npii_errors = 0\ntruncated_share = 0.0',
    "02_choose_technique": 'run_dir = "runs/x"\ninteractive = True\ntechnique = "lora"',
    "03_train": 'run_dir = "runs/x"\ninteractive = True\nmax_steps = 3\nfail_here = False',
    "04_compare": 'run_dir = "runs/x"\ninteractive = True\nschema_valid = 1.0\nforgetting_drop = 0.0',
    "05_document": 'run_dir = "runs/x"\ninteractive = True',
}

BODIES = {
    "01_inspect_data": """
import json, pathlib
rd = pathlib.Path(run_dir)
(rd / "inspect").mkdir(parents=True, exist_ok=True)
findings = [{"row": 1, "field": "messages[0].content", "kind": "pii", "severity": "error",
             "message": "email in the user turn (a***@example.com); redact it or drop the row."}] * int(pii_errors)
report = {"provenance": {"source": dataset, "format": "chat", "sha256": "ab" * 32, "rows_read": 10,
                         "rows_loaded": 10, "sample": dataset, "split": "train"},
          "format": "chat", "counts": {"rows": 10}, "findings": findings,
          "lengths": {"max_length": 512, "share_truncated": truncated_share},
          "pii": {"counts": {"email": int(pii_errors)}, "rows_with_pii": min(1, int(pii_errors)),
                  "not_detected": "names and postal addresses"}}
(rd / "inspect" / "report.json").write_text(json.dumps(report))
print("inspected", dataset)
""",
    "02_choose_technique": """
import json, pathlib
rd = pathlib.Path(run_dir)
assert (rd / "inspect" / "report.json").is_file(), "notebook 01 did not run"
(rd / "technique.json").write_text(json.dumps({"train_config": {"technique": technique}}))
""",
    "03_train": """
import json, pathlib
rd = pathlib.Path(run_dir)
cfg = json.loads((rd / "technique.json").read_text())["train_config"]
if fail_here:
    raise RuntimeError("training diverged (stand-in)")
(rd / "train_result.json").write_text(json.dumps({"steps": max_steps, "final_loss": 1.5, "technique": cfg["technique"]}))
""",
    "04_compare": """
import json, pathlib
rd = pathlib.Path(run_dir)
assert (rd / "train_result.json").is_file()
def summary(name, base, tuned):
    return {"name": name, "n": 4, "base_mean": base, "tuned_mean": tuned, "delta": tuned - base}
data = {"dataset": "orders-json", "summary": {"schema_valid": summary("schema_valid", 0.5, schema_valid)},
        "forgetting": {"dataset": "general-probe", "flag": forgetting_drop > 0.05, "reasons": [],
                       "summary": {"chrf": summary("chrf", 0.6, 0.6 - forgetting_drop)},
                       "perplexity": {"base": 10.0, "tuned": 11.0}}}
(rd / "comparison.json").write_text(json.dumps(data))
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
            nbformat.v4.new_code_cell(BODIES[name].strip()),
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


def summary(name: str, base: float, tuned: float) -> MetricSummary:
    return MetricSummary(name, 4, base, tuned, tuned - base, None, None, None, 0, 0, 4)


def save_comparison(
    run: Path, *, schema_valid: float, probe_base: float, probe_tuned: float
) -> None:
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
    comp = Comparison(
        "orders-json",
        [],
        {"schema_valid": summary("schema_valid", 0.2, schema_valid)},
        probe,
        settings,
        {},
    )
    comp.save(run)
