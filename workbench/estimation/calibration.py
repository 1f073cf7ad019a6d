"""Calibration probe: a few real optimizer steps on this machine, peak memory and step time measured.

The probe loads the model the way training does (`load_model` + `Technique.prepare`), runs a plain
AdamW loop on random token batches of the configured shape, and measures:
- on CPU, the process's peak resident set size (VmHWM) during the steps, reset just before them
  through /proc/self/clear_refs (Linux >= 4.0); elsewhere a 5 ms RSS sampler thread;
- on CUDA, `torch.cuda.max_memory_allocated` (the CUDA context is not included there).
By default it runs in a fresh Python process so earlier work in a notebook kernel does not count.
"""

from __future__ import annotations

import html
import json
import logging
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..config import TrainConfig
from ..errors import WorkbenchError

log = logging.getLogger(__name__)


@dataclass
class ProbeResult:
    """What a probe measured, next to what `estimate` predicted for the same shape and machine."""

    model: str
    technique: str
    device: str
    max_length: int
    batch_size: int
    steps: int
    peak_bytes: float  # measured: process RSS peak (CPU) or max_memory_allocated (CUDA)
    baseline_bytes: float  # RSS after imports, before the model (CPU); 0 on CUDA
    step_s: float  # median seconds per step, first step (optimizer state allocation) excluded
    losses: list[float]
    estimate: Any  # the Estimate for the same shape on this machine
    micro_batch_size: int = (
        0  # rows per forward/backward, as the engine runs the batch (0: unknown)
    )

    @property
    def tokens_per_s(self) -> float:
        return self.max_length * self.batch_size / self.step_s

    @property
    def estimated_bytes(self) -> float:
        """The estimate on the probe's basis: CUDA peaks exclude the context that `overhead` holds."""
        est = self.estimate.peak_bytes
        return est - self.estimate.breakdown["overhead"] if self.device.startswith("cuda") else est

    @property
    def memory_ratio(self) -> float:
        return self.peak_bytes / self.estimated_bytes

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["estimate"] = self.estimate.to_dict()
        data.update(
            tokens_per_s=self.tokens_per_s,
            estimated_bytes=self.estimated_bytes,
            memory_ratio=self.memory_ratio,
        )
        return data

    def _repr_html_(self) -> str:
        rows = [
            ("peak memory measured", f"{self.peak_bytes / 1e9:.2f} GB"),
            ("peak memory estimated", f"{self.estimated_bytes / 1e9:.2f} GB"),
            ("measured / estimated", f"{self.memory_ratio:.2f}"),
            ("tokens/s measured", f"{self.tokens_per_s:,.0f}"),
            ("tokens/s estimated", f"{self.estimate.tokens_per_s:,.0f}"),
            ("loss per step", ", ".join(f"{x:.3f}" for x in self.losses)),
        ]
        cells = "".join(
            f"<tr><td>{k}</td><td style='text-align:right'>{html.escape(v)}</td></tr>"
            for k, v in rows
        )
        micro = self.micro_batch_size
        parts = f" as micro-batches of {micro}" if 0 < micro < self.batch_size else ""
        return (
            f"<div><b>Probe</b>: {html.escape(self.technique)} on {html.escape(self.device)}, "
            f"{self.steps} steps of {self.batch_size} x {self.max_length} tokens{parts}"
            f"<table>{cells}</table></div>"
        )


def probe(cfg: TrainConfig, *, steps: int = 3, isolated: bool = True) -> ProbeResult:
    """Run `steps` (>= 2) real AdamW steps of `cfg`'s model/technique/shape and measure them."""
    from .estimator import estimate
    from .presets import this_cpu, this_gpu

    steps = max(int(steps), 2)
    raw = _run_isolated(cfg, steps) if isolated else measure(cfg, steps=steps)
    device = raw["device"]
    hardware = this_gpu() if device.startswith("cuda") else this_cpu(measure=True)
    est = estimate(cfg, hardware=hardware)
    return ProbeResult(
        model=cfg.model,
        technique=cfg.technique,
        device=device,
        max_length=cfg.max_length,
        batch_size=cfg.batch_size,
        steps=steps,
        peak_bytes=raw["peak_bytes"],
        baseline_bytes=raw["baseline_bytes"],
        step_s=raw["step_s"],
        losses=raw["losses"],
        estimate=est,
        micro_batch_size=int(raw.get("micro_batch_size", cfg.batch_size)),
    )


