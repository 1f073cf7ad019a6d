"""What the sample answers during training cost: a run with `sample_prompts` off vs on, same shape.

LoRA (the TrainConfig defaults) on `orders-json`, batch 8, max_length 384, 16 eval rows; each
variant trains `--steps` optimizer steps from the same seed with evaluations at the start, every
`--eval-every` steps and at the end. The table shows per variant the median training step, the
median evaluation (the eval loss alone), the answers' own seconds per evaluation (samples.jsonl)
and the run's wall time against the run without them. Variants alternate round by round so a busy
machine slows them alike. Run it alone (it loads the default model):

    flock /tmp/heavy.lock .venv/bin/python benchmarks/sample_cost.py
    .venv/bin/python benchmarks/sample_cost.py --model tiny-random --steps 2 --rounds 1
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
from workbench.training.samples import read_samples  # noqa: E402

VARIANTS = {
    "off": {"sample_prompts": 0},
    "2 prompts x 48 tokens": {"sample_prompts": 2, "sample_max_new_tokens": 48},
    "4 prompts x 96 tokens": {"sample_prompts": 4, "sample_max_new_tokens": 96},
}


class Times(Callback):
    """When each step ended, and how long each evaluation (with its answers) kept training waiting."""

    def __init__(self) -> None:
        self.steps: list[float] = []
        self.last = time.perf_counter()
        self.evals: list[float] = []

    def on_train_begin(self, state) -> None:
        self.last = time.perf_counter()

    def on_step_end(self, state) -> None:
        now = time.perf_counter()
        self.steps.append(now - self.last)
        self.last = now

    def on_evaluate(self, state, metrics) -> None:
        # the eval loss alone: the engine answers the sample prompts after every view's
        # on_evaluate, and on_samples restarts the clock, so no step is timed with the answers
        self.evals.append(time.perf_counter() - self.last)
        self.last = time.perf_counter()

    def on_samples(self, state, answers) -> None:
        self.last = time.perf_counter()


def measure(args: argparse.Namespace, over: dict) -> dict:
    from workbench.training.engine import train

    timer = Times()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(
            model=args.model,
            dataset="orders-json",
            batch_size=8,
            max_length=384,
            max_steps=args.steps,
            max_eval_rows=16,
            log_every=1,
            eval_every=args.eval_every,
            warmup_ratio=0.0,
            run_dir=str(Path(tmp) / "run"),
            **over,
        )
        started = time.perf_counter()
        result = train(cfg, callbacks=[timer])
        wall = time.perf_counter() - started
        answers = read_samples(cfg.run_dir)
    if result.status != "completed":
        raise SystemExit(f"{over}: {result.status}: {result.message}")
    per_eval: dict[int, float] = {a.step: a.seconds for a in answers}
    return {
        "wall_s": wall,
        "step_s": statistics.median(timer.steps[1:] or timer.steps),
        "eval_s": statistics.median(timer.evals),
        "answers_s": statistics.median(per_eval.values()) if per_eval else 0.0,
        "evaluations": len(timer.evals),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--eval-every", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {name: [] for name in args.variants}
    measure(argparse.Namespace(**{**vars(args), "steps": 1}), {})  # imports and caches, untimed
    for _ in range(args.rounds):
        for name in args.variants:
            runs[name].append(measure(args, VARIANTS[name]))
            print(f"  {name}: {runs[name][-1]}", flush=True)
    print(
        f"\n{args.model}, LoRA r=16, orders-json, batch 8 x max_length 384, {args.steps} steps, "
        f"an evaluation of 16 rows every {args.eval_every} steps and at the start, "
        f"{args.rounds} round(s), medians\n"
    )
    print(
        "| variant | s/step | s/evaluation (eval loss) | s of answers per evaluation | run wall s | x off |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    base = statistics.median(o["wall_s"] for o in runs[args.variants[0]])
    for name, outs in runs.items():
        med = {k: statistics.median(o[k] for o in outs) for k in outs[0]}
        print(
            f"| {name} | {med['step_s']:.2f} | {med['eval_s']:.2f} | {med['answers_s']:.2f} | "
            f"{med['wall_s']:.1f} | {med['wall_s'] / base:.2f}x |"
        )


if __name__ == "__main__":
    main()
