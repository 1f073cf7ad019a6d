"""Notebook 02's estimate panel saves what it shows as the run's choice only when asked to."""

from __future__ import annotations

from workbench.config import TrainConfig
from workbench.estimation.choice import TechniqueChoice


def test_use_for_notebook_03_saves_the_panels_config(tmp_path):
    from workbench.ui.estimate import EstimatePanel

    run = tmp_path / "run"
    cfg = TrainConfig(model="smollm2-135m-instruct", technique="lora", run_dir=str(run))
    panel = EstimatePanel(config=cfg, hardware="this-cpu")
    panel.model.value, panel.technique.value = "llama-3.1-8b", "qlora"
    panel.hardware.value, panel.grad_ckpt.value = "l4-24gb", True
    assert TechniqueChoice.load_optional(run) is None  # trying things out saves nothing
    panel.save_button.click()
    saved = TechniqueChoice.load(run)
    assert (saved.train_config.model, saved.technique) == ("llama-3.1-8b", "qlora")
    assert saved.train_config.gradient_checkpointing is True
    assert saved.estimate is not None and saved.estimate.technique == "qlora"
    assert "Notebook 03 trains this" in panel.status.value
