"""Step time of the options that limit forgetting: baseline vs kl_to_base vs replay, same shape.

With replay, the KL on every answer token (`kl_on="all"`) is timed beside the KL on the replay
rows' only (`kl_on="replay"`), whose base forward runs on the replay rows of a batch alone.

LoRA (the TrainConfig defaults) on `orders-json`, batch 8, max_length 384; each variant trains
`--steps` optimizer steps from the same seed. A step's time is the gap between two `on_step_end`
events (the first step, which warms up, is left out); the table shows medians and the ratio to
the baseline, plus real tokens per second (replay rows have other lengths than the task's, so
its step time moves with the tokens as well as with the work). Variants alternate round by round
so a busy machine slows them alike. Run it alone (it loads the default model):

    flock /tmp/heavy.lock .venv/bin/python benchmarks/forgetting_options.py
    .venv/bin/python benchmarks/forgetting_options.py --model tiny-random --steps 3 --rounds 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WORKBENCH_REPORT_TO", "none")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.config import TrainConfig  # noqa: E402
from workbench.models import DEFAULT_MODEL  # noqa: E402
from workbench.training.events import Callback  # noqa: E402

VARIANTS = {
    "baseline": {},
    "kl_to_base=0.1": {"kl_to_base": 0.1},
    "replay 20%": {"replay": "general-replay", "replay_share": 0.2},
    "replay 20% + kl_to_base=0.1": {
        "replay": "general-replay",
        "replay_share": 0.2,
        "kl_to_base": 0.1,
    },
    "replay 20% + kl_to_base=0.1 on replay": {
        "replay": "general-replay",
        "replay_share": 0.2,
        "kl_to_base": 0.1,
        "kl_on": "replay",
    },
}


class StepTimes(Callback):
    def __init__(self) -> None:
        self.ends: list[float] = []
        self.tokens: list[int] = []

    def on_step_end(self, state) -> None:
        self.ends.append(time.perf_counter())
        self.tokens.append(state.tokens_seen)


def measure(args: argparse.Namespace, over: dict) -> dict:
    from workbench.training.engine import train

    timer = StepTimes()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(
            model=args.model,
            dataset="orders-json",
            batch_size=8,
            max_length=384,
            max_steps=args.steps + 1,
            log_every=1,
            eval_every=0,
            eval_at_start=False,
            eval_dataset="none",
            warmup_ratio=0.0,
            run_dir=str(Path(tmp) / "run"),
            **over,
        )
        result = train(cfg, callbacks=[timer])
    if result.status != "completed":
        raise SystemExit(f"{over}: {result.status}: {result.message}")
    gaps = [b - a for a, b in zip(timer.ends, timer.ends[1:], strict=False)]
    tokens = timer.tokens[-1] - timer.tokens[0]
    return {"step_s": statistics.median(gaps), "tokens_per_s": tokens / sum(gaps)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per variant (+1 warm-up)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    for _ in range(args.rounds):
        for name, over in VARIANTS.items():
            runs[name].append(measure(args, over))
    print(
        f"\n{args.model}, LoRA r=16, orders-json, batch 8 x max_length 384, "
        f"{args.steps} timed steps, {args.rounds} round(s), medians\n"
    )
    print(f"{'variant':<40} {'s/step':>8} {'x baseline':>11} {'tokens/s':>9}")
    base = statistics.median(o["step_s"] for o in runs["baseline"])
    for name, outs in runs.items():
        step = statistics.median(o["step_s"] for o in outs)
        tps = statistics.median(o["tokens_per_s"] for o in outs)
        print(f"{name:<40} {step:>8.2f} {step / base:>10.2f}x {tps:>9.0f}")


if __name__ == "__main__":
    main()
