"""Answer time of schema-constrained decoding against free decoding, same model, same prompts.

The first `--prompts` held-out `orders-json` prompts, answered greedily in batches of 8 with at
most 160 new tokens, by the model as it is (or a run's tuned model with `--run`): once freely,
once decoded against the sample's JSON schema (comparison/constrained.py). The two alternate
round by round, so a busy machine slows them alike; the table shows each one's median seconds,
new tokens per second and the ratio to free decoding, plus the schema-valid share of its answers.
The first constrained call builds the tokenizer's prefix tree (timed on its own, not in the rounds).
Run it alone (it loads the default model):

    flock /tmp/heavy.lock .venv/bin/python benchmarks/constrained_decoding.py --run runs/demo
    .venv/bin/python benchmarks/constrained_decoding.py --model tiny-random --prompts 8 --rounds 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.comparison import metrics as M  # noqa: E402
from workbench.comparison.constrained import _tokenizer_data  # noqa: E402
from workbench.comparison.generation import (  # noqa: E402
    GenerationSettings,
    generate,
    load_run,
    stop_token_ids,
)
from workbench.data.dataset import SAMPLES_DIR, sample_schema  # noqa: E402
from workbench.models import DEFAULT_MODEL  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=DEFAULT_MODEL, help="a model name (ignored with --run)")
    ap.add_argument("--run", help="a run directory: time its tuned model")
    ap.add_argument("--prompts", type=int, default=24)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    if args.run:
        pair = load_run(args.run)
        model, tokenizer, what = pair.tuned, pair.tokenizer, f"tuned model of {args.run}"
    else:
        from workbench.models import load_model

        model, tokenizer = load_model(args.model, technique="full")
        what = args.model
    model.eval()
    schema = sample_schema("orders-json")
    rows = [json.loads(line) for line in (SAMPLES_DIR / "orders-json" / "eval.jsonl").open()]
    prompts = [r["messages"][:-1] for r in rows[: args.prompts]]
    t0 = time.perf_counter()
    _tokenizer_data(tokenizer, tuple(stop_token_ids(tokenizer)))
    build_s = time.perf_counter() - t0

    times: dict[str, list[float]] = {"free": [], "constrained": []}
    tokens: dict[str, list[int]] = {"free": [], "constrained": []}
    valid: dict[str, float] = {}
    for _ in range(args.rounds):
        for name in times:
            settings = GenerationSettings(max_new_tokens=160, constrain=name == "constrained")
            start = time.perf_counter()
            answers = generate(model, tokenizer, prompts, settings=settings, schema=schema)
            times[name].append(time.perf_counter() - start)
            tokens[name].append(
                sum(len(tokenizer(a, add_special_tokens=False)["input_ids"]) for a in answers)
            )
            valid[name] = statistics.mean(M.schema_valid(a, schema=schema) for a in answers)

    print(f"{what}: {len(prompts)} orders-json prompts, batches of 8, {args.rounds} round(s)")
    print(f"prefix tree of the tokenizer ({len(tokenizer)} tokens): {build_s:.1f} s, once")
    print("| decoding | median s | new tokens/s | ratio to free | schema-valid |")
    print("|---|---:|---:|---:|---:|")
    base = statistics.median(times["free"])
    for name, ts in times.items():
        med = statistics.median(ts)
        rate = statistics.median(tokens[name]) / med
        print(f"| {name} | {med:.1f} | {rate:.1f} | {med / base:.2f}x | {valid[name]:.1%} |")


if __name__ == "__main__":
    main()
