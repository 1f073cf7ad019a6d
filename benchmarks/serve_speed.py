"""Cost per call's speed: the exported model answering in-process vs through `workbench serve`.

`workbench cost` times requests through transformers' server; this puts that next to the same
merged model answering the same prompts in this process (`generate`, one prompt at a time, greedy,
the same token limit), so the server's own overhead is a ratio rather than a guess. Variants
alternate prompt by prompt so a busy machine slows both alike. Run it alone, on an exported run:

    flock /tmp/heavy.lock .venv/bin/python benchmarks/serve_speed.py RUN_DIR --calls 8
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.comparison.generation import GenerationSettings, generate  # noqa: E402
from workbench.rundir import RunDir  # noqa: E402
from workbench.shipping.merged import eval_prompts, prompts_of  # noqa: E402
from workbench.shipping.serve import LocalServer, free_port, serve_target  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path, help="a run after `workbench export`")
    parser.add_argument("--calls", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=160)
    args = parser.parse_args()

    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = RunDir(args.run_dir).export_merged_dir
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    prompts = prompts_of(eval_prompts(args.run_dir, max_prompts=args.calls))
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens)
    rows = {"in-process generate": [], "workbench serve (HTTP)": []}  # (seconds, tokens)
    same = 0
    with LocalServer(serve_target(args.run_dir, port=free_port())) as server:
        server.chat(prompts[0], max_tokens=4)  # both warm up once
        generate(model, tokenizer, prompts[:1], settings=GenerationSettings(max_new_tokens=4))
        for prompt in prompts:
            t0 = time.perf_counter()
            answer = generate(model, tokenizer, [prompt], settings=settings)[0]
            seconds = time.perf_counter() - t0
            rows["in-process generate"].append(
                (seconds, len(tokenizer(answer, add_special_tokens=False)["input_ids"]))
            )
            t0 = time.perf_counter()
            response = server.chat(prompt, max_tokens=args.max_new_tokens)
            seconds = time.perf_counter() - t0
            rows["workbench serve (HTTP)"].append((seconds, response["usage"]["completion_tokens"]))
            same += response["choices"][0]["message"]["content"].strip() == answer.strip()

    base = None
    print(
        f"\n{len(prompts)} prompts, greedy, at most {args.max_new_tokens} new tokens; "
        f"served answers equal to in-process: {same}/{len(prompts)}\n"
    )
    print("| variant | median s/call | tokens/s | x in-process time |")
    print("|---|---:|---:|---:|")
    for name, measured in rows.items():
        median = statistics.median(s for s, _ in measured)
        rate = sum(t for _, t in measured) / sum(s for s, _ in measured)
        base = base or median
        print(f"| {name} | {median:.2f} | {rate:.1f} | {median / base:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
