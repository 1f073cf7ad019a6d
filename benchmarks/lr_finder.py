"""The LR range test's suggestion against a small grid of learning rates on orders-json (LoRA).

    flock /tmp/heavy.lock .venv/bin/python benchmarks/lr_finder.py                   # default model
    .venv/bin/python benchmarks/lr_finder.py --model tiny-random --steps 4 --rows 16  # smoke run

The range test runs on a few real batches of the training split (then its refining runs between
the curve's steepest fall and its minimum); each grid rate then trains the same rows for the same
steps from the same seed, and the final eval loss on held-out rows ranks them. The table ends with
the factor between the grid's best rate and each of: the refined suggestion, the steepest fall
alone (the classic rule, `refine=0`) and the curve's minimum.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from workbench.config import TrainConfig
from workbench.training.engine import train
from workbench.training.lr_finder import find_lr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--grid", default="1e-4,3e-4,1e-3,3e-3")
    parser.add_argument("--steps", type=int, default=12, help="training steps per grid rate")
    parser.add_argument("--rows", type=int, default=64, help="training rows")
    parser.add_argument("--finder-steps", type=int, default=25)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lr-bench-"))
    base = TrainConfig(
        model=args.model,
        dataset="orders-json",
        max_train_rows=args.rows,
        max_eval_rows=16,
        batch_size=4,
        max_steps=args.steps,
        eval_at_start=False,
        log_every=4,
        report_to="none",
        run_dir=str(root / "finder"),
    )
    started = time.monotonic()
    found = find_lr(base, start_lr=1e-5, end_lr=1e-1, num_steps=args.finder_steps)
    print(f"range test ({time.monotonic() - started:.0f} s): {found.reason}")
    rows = []
    for lr in [float(x) for x in args.grid.split(",")]:
        t = time.monotonic()
        result = train(base.replace(learning_rate=lr, run_dir=str(root / f"lr-{lr:g}")))
        rows.append((lr, result.metrics.get("eval_loss"), time.monotonic() - t))
    print(f"\n{'learning_rate':>14} {'final eval loss':>16} {'seconds':>8}")
    for lr, loss, seconds in rows:
        print(f"{lr:>14.1e} {loss:>16.4f} {seconds:>8.0f}")
    best = min(rows, key=lambda r: r[1])[0]
    print(f"\ngrid best {best:.1e}")
    print(f"{'rule':>28} {'rate':>9} {'factor to the grid best':>24}")
    for name, lr in (
        ("refined (the suggestion)", found.suggestion),
        ("steepest fall (refine=0)", found.steepest_lr),
        ("curve minimum", found.min_loss_lr),
    ):
        if lr:
            print(f"{name:>28} {lr:>9.2e} {max(lr / best, best / lr):>24.2f}")
    for r in found.refined:
        print(f"  refining run at {r['lr']:.2e}: held-out loss {r['held_loss']:.4f}")


if __name__ == "__main__":
    main()
