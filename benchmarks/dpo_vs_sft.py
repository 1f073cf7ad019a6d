"""SFT, then DPO from the SFT adapter, on the support-tone samples: style-check pass rate on held-out prompts.

    flock /tmp/heavy.lock .venv/bin/python benchmarks/dpo_vs_sft.py                  # default model
    .venv/bin/python benchmarks/dpo_vs_sft.py --model tiny-random --sft-steps 2 --dpo-steps 2 --prompts 4

SFT trains on support-tone (train split); DPO starts from that adapter (its reference is the SFT
model) and trains on support-tone-pairs (same train prompts, on-brand chosen, off-brand rejected).
Both answer support-tone's 40 held-out eval prompts greedily; each answer is scored with the style
checks of style.json (greeting, sign-off, banned phrases, length) and "all_style" (every check
passes). The table gives SFT and DPO means and the paired bootstrap 95% interval of DPO - SFT.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from workbench.comparison.comparison import compare
from workbench.comparison.generation import ModelPair, load_run
from workbench.comparison.metrics import style_metrics
from workbench.config import TrainConfig
from workbench.data.dataset import SAMPLES_DIR, load_dataset
from workbench.training.engine import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--out", type=Path, default=Path("runs/dpo-vs-sft"))
    parser.add_argument("--sft-steps", type=int, default=-1, help="-1: one epoch")
    parser.add_argument("--dpo-steps", type=int, default=-1, help="-1: one epoch")
    parser.add_argument("--dpo-lr", type=float, default=5e-5)
    parser.add_argument("--beta", type=float, default=0.1)
    parser.add_argument("--prompts", type=int, default=40)
    args = parser.parse_args()
    common = dict(model=args.model, max_length=256, eval_every=0, eval_at_start=False,
                  log_every=5, report_to="none")  # fmt: skip
    t0 = time.monotonic()
    sft = train(TrainConfig(**common, dataset="support-tone", run_dir=str(args.out / "sft"),
                            batch_size=8, max_steps=args.sft_steps, learning_rate=2e-4))  # fmt: skip
    t_sft = time.monotonic() - t0
    dpo = train(TrainConfig(**common, objective="dpo", dataset="support-tone-pairs",
                            init_adapter=str(args.out / "sft"), run_dir=str(args.out / "dpo"),
                            batch_size=4, max_steps=args.dpo_steps, learning_rate=args.dpo_lr,
                            beta=args.beta))  # fmt: skip
    t_dpo = time.monotonic() - t0 - t_sft
    for name, r in (("sft", sft), ("dpo", dpo)):
        print(f"{name}: {r.status} {r.steps} steps, {r.tokens_per_second:.0f} tok/s, {r.message}")
    print("dpo eval:", {k: round(v, 4) for k, v in dpo.metrics.items()})
    style = json.loads((SAMPLES_DIR / "support-tone" / "style.json").read_text())
    checks = style_metrics(style)
    parts = dict(checks)  # "all_style" must not call itself
    checks["all_style"] = lambda out, ref: float(all(f(out, ref) == 1.0 for f in parts.values()))
    sft_pair, dpo_pair = load_run(args.out / "sft"), load_run(args.out / "dpo")
    pair = ModelPair(tuned=dpo_pair.tuned, base=sft_pair.tuned, tokenizer=dpo_pair.tokenizer)
    prompts = load_dataset("support-tone", split="eval").head(args.prompts)
    result = compare(tuned=pair, prompts=prompts, metrics=checks,
                     generation={"max_new_tokens": 128}, n_boot=2000)  # fmt: skip
    print(f"\ntrain: SFT {t_sft:.0f} s, DPO {t_dpo:.0f} s; {len(prompts)} held-out prompts")
    print(f"{'check':<20} {'SFT':>6} {'DPO':>6} {'DPO-SFT':>8}  95% CI           W/L/T")
    for name, s in result.summary.items():
        lo, hi = s.delta_ci or (float("nan"), float("nan"))
        print(f"{name:<20} {s.base_mean:6.3f} {s.tuned_mean:6.3f} {s.delta:+8.3f}  "
              f"[{lo:+.3f}, {hi:+.3f}]  {s.wins}/{s.losses}/{s.ties}")  # fmt: skip
    result.save(args.out / "dpo")
    for row in result.rows[:3]:
        print(f"--- {row.question}\nSFT: {row.base!r}\nDPO: {row.tuned!r}")


if __name__ == "__main__":
    main()
