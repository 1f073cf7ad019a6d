"""Estimator panel: pick model, hardware and shape; see memory by component for every technique
against the hardware's limit, and run the calibration probe on this machine."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from ..config import TrainConfig
from ..estimation.calibration import probe
from ..estimation.estimator import Estimate, compare_techniques, config_from_keywords
from ..estimation.presets import HARDWARE_ALIASES, HARDWARE_PRESETS, MODEL_PRESETS
from ..models import DEFAULT_MODEL
from ..plots import memory_figure
from ..techniques import available_techniques, get_technique


class EstimatePanel:
    """View over `compare_techniques` and `probe` of the TrainConfig the widgets describe.

    Set the widgets' `.value`, click `button`: `estimates` holds one Estimate per technique,
    `table.value` the comparison table, `figure` the last plotly figure. `probe_button` runs a
    probe of `config()` (the technique is `technique.value`). `config=` seeds the widgets and
    keeps the fields they do not show (lora_r, target_modules, ...).
    """

    def __init__(
        self,
        *,
        config: TrainConfig | None = None,
        hardware: str = "this-cpu",
        probe_steps: int = 3,
        **legacy: Any,
    ):
        cfg = config_from_keywords(config, legacy, caller="EstimatePanel")
        self.base_config = cfg
        model, technique = cfg.model, cfg.technique
        models = list(dict.fromkeys([model, DEFAULT_MODEL, *MODEL_PRESETS]))
        self.model = w.Combobox(
            value=model, options=models, description="model", ensure_option=False
        )
        self.technique = w.Dropdown(
            options=available_techniques(), value=technique, description="technique"
        )
        self.hardware = w.Dropdown(
            options=["this-cpu", *HARDWARE_PRESETS],
            value=HARDWARE_ALIASES.get(hardware, hardware),  # "l4" -> "l4-24gb"
            description="hardware",
        )
        self.max_length = w.BoundedIntText(
            value=cfg.max_length, min=16, max=1_000_000, description="max_length"
        )
        self.batch_size = w.BoundedIntText(
            value=cfg.batch_size, min=1, max=4096, description="batch"
        )
        self.grad_ckpt = w.Checkbox(
            value=cfg.gradient_checkpointing, description="gradient checkpointing"
        )
        self.low_memory = w.Checkbox(
            value=cfg.cpu_low_memory,
            description="cpu_low_memory",
            tooltip="CPU: give freed memory back at once; lower peak RAM, slower steps",
        )
        self.button = w.Button(description="Estimate", button_style="primary", icon="calculator")
        self.probe_steps = w.BoundedIntText(
            value=probe_steps, min=2, max=50, description="probe steps"
        )
        self.probe_button = w.Button(description="Run probe here", icon="stopwatch")
        self.save_button = w.Button(
            description="Use for notebook 03",
            icon="save",
            tooltip="Save this model, technique and shape as the run's choice (technique.json)",
        )
        self.table, self.status = w.HTML(), w.HTML()
        self.plot = w.Output()
        self.estimates: list[Estimate] = []
        self.figure: Any = None
        self.probe_result: Any = None
        self.button.on_click(lambda _b: self.update())
        self.probe_button.on_click(lambda _b: self.run_probe())
        self.save_button.on_click(lambda _b: self.save_choice())
        wrap = w.Layout(flex_flow="row wrap", width="100%")  # wrap rather than squeeze buttons
        self.widget = w.VBox(
            [
                w.HBox([self.model, self.technique, self.hardware], layout=wrap),
                w.HBox(
                    [
                        self.max_length,
                        self.batch_size,
                        self.grad_ckpt,
                        self.low_memory,
                        self.button,
                    ],
                    layout=wrap,
                ),
                self.table,
                self.plot,
                w.HBox([self.probe_steps, self.probe_button, self.save_button], layout=wrap),
                self.status,
            ],
            layout=w.Layout(width="100%", max_width="100%"),
        )
        for box in self.widget.children[:2]:
            for child in box.children:
                if not isinstance(child, w.Button):
                    child.layout.width = "auto"
                    child.style.description_width = "initial"

    def update(self) -> list[Estimate]:
        try:
            self.estimates = compare_techniques(config=self.config(), hardware=self.hardware.value)
        except Exception as exc:
            self.status.value = (
                f"<p style='color:#c62828'>{html.escape(f'{type(exc).__name__}: {exc}')}</p>"
            )
            return []
        self.table.value = comparison_table_html(self.estimates)
        self.figure = memory_figure(self.estimates)
        self.plot.clear_output()
        with self.plot:
            self.figure.show()
        self.status.value = ""
        return self.estimates

    def config(self) -> TrainConfig:
        """The config the widgets describe (the fields they do not show come from `config=`)."""
        return self.base_config.replace(
            model=self.model.value,
            technique=self.technique.value,
            max_length=self.max_length.value,
            batch_size=self.batch_size.value,
            gradient_checkpointing=self.grad_ckpt.value,
            cpu_low_memory=self.low_memory.value,
        )

    def run_probe(self) -> Any:
        self.status.value = "Running the probe in a fresh process (real training steps)..."
        try:
            self.probe_result = probe(self.config(), steps=self.probe_steps.value)
            self.status.value = self.probe_result._repr_html_()
        except Exception as exc:
            self.status.value = (
                f"<p style='color:#c62828'>{html.escape(f'{type(exc).__name__}: {exc}')}</p>"
            )
        return self.probe_result

    def save_choice(self) -> Any:
        """Save the config the widgets describe as the run's choice (notebook 03 trains it)."""
        from ..estimation.choice import TechniqueChoice
        from ..estimation.estimator import estimate

        cfg = self.config()
        try:
            previous = TechniqueChoice.load_optional(cfg.run_dir)
            est = estimate(cfg, hardware=self.hardware.value)
            choice = TechniqueChoice(
                train_config=cfg,
                estimate=est,
                advice=previous.advice if previous else None,
                probe=self.probe_result,
            )
            path = choice.save(cfg.run_dir)
        except Exception as exc:  # a handler shows its own errors instead of losing them
            self.status.value = (
                f"<p style='color:#c62828'>{html.escape(f'{type(exc).__name__}: {exc}')}</p>"
            )
            return None
        self.status.value = (
            f"Saved <code>{html.escape(str(path))}</code>: <b>{html.escape(cfg.technique)}</b> on "
            f"<code>{html.escape(cfg.model)}</code>, {'fits' if est.fits else 'does NOT fit'} on "
            f"{html.escape(self.hardware.value)}. Notebook 03 trains this."
        )
        return choice

    def _ipython_display_(self) -> None:
        from IPython.display import display

        self.update()
        display(self.widget)


def comparison_table_html(estimates: list[Estimate]) -> str:
    """One row per technique: trainable share, peak, fit, tokens/s."""
    head = "".join(
        f"<th>{h}</th>" for h in ("technique", "trainable", "peak", "fits", "tokens/s", "saves")
    )
    rows = []
    for e in estimates:
        saves = "adapter" if get_technique(e.technique).saves_adapter else "full model"
        colour = "#2e7d32" if e.fits else "#c62828"
        rows.append(
            f"<tr><td>{e.technique}</td><td>{100 * e.trainable_params / max(e.params, 1):.2f}%</td>"
            f"<td>{e.peak_bytes / 1e9:.2f} GB</td><td style='color:{colour}'>{'yes' if e.fits else 'no'}</td>"
            f"<td>{e.tokens_per_s:,.0f}</td><td>{saves}</td></tr>"
        )
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"
