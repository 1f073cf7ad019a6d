"""Notebook 05 headless on a real tiny run (bias probe + documents), and its preview widget without a browser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_notebook

from workbench.config import TrainConfig
from workbench.training.engine import train


def tiny_run(run_dir: Path, *, on_file: bool = False) -> Path:
    """A 2-step tiny run; `on_file`: its data is a JSONL file named in the config (auditable)."""
    convs = [
        [
            {"role": "user", "content": f"Order {i} for John"},
            {"role": "assistant", "content": f'{{"order": {i}, "mail": "john{i}@example.com"}}'},
        ]
        for i in range(8)
    ]
    cfg = TrainConfig(
        model="tiny-random",
        run_dir=str(run_dir),
        max_steps=2,
        batch_size=4,
        log_every=1,
        max_length=64,
    )
    if on_file:
        data = run_dir.parent / f"{run_dir.name}-data.jsonl"
        data.write_text("".join(json.dumps({"messages": c}) + "\n" for c in convs))
        result = train(cfg.replace(dataset=str(data), eval_dataset=str(data)))
    else:
        result = train(cfg, train_data=convs, eval_data=convs[:2])
    assert result.status == "completed", result.message
    return run_dir


@pytest.mark.slow
def test_notebook_05_probes_bias_and_writes_documents(tiny_model_dir, run_dir):
    tiny_run(run_dir, on_file=True)
    out = run_notebook(
        "05_document.ipynb", run_dir, bias_pairs=3, bias_max_new_tokens=6, audit_sample=5
    )
    audit = json.loads((run_dir / "extraction_audit.json").read_text())  # the memorisation audit
    assert audit["sample"] == 5 and audit["pii_values_in_training"] == 8
    assert "john" not in json.dumps(audit)  # scores and row numbers, never the texts
    docs = run_dir / "docs"
    for name in ("model_card.md", "data_card.md", "ai_act_record.md", "ai_act_record.html"):
        assert (docs / name).is_file(), name
    probe = json.loads((docs / "bias_probe.json").read_text())
    assert probe["n"] == 3 and all(p["prompt"] != p["swapped_prompt"] for p in probe["pairs"])
    record = (docs / "ai_act_record.md").read_text()
    assert "3 pairs" in record and "not available: step 05" not in record
    gdpr = "".join(p.read_text() for p in docs.glob("*.md"))
    assert "Memorisation (extraction audit), measured on 5 of" in gdpr
    executed = json.loads(out.read_text())
    html_outputs = [
        o["data"]["text/html"]
        for c in executed["cells"]
        if c["cell_type"] == "code"
        for o in c.get("outputs", [])
        if "text/html" in o.get("data", {})
    ]
    shown = "".join("".join(h) if isinstance(h, list) else h for h in html_outputs)
    assert (
        "AI Act / GDPR record" in shown and "<svg" in shown
    )  # the record and its compute figure are visible
    assert "application/vnd.jupyter.widget-view+json" not in json.dumps(
        executed["cells"][-2]
    )  # no widget headless


def test_preview_widget_saves_provider_facts_and_regenerates(tmp_path):
    from workbench.ui.report import ReportPreview

    view = ReportPreview(tmp_path)
    assert "to be completed by the provider" in view.tabs.children[2].value
    labels = [box.description for box in view.inputs.values()]
    assert labels[0] == "Provider" and not any("_" in label for label in labels)  # no raw keys
    view.inputs["intended_purpose"].value = "Answer customer questions about orders"
    view.save.click()
    assert (
        "Answer customer questions about orders"
        in (tmp_path / "docs" / "provider.yaml").read_text()
    )
    assert "Answer customer questions about orders" in view.tabs.children[2].value
    assert (
        "Answer customer questions about orders"
        in (tmp_path / "docs" / "ai_act_record.md").read_text()
    )
    assert (
        ReportPreview(tmp_path).inputs["intended_purpose"].value
        == "Answer customer questions about orders"
    )
