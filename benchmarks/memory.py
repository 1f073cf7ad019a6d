"""Peak memory and speed of training: the model's own loss (full logits) vs the chunked labelled loss.

Each measurement is a fresh Python process that runs `workbench.train` for a few real steps on
`orders-json` and reports its peak resident set size (VmHWM: model load, steps and saving, as
`/usr/bin/time -v` would) and real tokens/s over the training steps. Variants run side by side,
alternated round by round, so a busy machine slows them alike:

- `before`: the engine before this work (transformers' loss over every position's logits, the
  whole batch in one forward/backward);
- `chunked loss`: the labelled-positions loss (training/loss.py), the whole batch at once;
- `chunked, micro N`: the batch as micro-batches of N rows (gradients accumulated);
- `default (auto)`: what the engine does now (micro-batch chosen from memory, training/micro_batch.py);
- `default + lowmem`: the same with `cpu_low_memory` (glibc returns freed blocks at once).

Shapes: the demo and README configuration (LoRA, batch 8 x 384), and packed rows at max_length
1,024 (batch 2) and 2,048 (batch 1), which fill every position.

    .venv/bin/python benchmarks/memory.py                     # default model, 3 steps, 1 round
    .venv/bin/python benchmarks/memory.py --model tiny-random --steps 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.models import DEFAULT_MODEL  # noqa: E402

SHAPES = {  # name -> TrainConfig fields
    "demo 8x384": {"batch_size": 8, "max_length": 384, "packing": False},
    "packed 2x1024": {"batch_size": 2, "max_length": 1024, "packing": True},
    "packed 1x2048": {"batch_size": 1, "max_length": 2048, "packing": True},
}
VARIANTS = {  # loss path, rows per forward/backward ("whole": the batch at once), cpu_low_memory
    "before": {"loss": "model", "micro": "whole", "cpu_low_memory": False},
    "chunked loss": {"loss": "chunked", "micro": "whole", "cpu_low_memory": False},
    "chunked, micro 4": {"loss": "chunked", "micro": 4, "cpu_low_memory": False},
    "chunked, micro 2": {"loss": "chunked", "micro": 2, "cpu_low_memory": False},
    "default (auto)": {"loss": "chunked", "micro": None, "cpu_low_memory": False},
    "default + lowmem": {"loss": "chunked", "micro": None, "cpu_low_memory": True},
}

CHILD = r"""
import json, sys, time
spec = json.loads(sys.argv[1])
from transformers import Trainer
from workbench.config import TrainConfig
from workbench.training.engine import train
from workbench.training.events import Callback
from workbench.training.trainer import WorkbenchTrainer
if spec.pop("loss") == "model":
    WorkbenchTrainer.compute_loss = Trainer.compute_loss  # the path before training/loss.py
micro = spec.pop("micro")
spec["micro_batch_size"] = spec["batch_size"] if micro == "whole" else micro

class Clock(Callback):
    def on_train_begin(self, state):
        self.t0, self.tokens0 = time.perf_counter(), state.tokens_seen
    def on_step_end(self, state):
        self.t1, self.tokens1 = time.perf_counter(), state.tokens_seen

clock = Clock()
result = train(TrainConfig(**spec), callbacks=[clock])
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({
    "status": result.status,
    "peak_gb": int(hwm.split()[1]) * 1024 / 1e9,
    "tokens_per_s": (clock.tokens1 - clock.tokens0) / (clock.t1 - clock.t0),
    "final_loss": result.metrics.get("train_loss"),
}))
"""


def measure(spec: dict) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        raise SystemExit(f"child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--shapes", nargs="*", default=list(SHAPES))
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    args = parser.parse_args()
    found: dict[tuple[str, str], list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for shape in args.shapes:
                for variant in args.variants:
                    knobs = VARIANTS[variant]
                    spec = dict(
                        model=args.model,
                        technique="lora",
                        dataset="orders-json",
                        max_steps=args.steps,
                        log_every=1,
                        eval_every=0,
                        eval_at_start=False,
                        save_every=0,
                        learning_rate=1e-3,
                        warmup_ratio=0.0,
                        run_dir=str(Path(tmp) / f"{r}-{shape.replace(' ', '_')}-{variant}"),
                        **SHAPES[shape],
                        **knobs,
                    )
                    out = measure(spec)
                    found.setdefault((shape, variant), []).append(out)
                    print(f"  {shape:14} {variant:15} {json.dumps(out)}", flush=True)
    print(f"\n{args.model}, LoRA r=16, {args.steps} steps, {args.rounds} round(s), medians\n")
    print("| shape | variant | peak RSS GB | vs before | real tokens/s | vs before |")
    print("|---|---|---:|---:|---:|---:|")
    for shape in args.shapes:
        base = found[(shape, "before")]
        base_gb = statistics.median(o["peak_gb"] for o in base)
        base_tps = statistics.median(o["tokens_per_s"] for o in base)
        for variant in args.variants:
            runs = found[(shape, variant)]
            gb = statistics.median(o["peak_gb"] for o in runs)
            tps = statistics.median(o["tokens_per_s"] for o in runs)
            print(
                f"| {shape} | {variant} | {gb:.2f} | {gb / base_gb:.2f}x | {tps:.1f} | "
                f"{tps / base_tps:.2f}x |"
            )


if __name__ == "__main__":
    main()