def measure(cfg: TrainConfig, *, steps: int) -> dict[str, Any]:
    """The measurement itself, in this process. Returns plain numbers (JSON-able)."""
    import torch

    from ..malloc import apply_cpu_low_memory
    from ..models import choose_device, load_model
    from ..techniques import get_technique
    from ..training.loss import model_loss
    from .estimator import micro_batch_size

    baseline = _rss()
    device = choose_device(cfg.device)
    apply_cpu_low_memory(cfg.cpu_low_memory, device)
    tech = get_technique(cfg.technique)
    tech.check(device=device)
    model, _ = load_model(cfg.model, technique=cfg.technique, dtype=cfg.dtype, device=device)
    model = tech.prepare(model, cfg)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    # memory does not depend on the rate; "find" (the range test runs at training time) is no number
    lr = cfg.learning_rate if cfg.learning_rate != "find" else 1e-4
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    ids = torch.randint(
        0, model.config.vocab_size, (cfg.batch_size, cfg.max_length), generator=gen
    ).to(device)
    # the batch as the engine runs it: micro-batches that fit, gradients accumulated
    micro = micro_batch_size(cfg, device=device)
    peak = _PeakMeter(device)
    times, losses = [], []
    for _ in range(steps):
        t0 = time.perf_counter()
        loss = torch.zeros(())
        for rows in ids.split(micro):
            batch = {"input_ids": rows, "labels": rows}  # every position labelled: the costliest
            part = model_loss(model, batch)  # the loss training uses (no full logits)
            part = (model(**batch).loss if part is None else part) * len(rows) / len(ids)
            part.backward()
            loss += part.detach().cpu()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return {
        "device": device,
        "micro_batch_size": micro,
        "peak_bytes": peak.stop(),
        "baseline_bytes": baseline,
        "step_s": statistics.median(times[1:]),
        "losses": losses,
    }


class _PeakMeter:
    """Peak memory from now on: VmHWM after a reset, a sampler thread, or CUDA's allocator counter."""

    def __init__(self, device: str):
        import gc

        gc.collect()
        self.device, self._peak, self._stop = device, 0.0, threading.Event()
        self._thread = None
        if device.startswith("cuda"):
            import torch

            torch.cuda.reset_peak_memory_stats()
        elif not _reset_hwm():
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self._peak = max(self._peak, _rss())

    def stop(self) -> float:
        if self.device.startswith("cuda"):
            import torch

            return float(torch.cuda.max_memory_allocated())
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            return max(self._peak, _rss())
        return _status_kb("VmHWM") * 1024.0


def _reset_hwm() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_kb("VmHWM") > 0
    except OSError:
        return False


def _status_kb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return float(line.split()[1])
    return 0.0


def _rss() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss)


def _run_isolated(cfg: TrainConfig, steps: int) -> dict[str, Any]:
    payload = json.dumps({"config": cfg.to_dict(), "steps": steps})
    env = {**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.estimation.calibration", payload],
        capture_output=True,
        text=True,
        env=env,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip()[-1500:]
        killed = " (killed: probably out of memory)" if proc.returncode in (-9, 137) else ""
        raise WorkbenchError(
            f"The probe process failed with exit code {proc.returncode}{killed}:\n{tail}"
        )
    return json.loads(lines[-1])


def _main(argv: list[str]) -> int:
    request = json.loads(argv[0])
    result = measure(TrainConfig.from_dict(request["config"]), steps=int(request["steps"]))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
